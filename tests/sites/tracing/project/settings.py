"""A site that also runs a tracing integration, initialised in settings before or after the one
line: SITE_TRACING = "<sentry|otel|ddtrace>-<before|after>". No tenancy library: the built-in
backend, tenants in PostgreSQL, and an in-house row-level layer (the notes app's manager reads the
rows of ``TenantContext``'s tenant). Telemetry goes to the file SITE_TELEMETRY_FILE, one JSON line
per span or transaction, from every process.
"""

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

INSTALLED_APPS = [
    "omnitenant_patch",  # omnitenant_patch README: Django integration
    "tenants",  # omnitenant_patch README: Settings › TENANT_MODEL (the project's tenant model)
    "notes",  # the project's tenant rows (row-level, filtered by TenantContext's tenant)
    "probes",  # the site's probe tasks
]
# omnitenant_patch README: Django integration (TenantMiddleware; no tenancy library before it)
MIDDLEWARE = ["omnitenant_patch.middleware.TenantMiddleware"]

# omnitenant_patch README: the built-in backend needs no particular engine ("or none")
DATABASES = {"default": database("django.db.backends.postgresql", "tracing_site")}
OMNITENANT_CONFIG = {
    # omnitenant_patch README: Settings › TENANT_MODEL (looked up by TENANT_ID_FIELD, its
    # default "tenant_id")
    "TENANT_MODEL": "tenants.Tenant",
    # omnitenant_patch README: Django integration / Settings › MIDDLEWARE.RESOLVER and
    # SUBDOMAIN_BASE (acme.example.test is acme's)
    "MIDDLEWARE": {"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "example.test"},
}


# Where each integration is set up: see sitekit.telemetry (its docs' lines, and which order).
tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()  # omnitenant_patch README: the one line
tracing("after")
