"""Choosing the tenancy backend: ``OMNITENANT_CONFIG["BACKEND"]``.

``"auto"`` (default) takes the first tenancy library in ``BACKENDS`` that is
installed and configured, and the built-in store otherwise; a name from
``BACKENDS`` forces one; a dotted path names a user's own ``TenantBackend``
subclass. The choice is made once per settings (``state`` forgets it when a
setting it read changes).
"""

from __future__ import annotations

from typing import Any, Dict, Type

from django.utils.module_loading import import_string

from ..conf import get_config
from ..exceptions import ImproperlyConfigured
from ..state import STATE
from .base import TenantBackend
from .builtin import BuiltinBackend

#: Known backends by name, in the order ``"auto"`` tries them.
BACKENDS: Dict[str, str] = {
    "django_omnitenant": "omnitenant_patch.backends.omnitenant.OmnitenantBackend",
    "django_tenants": "omnitenant_patch.backends.django_tenants.DjangoTenantsBackend",
    "django_pgschemas": "omnitenant_patch.backends.pgschemas.PgSchemasBackend",
    "django_multitenant": "omnitenant_patch.backends.multitenant.MultitenantBackend",
    "omnitenant_patch": "omnitenant_patch.backends.builtin.BuiltinBackend",
}

__all__ = ["BACKENDS", "TenantBackend", "active_backend", "backend_class", "get_tenant_model"]


def active_backend() -> TenantBackend:
    """The backend in use (resolved once per settings)."""
    backend = STATE.backend
    if backend is None:
        cls = backend_class(get_config().backend)
        if cls is None:  # "auto" while Django's apps are still loading: decide later
            return _BOOTSTRAP
        backend = cls()
        STATE.watch(*cls.settings)
        STATE.backend = backend
        if STATE.installed and STATE.adopt is not None:
            STATE.adopt(backend)
    return backend


def backend_class(choice: str) -> Type[TenantBackend] | None:
    """The class ``BACKEND`` names; ``None`` before the app registry is ready (settings still
    loading: the backends read models)."""
    from django.apps import apps

    if not apps.ready:
        return None
    if choice == "auto":
        for path in BACKENDS.values():
            cls = _load(path, "BACKEND")
            if cls.is_available():
                return cls
        return BuiltinBackend
    return _load(BACKENDS.get(choice, choice), "BACKEND")


def _load(path: str, key: str) -> Type[TenantBackend]:
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG[{key!r}] = {path!r}: not a backend name '
            f'({", ".join(BACKENDS)}) nor an importable class ({exc})'
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, TenantBackend)):
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG[{key!r}] = {path!r} is not a TenantBackend subclass'
        )
    return cls


_BOOTSTRAP = BuiltinBackend()


def get_tenant_model() -> Any:
    """The tenant model of the active backend.

    >>> get_tenant_model()
    <class 'tenants.models.Tenant'>
    """
    return active_backend().tenant_model()
