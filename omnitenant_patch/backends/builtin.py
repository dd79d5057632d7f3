"""The built-in store: the tenant lives in a context variable; tenants are rows of ``TENANT_MODEL``.

For projects without a tenancy library (the tenant scopes their own queries).
Context variables are per thread and per greenlet, and every ``enter`` is undone
with its own token, so prefork and solo workers, which run tasks back to back in
one thread, never carry a tenant from one task into the next.
"""

from __future__ import annotations

import contextvars
from typing import Any, Optional

from ..conf import get_config
from ..exceptions import ImproperlyConfigured
from ..state import STATE
from .base import TenantBackend

_current: contextvars.ContextVar[Optional[Any]] = contextvars.ContextVar(
    "omnitenant_current_tenant", default=None
)


class BuiltinBackend(TenantBackend):
    """``OMNITENANT_CONFIG["TENANT_MODEL"]`` looked up by ``TENANT_ID_FIELD``."""

    name = "omnitenant_patch"

    def __init__(self) -> None:
        # Read on every publish and task: the context variable's own methods, no Python frame.
        self.current = _current.get  # type: ignore[method-assign]
        self.enter = _current.set  # type: ignore[method-assign, assignment]
        self.leave = _current.reset  # type: ignore[method-assign, assignment]
        config = STATE.config  # None for the stand-in used while settings still load
        self.id_attribute = None if config is None else config.tenant_id_field

    @classmethod
    def is_available(cls) -> bool:
        return True

    def current(self) -> Optional[Any]:
        return _current.get()

    def enter(self, tenant: Optional[Any]) -> Any:
        return _current.set(tenant)

    def leave(self, token: Any) -> None:
        _current.reset(token)

    def lookup(self, tenant_id: str) -> Any:
        return self.fetch(self.tenant_model()._default_manager, tenant_id,
                          **{get_config().tenant_id_field: tenant_id})

    def id_of(self, tenant: Any) -> Any:
        field = get_config().tenant_id_field
        try:
            return getattr(tenant, field)
        except AttributeError:
            raise TypeError(f"tenant {tenant!r} has no {field!r} (TENANT_ID_FIELD)") from None

    def is_tenant(self, value: Any) -> bool:
        from django.db.models import Model

        return isinstance(value, Model) and hasattr(value, get_config().tenant_id_field)

    def tenant_model(self) -> Any:
        label = get_config().tenant_model
        if label is None:
            raise ImproperlyConfigured(
                'OMNITENANT_CONFIG["TENANT_MODEL"] is not set; workers need it to look tenants '
                'up (e.g. "tenants.Tenant"), or install a tenancy library omnitenant_patch knows'
            )
        from django.apps import apps

        try:
            return apps.get_model(label, require_ready=False)
        except (LookupError, ValueError) as exc:
            raise ImproperlyConfigured(
                f'OMNITENANT_CONFIG["TENANT_MODEL"] = {label!r} is not an installed model: {exc}'
            ) from None

    def check(self) -> list:
        from django.core import checks

        try:
            model = self.tenant_model()
        except ImproperlyConfigured as exc:
            return [checks.Error(str(exc), id="omnitenant.E001",
                                 hint='Set OMNITENANT_CONFIG["TENANT_MODEL"] = "app_label.Model".')]
        field = get_config().tenant_id_field
        try:
            model._meta.get_field(field)
        except Exception:
            return [checks.Error(
                f"tenant model {model._meta.label} has no field {field!r}",
                id="omnitenant.E002",
                hint='Set OMNITENANT_CONFIG["TENANT_ID_FIELD"] to the field tenant ids are in.',
            )]
        return []
