"""omnitenant_patch: every Celery task runs in the tenant that queued it.

One line in ``settings.py``::

    from omnitenant_patch import patch_celery
    patch_celery()
"""

from .backends import get_tenant_model
from .backends.base import TenantBackend
from .context import TenantContext
from .exceptions import (
    ImproperlyConfigured,
    InvalidTenantHeader,
    OmnitenantError,
    TenantNotFound,
    TenantRequired,
    TenantSignatureError,
    UnsupportedCeleryVersion,
)
from .fanout import for_each_tenant
from .install import is_patched, patch_celery, tenant_agnostic, unpatch_celery
from .log import TenantFilter

__version__ = "0.3.0"

__all__ = [
    "ImproperlyConfigured",
    "InvalidTenantHeader",
    "OmnitenantError",
    "TenantBackend",
    "TenantContext",
    "TenantFilter",
    "TenantNotFound",
    "TenantRequired",
    "TenantSignatureError",
    "UnsupportedCeleryVersion",
    "for_each_tenant",
    "get_tenant_model",
    "is_patched",
    "patch_celery",
    "tenant_agnostic",
    "unpatch_celery",
]
