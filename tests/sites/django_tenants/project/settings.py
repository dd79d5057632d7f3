"""A django-tenants site, set up as its docs say, with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import BEAT, PATCHED, beat_schedule, database, tracing

# django-tenants docs: Installation › Configure Tenant and Shared Applications. Its sample's
# "everything below here is optional" apps (auth, sessions, sites, messages, admin) are left
# out: django-tenants works without them and nothing here uses them.
SHARED_APPS = [
    "django_tenants",  # mandatory
    "customers",  # you must list the app where your tenant model resides in
    "django.contrib.contenttypes",
    "omnitenant_patch",  # omnitenant_patch README: Django integration (system checks)
]
TENANT_APPS = [
    # django-tenants docs: Examples › Tenant Tutorial (contenttypes also in TENANT_APPS)
    "django.contrib.contenttypes",
    "notes",  # django-tenants docs: Installation › Configure ... Applications (tenant-specific)
]
if BEAT:  # django-celery-beat docs: Installation (INSTALLED_APPS); django-tenants docs:
    # Installation › Configure Tenant and Shared Applications: in both lists, so that the shared
    # schema holds the schedule's rows and each tenant's schema its own
    SHARED_APPS.append("django_celery_beat")
    TENANT_APPS.append("django_celery_beat")
    CELERY_BEAT_SCHEDULE = beat_schedule()
# django-tenants docs: Installation › Configure Tenant and Shared Applications (verbatim)
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]
# django-tenants docs: Installation › Configure Tenant and Shared Applications (models)
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"

# django-tenants docs: Installation › Basic Settings (DATABASE ENGINE)
DATABASES = {"default": database("django_tenants.postgresql_backend", "django_tenants_site")}
# Django docs: Multiple databases (a read replica: the same database through a second alias, on
# the library's engine); test plumbing: SITE_REPLICA=1 runs the suite with one.
if os.environ.get("SITE_REPLICA") == "1":
    DATABASES["replica"] = database("django_tenants.postgresql_backend", "django_tenants_site")
# django-tenants docs: Installation › Basic Settings (DATABASE_ROUTERS)
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
MIDDLEWARE = [
    # django-tenants docs: Installation › Basic Settings (middleware at the top)
    "django_tenants.middleware.main.TenantMainMiddleware",
    # omnitenant_patch README: Django integration (after the library's own)
    "omnitenant_patch.middleware.TenantMiddleware",
]
# django-tenants docs: Installation › Basic Settings ("Make sure you have
# django.template.context_processors.request listed ... otherwise the tenant will not be
# available on request")
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

if os.environ.get("SITE_CELERY") == "tenant-schemas-celery":
    # tenant-schemas-celery docs: README › Tenant objects cache (opt-in, default 0): the site
    # that has not finished moving off tenant-schemas-celery runs with it on, as such sites do.
    CELERY_TASK_TENANT_CACHE_SECONDS = 30

tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()  # omnitenant_patch README: the one line
tracing("after")
