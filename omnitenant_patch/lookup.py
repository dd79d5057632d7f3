"""From a tenant id to a tenant, through the backend, with a per-process cache.

A worker keeps what it looked up for ``CACHE["TTL"]`` seconds, so a warm worker
runs no tenant query per task. Saving or deleting a tenant drops every process's
copy at once: the tenant model's ``post_save``/``post_delete`` bump a generation
in the Django cache ``CACHE["ALIAS"]``, which each lookup compares (one cache
read, no query). With Django's per-process ``LocMemCache`` only the process that
saved sees the change before the TTL ends. Unknown ids are never cached.

The cache is an optimisation and never a dependency: when it fails, the error is
logged once per outage, the database answers every lookup (no local copy is
trusted while the generation cannot be read), and saving or deleting a tenant
goes through; the missed invalidation is written when the cache answers again.
"""

from __future__ import annotations

import logging
import uuid
from time import monotonic
from typing import Any, Optional

from django.core.cache import caches

from .backends import active_backend
from .conf import get_config
from .exceptions import TenantNotFound
from .state import STATE, UNRESOLVED

logger = logging.getLogger("omnitenant_patch")

GENERATION_KEY = "omnitenant_patch:tenants:generation"
_UNREADABLE = object()  # the shared generation could not be read: trust no local copy


def lookup_tenant(tenant_id: str, *, task_name: str = "?", header: Optional[str] = None) -> Any:
    """Return the tenant with this id, from the shared store; else ``TenantNotFound`` naming the
    id, the header (``CELERY["HEADER"]`` unless another is named) and the task."""
    config = STATE.config or get_config()
    entry = STATE.tenants.get(tenant_id)
    fresh = entry is not None and entry[1] > monotonic()
    if fresh and STATE.shared_cache is None:  # this process's receivers drop what changed
        return entry[0]  # type: ignore[index]
    if not config.cache_ttl:
        return _query(tenant_id, task_name, header or config.header)
    generation = _generation(config)
    if fresh and generation is not _UNREADABLE and generation == entry[2]:  # type: ignore[index]
        return entry[0]  # type: ignore[index]
    tenant = _query(tenant_id, task_name, header or config.header)
    watch_tenant_model()
    STATE.tenants[tenant_id] = (tenant, monotonic() + config.cache_ttl, generation)
    return tenant


def invalidate_tenants(**_: Any) -> None:
    """Drop every cached tenant here, and (through the shared cache) in every process."""
    STATE.tenants.clear()
    alias = get_config().cache_alias
    if alias is not None:
        STATE.pending_bump = True
        _bump(alias)


def _query(tenant_id: str, task_name: str, header: str) -> Any:
    try:
        return (STATE.backend or active_backend()).lookup(tenant_id)
    except TenantNotFound as exc:
        raise TenantNotFound(
            f"{exc} (header {header!r} on task {task_name}); create it or stop queueing for it",
            tenant_id=tenant_id, header=header, task_name=task_name,
        ) from None


def _generation(config: Any) -> Any:
    """The shared cache's generation; ``None`` with no shared cache."""
    alias = STATE.shared_cache
    if alias is UNRESOLVED:
        alias = STATE.shared_cache = _shared_alias(config)
    if alias is None:
        return None
    try:
        if STATE.pending_bump:
            _bump(alias, raise_errors=True)
        generation = caches[alias].get(GENERATION_KEY)
    except Exception as exc:
        _cache_down(alias, exc)
        return _UNREADABLE
    _cache_up(alias)
    return generation


def _bump(alias: str, raise_errors: bool = False) -> None:
    try:
        caches[alias].set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception as exc:
        if raise_errors:
            raise
        _cache_down(alias, exc)
        return
    STATE.pending_bump = False
    _cache_up(alias)


def _cache_down(alias: str, exc: BaseException) -> None:
    if not STATE.cache_down:
        STATE.cache_down = True
        logger.warning(
            "omnitenant_patch: the cache %r failed (%s: %s); tenants are read from the database "
            "until it answers again", alias, type(exc).__name__, exc,
        )


def _cache_up(alias: str) -> None:
    if STATE.cache_down:
        STATE.cache_down = False
        logger.warning("omnitenant_patch: the cache %r answers again", alias)


def _shared_alias(config: Any) -> Optional[str]:
    """The alias to read the generation from; ``None`` for a per-process ``LocMemCache``,
    where this process's own receivers already clear its copies."""
    if config.cache_alias is None:
        return None
    from django.core.cache.backends.locmem import LocMemCache

    return None if isinstance(caches[config.cache_alias], LocMemCache) else config.cache_alias


def watch_tenant_model() -> None:
    """Drop cached tenants whenever a row of the backend's tenant model is saved or deleted
    (connected once per settings: by ``AppConfig.ready()``, else by the first lookup)."""
    if STATE.invalidated_model is not None:
        return
    model = (STATE.backend or active_backend()).tenant_model()
    if model is None:
        return
    from django.db.models.signals import post_delete, post_save

    with STATE.lock:
        post_save.connect(invalidate_tenants, sender=model, weak=False,
                          dispatch_uid="omnitenant_patch.invalidate.save")
        post_delete.connect(invalidate_tenants, sender=model, weak=False,
                            dispatch_uid="omnitenant_patch.invalidate.delete")
        STATE.invalidated_model = model
