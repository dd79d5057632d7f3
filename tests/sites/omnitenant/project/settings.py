"""A django-omnitenant 1.x site, set up as its docs say, with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os
from pathlib import Path

# django-omnitenant routes the apps under BASE_DIR ("custom apps"): this site's customers
# app and the shared notes app (tests/sites/notes).
BASE_DIR = Path(__file__).resolve().parents[2]

SECRET_KEY = "omnitenant-site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "project.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",  # before django_omnitenant (its database engine imports auth)
    "django_omnitenant",
    "omnitenant_patch",
    "customers",
    "notes",
]
MIDDLEWARE = ["django_omnitenant.middleware.TenantMiddleware"]

DATABASES = {
    "default": {
        "ENGINE": "django_omnitenant.backends.postgresql",
        "NAME": os.environ.get("SITE_DB", "omnitenant_site"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None if os.environ.get("SITE_CONN_MAX_AGE") == "None"
        else int(os.environ.get("SITE_CONN_MAX_AGE", "0")),
    }
}
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

OMNITENANT_CONFIG = {
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "localhost",
    "PUBLIC_DB_ALIAS": "default",
    "MASTER_DB_ALIAS": "default",
}

CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_BROKER", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The patch: django-omnitenant's way (its PATCHES list), or the one line ("none": neither,
# to prove no scenario passes without it).
if os.environ.get("SITE_PATCH") == "patches":
    OMNITENANT_CONFIG["PATCHES"] = ["omnitenant_patch.patches.celery"]
elif os.environ.get("SITE_PATCH") != "none":
    from omnitenant_patch import patch_celery

    patch_celery()
