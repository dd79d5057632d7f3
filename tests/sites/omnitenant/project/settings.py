"""A django-omnitenant 1.x site, set up as its docs say, with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os
from pathlib import Path

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

# django-omnitenant routes the apps under BASE_DIR ("custom apps"): this site's customers
# app and the shared notes app (tests/sites/notes).
BASE_DIR = Path(__file__).resolve().parents[2]


INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",  # before django_omnitenant (its database engine imports auth)
    "django_omnitenant",
    "omnitenant_patch",
    "customers",
    "notes",
]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware",
              "omnitenant_patch.middleware.TenantMiddleware"]

DATABASES = {"default": database("django_omnitenant.backends.postgresql", "omnitenant_site")}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

OMNITENANT_CONFIG = {
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "localhost",
    "PUBLIC_DB_ALIAS": "default",
    "MASTER_DB_ALIAS": "default",
}


# The patch: django-omnitenant's way (its PATCHES list), or the one line ("none": neither,
# to prove no scenario passes without it).
tracing("before")
if os.environ.get("SITE_PATCH") == "patches":
    OMNITENANT_CONFIG["PATCHES"] = ["omnitenant_patch.patches.celery"]
elif PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()
tracing("after")
