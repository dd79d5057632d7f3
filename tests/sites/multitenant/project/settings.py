"""A django-multitenant site (row-level tenancy on plain PostgreSQL), set up as its docs say,
with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os

SECRET_KEY = "multitenant-site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "project.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_multitenant",
    "omnitenant_patch",
    "accounts",
    "notes",
]
MIDDLEWARE = ["accounts.middleware.MultitenantMiddleware"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("SITE_DB", "multitenant_site"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None if os.environ.get("SITE_CONN_MAX_AGE") == "None"
        else int(os.environ.get("SITE_CONN_MAX_AGE", "0")),
    }
}

CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_BROKER", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if os.environ.get("SITE_PATCH") != "none":  # "none" proves no scenario passes without it
    from omnitenant_patch import patch_celery

    patch_celery()
