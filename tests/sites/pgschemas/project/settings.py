"""A django-pgschemas site, set up as its docs say, with the one line at the end: the public
schema, a static tenant ``www`` and dynamic tenants (rows of ``tenants.Tenant``).

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""


import os

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

# django-pgschemas docs: Basic › Database configuration (ENGINE)
DATABASES = {"default": database("django_pgschemas.postgresql", "pgschemas_site")}
# Django docs: Multiple databases (a read replica: the same database through a second alias, on
# the library's engine); test plumbing: SITE_REPLICA=1 runs the suite with one.
if os.environ.get("SITE_REPLICA") == "1":
    DATABASES["replica"] = database("django_pgschemas.postgresql", "pgschemas_site")
# django-pgschemas docs: Basic › Database configuration (DATABASE_ROUTERS)
DATABASE_ROUTERS = ("django_pgschemas.routers.TenantAppsRouter",)

TENANTS = {
    # django-pgschemas docs: Basic › Database configuration (the minimal tenant configuration's
    # public APPS); Troubleshooting › Content types (contenttypes in public only)
    "public": {
        "APPS": [
            "django.contrib.contenttypes",
            "django.contrib.staticfiles",
            "django_pgschemas",
            "tenants",
            "omnitenant_patch",  # omnitenant_patch README: Django integration (system checks)
        ],
    },
    # django-pgschemas docs: Basic › Creating tenants (a static tenant); Routing › Domain routing
    # (its DOMAINS); Troubleshooting › Session leaking (the user app and the session app together)
    "www": {
        "APPS": ["django.contrib.auth", "django.contrib.sessions", "notes"],
        "DOMAINS": ["example.test"],
        "URLCONF": "project.urls",
    },
    # django-pgschemas docs: Basic › Database configuration (every dynamic tenant); Routing ›
    # Domain routing (DOMAIN_MODEL); Troubleshooting › Session leaking (auth with sessions)
    "default": {
        "TENANT_MODEL": "tenants.Tenant",
        "DOMAIN_MODEL": "tenants.Domain",
        "APPS": ["django.contrib.auth", "django.contrib.sessions", "notes"],
        "URLCONF": "project.urls",
    },
}
# django-pgschemas docs: Basic › Database configuration ("INSTALLED_APPS and ROOT_URLCONF ...
# get their information from the TENANTS dictionary")
INSTALLED_APPS = []
for schema in TENANTS:
    INSTALLED_APPS += [app for app in TENANTS[schema]["APPS"] if app not in INSTALLED_APPS]
ROOT_URLCONF = TENANTS["default"]["URLCONF"]

MIDDLEWARE = [
    # django-pgschemas docs: Routing › Domain routing (DomainRoutingMiddleware at the top)
    "django_pgschemas.routing.middleware.DomainRoutingMiddleware",
    # omnitenant_patch README: Django integration (after the library's own)
    "omnitenant_patch.middleware.TenantMiddleware",
]


tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()  # omnitenant_patch README: the one line
tracing("after")
