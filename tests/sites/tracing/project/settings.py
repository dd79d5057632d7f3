"""A site that also runs a tracing integration, initialised in settings before or after the one
line: SITE_TRACING = "<sentry|otel|ddtrace>-<before|after>". No tenancy library: the built-in
backend, tenants in PostgreSQL. Telemetry goes to the file SITE_TELEMETRY_FILE, one JSON line per
span or transaction, from every process.
"""

import os

SECRET_KEY = "tracing-site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "omnitenant_patch", "tenants", "probes"]
MIDDLEWARE = ["omnitenant_patch.middleware.TenantMiddleware"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("SITE_DB", "tracing_site"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": int(os.environ.get("SITE_CONN_MAX_AGE", "0") or 0),
    }
}
OMNITENANT_CONFIG = {"TENANT_MODEL": "tenants.Tenant"}

CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_BROKER", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

from project import telemetry  # noqa: E402

_integration, _, _order = os.environ.get("SITE_TRACING", "sentry-after").partition("-")
if _order == "before":
    telemetry.init(_integration)
if os.environ.get("SITE_PATCH") != "none":  # "none" proves no scenario passes without it
    from omnitenant_patch import patch_celery

    patch_celery()
if _order == "after":
    telemetry.init(_integration)
