"""A django-pgschemas site, set up as its docs say, with the one line at the end: the public
schema, a static tenant ``www`` and dynamic tenants (rows of ``tenants.Tenant``).

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""


from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

DATABASES = {"default": database("django_pgschemas.postgresql", "pgschemas_site")}
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
MIDDLEWARE = ["django_pgschemas.routing.middleware.DomainRoutingMiddleware",
              "omnitenant_patch.middleware.TenantMiddleware"]


tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()
tracing("after")
