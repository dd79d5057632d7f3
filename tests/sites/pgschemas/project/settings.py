"""A django-pgschemas site, set up as its docs say, with the one line at the end: the public
schema, a static tenant ``www`` and dynamic tenants (rows of ``tenants.Tenant``).

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os

SECRET_KEY = "pgschemas-site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django_pgschemas.postgresql",
        "NAME": os.environ.get("SITE_DB", "pgschemas_site"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None if os.environ.get("SITE_CONN_MAX_AGE") == "None"
        else int(os.environ.get("SITE_CONN_MAX_AGE", "0")),
    }
}
DATABASE_ROUTERS = ("django_pgschemas.routers.TenantAppsRouter",)

TENANTS = {
    "public": {
        "APPS": ["django.contrib.contenttypes", "django_pgschemas", "tenants", "omnitenant_patch"],
    },
    "www": {  # a static tenant, with its own notes
        "APPS": ["django.contrib.contenttypes", "django.contrib.sessions", "notes"],
        "DOMAINS": ["example.test"],
        "URLCONF": "project.urls",
    },
    "default": {  # every dynamic tenant
        "TENANT_MODEL": "tenants.Tenant",
        "DOMAIN_MODEL": "tenants.Domain",
        "APPS": ["django.contrib.contenttypes", "django.contrib.sessions", "notes"],
        "URLCONF": "project.urls",
    },
}
INSTALLED_APPS = []
for _schema in TENANTS.values():
    INSTALLED_APPS += [app for app in _schema["APPS"] if app not in INSTALLED_APPS]
ROOT_URLCONF = "project.urls"
MIDDLEWARE = ["django_pgschemas.routing.middleware.DomainRoutingMiddleware"]

CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_BROKER", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if os.environ.get("SITE_PATCH") != "none":  # "none" proves no scenario passes without it
    from omnitenant_patch import patch_celery

    patch_celery()
