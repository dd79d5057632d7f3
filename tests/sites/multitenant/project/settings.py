"""A django-multitenant site (row-level tenancy on plain PostgreSQL), set up as its docs say,
with the one line at the end.

Everything that differs between runs comes from SITE_* variables, so the test process
and each `celery worker` read the same file.
"""

import os

from sitekit.settings import *  # noqa: F403  (secret, database(), Celery on Redis)
from sitekit.settings import PATCHED, database, tracing

# django-multitenant docs (README, Installation): `pip install django_multitenant` is all; no
# page asks for an INSTALLED_APPS entry. SITE_MULTITENANT_APP=1 adds one, as its own test
# settings do: the patch must find the library either way.
INSTALLED_APPS = [
    *(["django_multitenant"] if os.environ.get("SITE_MULTITENANT_APP") == "1" else []),
    "omnitenant_patch",  # omnitenant_patch README: Django integration (system checks)
    "accounts",  # django-multitenant docs: Usage (the tenant model, a TenantModel)
    "notes",  # django-multitenant docs: Usage (models with the tenant's column)
]
MIDDLEWARE = [
    # django-multitenant docs: Usage ("write authentication logic using a middleware which also
    # sets/unsets a tenant for each session/request")
    "accounts.middleware.MultitenantMiddleware",
    # omnitenant_patch README: Django integration (after the library's own)
    "omnitenant_patch.middleware.TenantMiddleware",
]

# django-multitenant docs: Usage (plain PostgreSQL; its engine is only for Citus' composite keys)
DATABASES = {"default": database("django.db.backends.postgresql", "multitenant_site")}


tracing("before")
if PATCHED:
    from omnitenant_patch import patch_celery

    patch_celery()  # omnitenant_patch README: the one line
tracing("after")
