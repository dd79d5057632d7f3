"""Tenant resolution: the tenant model, a tenant to its id, and an id back to a tenant."""

from __future__ import annotations

import uuid
from time import monotonic
from typing import Any, Dict, Optional, Set, Tuple

from django.core.cache import caches

from . import conf
from .conf import get_config
from .exceptions import ImproperlyConfigured, TenantNotFound

MAX_TENANT_ID_LENGTH = 255


def get_tenant_model() -> Any:
    """Return the model named by ``OMNITENANT_CONFIG["TENANT_MODEL"]``.

    >>> get_tenant_model()
    <class 'tenants.models.Tenant'>
    """
    label = get_config().tenant_model
    if label is None and _omnitenant_installed():
        from importlib import import_module  # no hard dependency on django-omnitenant

        return import_module("django_omnitenant.utils").get_tenant_model()
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


def _omnitenant_installed() -> bool:
    from django.apps import apps

    return apps.apps_ready and apps.is_installed("django_omnitenant")


def tenant_id_of(value: Any, *, what: str = "tenant_id") -> Optional[str]:
    """Return the header value for ``value``: a non-empty id string, or ``None`` for "no tenant".

    Accepts ``None``, a non-empty ``str``, an ``int`` and a tenant instance
    (a Django model instance with the ``TENANT_ID_FIELD`` attribute); anything
    else raises ``TypeError``/``ValueError`` naming it. Runs on every publish:
    an id or a tenant class seen before costs one set lookup, not the checks.
    """
    if value is None:
        return None
    cls = value.__class__
    if cls is str:
        return value if value in _valid_ids or is_tenant_id(value) else _checked(value, what)
    if cls in _tenant_classes:
        raw = getattr(value, (conf._cached or get_config()).tenant_id_field, _NO_FIELD)
        if raw.__class__ is str and raw in _valid_ids:
            return raw
    return _id_of_other(value, what)


def is_tenant_id(value: Any) -> bool:
    """True for what a tenant header may hold: a non-empty printable ``str`` of at most
    ``MAX_TENANT_ID_LENGTH`` characters, not all blank."""
    if value.__class__ is not str:
        return False
    if value in _valid_ids:
        return True
    if 0 < len(value) <= MAX_TENANT_ID_LENGTH and value.isprintable() and not value.isspace():
        if len(_valid_ids) < _MEMO_SIZE:
            _valid_ids.add(value)
        return True
    return False


def _id_of_other(value: Any, what: str) -> Optional[str]:
    cls = value.__class__
    if cls is int:
        return str(value)
    field = (conf._cached or get_config()).tenant_id_field
    if isinstance(value, _model_base()):
        raw = getattr(value, field, _NO_FIELD)
        if raw is not _NO_FIELD:
            if isinstance(raw, bool) or not isinstance(raw, (str, int)):
                raise ValueError(
                    f"{what}: tenant {value!r} has {field}={raw!r}; "
                    f"it must be a non-empty str or an int"
                )
            _tenant_classes.add(cls)
            raw = str(raw)
            return raw if is_tenant_id(raw) else _checked(raw, what)
    if isinstance(value, str):
        return _checked(str(value), what)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise TypeError(
        f"{what}={value!r} ({type(value).__name__}) is not a tenant: pass a non-empty str, "
        f"an int, a tenant instance (with a {field!r} field) or None"
    )


# Publishing checks the same few ids over and over: remember the ones found valid, and
# the tenant model classes, so that the next time is one set lookup. Ids are immutable
# and the checks never change, so nothing here goes stale; the size bound only stops a
# project with unbounded ids from growing it.
_MEMO_SIZE = 10_000
_valid_ids: Set[str] = set()
_tenant_classes: Set[type] = set()

_NO_FIELD = object()
_model_class: Any = None


def _model_base() -> Any:
    global _model_class
    if _model_class is None:
        from django.db.models import Model

        _model_class = Model
    return _model_class


