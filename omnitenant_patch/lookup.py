"""From a tenant id to a tenant, through the backend, with a bounded per-process cache.

A process keeps what it looked up for ``CACHE["TTL"]`` seconds, at most
``CACHE["MAX_TENANTS"]`` tenants, the least recently used dropped first: a warm worker runs no
tenant query per task, and its memory stays flat however many tenants it serves.

Saving or deleting tenant X drops X — and nothing else — in every process at once: the tenant
model's ``post_save``/``post_delete`` write a new generation for X in the Django cache
``CACHE["ALIAS"]``, which each lookup of X compares with the one it cached X under, together
with one generation for all tenants (one ``get_many``: one round trip, no query). With Django's
per-process ``LocMemCache`` only the process that made the change sees it before the TTL ends.
Unknown ids are never cached.

The cache is an optimisation and never a dependency: when it fails, the error is logged once
per outage, the database answers every lookup (no local copy is trusted while the generations
cannot be read), and saving or deleting a tenant goes through; the missed invalidations are
written when the cache answers again (all tenants' generation, if there were many).
"""

from __future__ import annotations

import hashlib
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

#: One generation for every tenant: written when many invalidations were missed in an outage.
GENERATION_KEY = "omnitenant_patch:tenants:generation"
#: The generation of one tenant, written when it is saved or deleted (``tenant_key``).
TENANT_KEY = "omnitenant_patch:tenant:{}"
#: Missed invalidations remembered one by one during an outage; beyond, all tenants' generation.
MAX_PENDING = 1000
_UNREADABLE = object()  # the shared generations could not be read: trust no local copy


def lookup_tenant(tenant_id: str, *, task_name: str = "?", header: Optional[str] = None) -> Any:
    """Return the tenant with this id, from the shared store; else ``TenantNotFound`` naming the
    id, the header (``CELERY["HEADER"]`` unless another is named) and the task."""
    config = STATE.config or get_config()
    cached = STATE.tenants
    entry = cached.get(tenant_id)
    fresh = entry is not None and entry[1] > monotonic()
    if fresh:
        try:
            cached.move_to_end(tenant_id)
        except KeyError:  # dropped by another thread meanwhile
            pass
        if STATE.shared_cache is None:  # this process's receivers drop what changed
            return entry[0]  # type: ignore[index]
    if not config.cache_ttl:
        return _query(tenant_id, task_name, header or config.header)
    key = entry[3] if entry is not None else tenant_key(tenant_id)
    generation = _generation(config, key)
    if fresh and generation is not _UNREADABLE and generation == entry[2]:  # type: ignore[index]
        return entry[0]  # type: ignore[index]
    tenant = _query(tenant_id, task_name, header or config.header)
    watch_tenant_model()
    cached[tenant_id] = (tenant, monotonic() + config.cache_ttl, generation, key)
    cached.move_to_end(tenant_id)
    while len(cached) > config.max_tenants:
        try:
            cached.popitem(last=False)
        except KeyError:  # emptied by another thread
            break
    return tenant


