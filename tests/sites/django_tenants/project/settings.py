"""A django-tenants site, set up as its docs say, with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""


from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

SHARED_APPS = [
    "django_tenants",
    "customers",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "omnitenant_patch",
]
TENANT_APPS = ["django.contrib.contenttypes", "notes"]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"

DATABASES = {"default": database("django_tenants.postgresql_backend", "django_tenants_site")}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware",
              "omnitenant_patch.middleware.TenantMiddleware"]

CELERY_TASK_TENANT_CACHE_SECONDS = 30  # tenant-schemas-celery's cache, when its app is used

tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()
tracing("after")