def _checked(value: str, what: str) -> str:
    if not value.isprintable():
        raise ValueError(f"{what}={value[:40]!r} holds control characters; tenant ids cannot")
    if not value.strip():
        raise ValueError(f"{what}={value!r} is empty; pass a tenant id or None for no tenant")
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise ValueError(
            f"{what}={value[:40]!r}... is {len(value)} characters long; "
            f"tenant ids are at most {MAX_TENANT_ID_LENGTH}"
        )
    return value


def lookup_tenant(tenant_id: str, *, task_name: str = "?") -> Any:
    """Return the tenant whose ``TENANT_ID_FIELD`` is ``tenant_id``; else ``TenantNotFound``.

    A worker keeps what it looked up for ``CACHE["TTL"]`` seconds, so a warm
    worker runs no tenant query per task. Saving or deleting a tenant drops
    every process's copy at once: the ``post_save``/``post_delete`` receivers
    bump a generation in the Django cache ``CACHE["ALIAS"]``, which each
    lookup compares (one cache read, no query). Across processes that needs a
    shared cache backend (Redis, Memcached, file, database); with the
    per-process ``LocMemCache`` only the process that saved sees the change
    before the TTL ends. Unknown ids are never cached: they fail closed.
    """
    config = conf._cached or get_config()
    entry = _cache.get(tenant_id)
    fresh = entry is not None and entry[1] > monotonic()
    if fresh and _shared_alias is None:  # this process's receivers drop what changed
        return entry[0]
    if not config.cache_ttl:
        return _query(tenant_id, task_name, config)
    generation = _generation(config)
    if fresh and generation is not _UNKNOWN and generation == entry[2]:
        return entry[0]
    if not _connected:
        _connect_invalidation()
    tenant = _query(tenant_id, task_name, config)
    _cache[tenant_id] = (tenant, monotonic() + config.cache_ttl, generation)
    return tenant


def _query(tenant_id: str, task_name: str, config: Any) -> Any:
    from django.core.exceptions import ValidationError

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


# tenant id -> (tenant, expires at (monotonic), generation it was read under)
_cache: Dict[str, Tuple[Any, float, Any]] = {}
_GENERATION_KEY = "omnitenant_patch:tenants:generation"
_UNKNOWN = object()  # the shared generation could not be read: never trust the local copy
_connected = False


def _generation(config: Any) -> Any:
    """The shared cache's generation; ``None`` with no shared cache, ``_UNKNOWN`` if unreadable."""
    global _shared_alias
    alias = _shared_alias
    if alias is _UNRESOLVED:
        alias = _shared_alias = _find_shared_alias(config)
    if alias is None:
        return None
    try:
        return caches[alias].get(_GENERATION_KEY)
    except Exception:
        return _UNKNOWN


_UNRESOLVED = object()
_shared_alias: Any = _UNRESOLVED


def _find_shared_alias(config: Any) -> Optional[str]:
    """The cache alias to read the generation from; None for a per-process LocMemCache,
    where the post_save/post_delete receivers already clear this process's copies."""
    if config.cache_alias is None:
        return None
    from django.core.cache.backends.locmem import LocMemCache

    return None if isinstance(caches[config.cache_alias], LocMemCache) else config.cache_alias


def invalidate_tenants(**_: Any) -> None:
    """Drop every cached tenant here, and (through the shared cache) in every worker."""
    _cache.clear()
    alias = get_config().cache_alias
    if alias is not None:
        caches[alias].set(_GENERATION_KEY, uuid.uuid4().hex, None)


def _connect_invalidation() -> None:
    """Connect the tenant model's save/delete to ``invalidate_tenants`` (once; idempotent)."""
    global _connected
    if _connected:
        return
    from django.db.models.signals import post_delete, post_save

    model = get_tenant_model()
    post_save.connect(invalidate_tenants, sender=model, weak=False,
                      dispatch_uid="omnitenant_patch.invalidate_tenants.save")
    post_delete.connect(invalidate_tenants, sender=model, weak=False,
                        dispatch_uid="omnitenant_patch.invalidate_tenants.delete")
    _connected = True


def _reset(**_: Any) -> None:
    global _connected, _shared_alias
    _cache.clear()
    _connected = False
    _shared_alias = _UNRESOLVED


def _connect_setting_changed() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_reset, dispatch_uid="omnitenant_patch.tenants.reset")


_connect_setting_changed()
