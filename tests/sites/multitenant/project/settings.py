"""A django-multitenant site (row-level tenancy on plain PostgreSQL), set up as its docs say,
with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""


from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_multitenant",
    "omnitenant_patch",
    "accounts",
    "notes",
]
MIDDLEWARE = ["accounts.middleware.MultitenantMiddleware",
              "omnitenant_patch.middleware.TenantMiddleware"]

DATABASES = {"default": database("django.db.backends.postgresql", "multitenant_site")}


tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()
tracing("after")
