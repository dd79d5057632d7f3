"""A site that also runs a tracing integration, initialised in settings before or after the one
line: SITE_TRACING = "<sentry|otel|ddtrace>-<before|after>". No tenancy library: the built-in
backend, tenants in PostgreSQL. Telemetry goes to the file SITE_TELEMETRY_FILE, one JSON line per
span or transaction, from every process.
"""

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

INSTALLED_APPS = ["django.contrib.contenttypes", "omnitenant_patch", "tenants", "probes"]
MIDDLEWARE = ["omnitenant_patch.middleware.TenantMiddleware"]

DATABASES = {"default": database("django.db.backends.postgresql", "tracing_site")}
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "tenants.Tenant",
    "MIDDLEWARE": {"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "example.test"},
}


tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()
tracing("after")