def invalidate_tenant(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """Drop the saved or deleted tenant here, and (through the shared cache) in every process;
    every other tenant stays cached."""
    try:
        ids = {str((STATE.backend or active_backend()).id_of(instance))}
    except Exception:  # not a tenant this backend can name: drop every tenant instead
        invalidate_tenants()
        return
    loaded = instance.__dict__.get("_omnitenant_loaded_id")
    if loaded is not None:  # saved under a new id: the old one is gone too
        ids.add(loaded)
    for tenant_id in ids:
        STATE.tenants.pop(tenant_id, None)
    alias = get_config().cache_alias
    if alias is not None:
        _pend(ids)
        _write_pending(alias)


def invalidate_tenants() -> None:
    """Drop every cached tenant here and, through the shared cache, in every process."""
    STATE.tenants.clear()
    alias = get_config().cache_alias
    if alias is not None:
        STATE.pending_all = True
        _write_pending(alias)


def remember_loaded_id(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """``post_init`` of the tenant model: the id a tenant was read with, so that saving it under
    a new id drops the old one too."""
    try:
        instance.__dict__["_omnitenant_loaded_id"] = str(
            (STATE.backend or active_backend()).id_of(instance))
    except Exception:  # deferred fields, an unsaved instance: nothing to remember
        pass


def _query(tenant_id: str, task_name: str, header: str) -> Any:
    try:
        return (STATE.backend or active_backend()).lookup(tenant_id)
    except TenantNotFound as exc:
        raise TenantNotFound(
            f"{exc} (header {header!r} on task {task_name}); create it or stop queueing for it",
            tenant_id=tenant_id, header=header, task_name=task_name,
        ) from None


def tenant_key(tenant_id: str) -> str:
    """The shared cache's key for one tenant's generation (a digest: any id is a valid key for
    every cache backend, memcached's included)."""
    return TENANT_KEY.format(hashlib.blake2b(tenant_id.encode(), digest_size=16).hexdigest())


def _generation(config: Any, key: str) -> Any:
    """All tenants' generation and one tenant's (``key``) in the shared cache: one
    ``get_many``; ``None`` with no shared cache."""
    alias = STATE.shared_cache
    if alias is UNRESOLVED:
        alias = STATE.shared_cache = _shared_alias(config)
    if alias is None:
        return None
    try:
        if STATE.pending_all or STATE.pending_ids:
            _write_pending(alias, raise_errors=True)
        found = caches[alias].get_many([GENERATION_KEY, key])
    except Exception as exc:
        _cache_down(alias, exc)
        return _UNREADABLE
    _cache_up(alias)
    return found.get(GENERATION_KEY), found.get(key)


def _pend(ids: Any) -> None:
    pending = STATE.pending_ids
    pending.update(ids)
    if len(pending) > MAX_PENDING:  # too many to remember one by one: all tenants change
        pending.clear()
        STATE.pending_all = True


def _write_pending(alias: str, raise_errors: bool = False) -> None:
    """Write the invalidations the shared cache has not taken yet. Each tenant's generation
    lives as long as a copy cached before it could (``CACHE["TTL"]``, and a minute)."""
    try:
        cache = caches[alias]
        if STATE.pending_all:
            cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
        elif STATE.pending_ids:
            stamp = uuid.uuid4().hex
            cache.set_many({tenant_key(t): stamp for t in STATE.pending_ids},
                           get_config().cache_ttl + 60)
    except Exception as exc:
        if raise_errors:
            raise
        _cache_down(alias, exc)
        return
    STATE.pending_all = False
    STATE.pending_ids.clear()
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
    """The alias to read generations from; ``None`` for a per-process ``LocMemCache``, where
    this process's own receivers already drop its copies."""
    if config.cache_alias is None:
        return None
    from django.core.cache.backends.locmem import LocMemCache

    return None if isinstance(caches[config.cache_alias], LocMemCache) else config.cache_alias


def watch_tenant_model() -> None:
    """Drop a cached tenant whenever its row is saved or deleted (connected once per settings:
    by ``AppConfig.ready()``, else by the first lookup)."""
    if STATE.invalidated_model is not None:
        return
    model = (STATE.backend or active_backend()).tenant_model()
    if model is None:
        return
    from django.db.models.signals import post_delete, post_init, post_save

    with STATE.lock:
        post_save.connect(invalidate_tenant, sender=model, weak=False,
                          dispatch_uid="omnitenant_patch.invalidate.save")
        post_delete.connect(invalidate_tenant, sender=model, weak=False,
                            dispatch_uid="omnitenant_patch.invalidate.delete")
        post_init.connect(remember_loaded_id, sender=model, weak=False,
                          dispatch_uid="omnitenant_patch.invalidate.loaded")
        STATE.invalidated_model = model
