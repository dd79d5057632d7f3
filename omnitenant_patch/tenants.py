"""Tenant resolution: the tenant model, a tenant to its id, and an id back to a tenant."""

from __future__ import annotations

from typing import Any, Optional

from .conf import get_config
from .exceptions import ImproperlyConfigured, TenantNotFound

MAX_TENANT_ID_LENGTH = 255


def get_tenant_model() -> Any:
    """Return the model named by ``OMNITENANT_CONFIG["TENANT_MODEL"]``.

    >>> get_tenant_model()
    <class 'tenants.models.Tenant'>
    """
    label = get_config().tenant_model
    if label is None:
        raise ImproperlyConfigured(
            'OMNITENANT_CONFIG["TENANT_MODEL"] is not set; workers need it to look tenants up '
            '(e.g. "tenants.Tenant")'
        )
    from django.apps import apps

    try:
        return apps.get_model(label, require_ready=False)
    except (LookupError, ValueError) as exc:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["TENANT_MODEL"] = {label!r} is not an installed model: {exc}'
        ) from None


def tenant_id_of(value: Any, *, what: str = "tenant_id") -> Optional[str]:
    """Return the header value for ``value``: a non-empty id string, or ``None`` for "no tenant".

    Accepts ``None``, a non-empty ``str``, an ``int`` and a tenant instance
    (anything with the ``TENANT_ID_FIELD`` attribute that is a Django model
    instance); anything else raises ``TypeError``/``ValueError`` naming it.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return _checked(value, what)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    field = get_config().tenant_id_field
    if _is_model_instance(value) and hasattr(value, field):
        raw = getattr(value, field)
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise ValueError(
                f"{what}: tenant {value!r} has {field}={raw!r}; "
                f"it must be a non-empty str or an int"
            )
        return _checked(str(raw), what)
    raise TypeError(
        f"{what}={value!r} ({type(value).__name__}) is not a tenant: pass a non-empty str, "
        f"an int, a tenant instance (with a {field!r} field) or None"
    )


def _checked(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what}={value!r} is empty; pass a tenant id or None for no tenant")
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise ValueError(
            f"{what}={value[:40]!r}... is {len(value)} characters long; "
            f"tenant ids are at most {MAX_TENANT_ID_LENGTH}"
        )
    return value


def _is_model_instance(value: Any) -> bool:
    from django.db.models import Model

    return isinstance(value, Model)


def lookup_tenant(tenant_id: str, *, task_name: str = "?") -> Any:
    """Return the tenant whose ``TENANT_ID_FIELD`` is ``tenant_id``; else ``TenantNotFound``."""
    from django.core.exceptions import ValidationError

    config = get_config()
    model = get_tenant_model()
    try:
        return model._default_manager.get(**{config.tenant_id_field: tenant_id})
    except (model.DoesNotExist, ValueError, ValidationError):
        # ValueError/ValidationError: an id that cannot even be a value of the field
        # (a word for an integer key) names no tenant either.
        raise TenantNotFound(
            f"tenant {tenant_id!r} does not exist (header {config.header!r} on task {task_name}); "
            f"create it or stop queueing for it",
            tenant_id=tenant_id,
            header=config.header,
            task_name=task_name,
        ) from None
