"""A django-omnitenant 1.x site, set up as its docs say, with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os
from pathlib import Path

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import BEAT, PATCHED, beat_schedule, database, tracing

# django-omnitenant docs: API › Utils › get_custom_apps ("Include only apps whose path starts with
# BASE_DIR": those are the project's, routed to the tenants); Django's startproject value.
BASE_DIR = Path(__file__).resolve().parents[1]


# django-omnitenant docs: README › Quick Start › 1. Add to INSTALLED_APPS (in its order). Its
# list also has django.contrib.admin: an example app django-omnitenant works without (its admin
# mixins are optional), left out here with what admin would need (sessions, messages, templates).
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_omnitenant",
    "omnitenant_patch",  # omnitenant_patch README: With django-omnitenant / Django integration
    # django-omnitenant docs: README › Quick Start › 1 and 3 ('myapp'): the app of the tenant
    # models, and the tenant data (this site's own notes app, with the docs' manager)
    "customers",
    "notes",
]
if BEAT:  # django-celery-beat docs: Installation (INSTALLED_APPS); an app outside BASE_DIR, which
    # django-omnitenant's router migrates into the master database and into every tenant
    INSTALLED_APPS.append("django_celery_beat")
    CELERY_BEAT_SCHEDULE = beat_schedule()
MIDDLEWARE = [
    # django-omnitenant docs: README › Quick Start › 4. Add Middleware
    "django_omnitenant.middleware.TenantMiddleware",
    # omnitenant_patch README: Django integration (after the library's own)
    "omnitenant_patch.middleware.TenantMiddleware",
]

# django-omnitenant docs: API › Backends › PostgreSQL › Base ("'ENGINE':
# 'django_omnitenant.backends.postgresql'"; schema isolation needs it, though Installation ›
# Database Configuration shows the plain engine)
DATABASES = {"default": database("django_omnitenant.backends.postgresql", "omnitenant_site")}
# django-omnitenant docs: README › Quick Start › 5. Configure Database Router
DATABASE_ROUTERS = ["django_omnitenant.routers.TenantRouter"]
# django-omnitenant docs: Installation › Cache Configuration › Local Cache (Development)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                      "LOCATION": "django-omnitenant-cache"}}

OMNITENANT_CONFIG = {
    # django-omnitenant docs: README › Quick Start › 2. Configure django-omnitenant, and
    # README › Configuration Reference › Required Settings
    "TENANT_MODEL": "customers.Tenant",
    "DOMAIN_MODEL": "customers.Domain",
    "PUBLIC_HOST": "localhost",  # its middleware compares hosts without the port
    "PUBLIC_TENANT_NAME": "public",
    "MASTER_TENANT_NAME": "master",
    "TENANT_RESOLVER": "django_omnitenant.resolvers.CustomDomainTenantResolver",
    # django-omnitenant docs: API › Configuration (conf.py: OMNITENANT_CONFIG['PUBLIC_DB_ALIAS'],
    # whose default 'public' names no database here; README › Optional Settings shows 'default')
    "PUBLIC_DB_ALIAS": "default",
    # django-omnitenant docs: API › Configuration / README › Optional Settings (its default)
    "MASTER_DB_ALIAS": "default",
}

# django-omnitenant docs: Installation › Celery Configuration (Optional) › Basic Setup
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"


# The patch: django-omnitenant's way (its PATCHES list), or the one line ("none": neither,
# to prove no scenario passes without it).
tracing("before")
if os.environ.get("SITE_PATCH") == "patches":
    # django-omnitenant docs: Installation › Celery Configuration (PATCHES list);
    # omnitenant_patch README: With django-omnitenant
    OMNITENANT_CONFIG["PATCHES"] = ["omnitenant_patch.patches.celery"]
elif PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()  # omnitenant_patch README: the one line
tracing("after")
