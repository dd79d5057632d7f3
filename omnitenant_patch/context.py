"""The current tenant.

By default it lives in a context variable: per thread and per greenlet, and
every ``use_tenant`` resets with its own token, so prefork and solo workers,
which run tasks back to back in one thread, never carry a tenant from one task
into the next.

``OMNITENANT_CONFIG["CONTEXT"]`` picks another store: ``"auto"`` (default)
uses django-omnitenant's ``TenantContext`` when ``django_omnitenant`` is an
installed app (so its database/schema/cache backends switch with the tenant),
this module's own otherwise; a dotted path names any class with
``get_tenant()`` and a ``use_tenant(tenant)`` context manager.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Any, ContextManager, Iterator, Optional

_current_tenant: contextvars.ContextVar[Optional[Any]] = contextvars.ContextVar(
    "omnitenant_current_tenant", default=None
)


class TenantContext:
    """Where the tenant of the current request or task lives.

    >>> with TenantContext.use_tenant(acme):
    ...     TenantContext.get_tenant() is acme
    True
    """

    @staticmethod
    def get_tenant() -> Optional[Any]:
        """Return the active tenant, or ``None`` outside any tenant."""
        store = _store()
        if store is None:
            return _current_tenant.get()
        return store.get_tenant()

    @staticmethod
    def use_tenant(tenant: Optional[Any]) -> ContextManager[Optional[Any]]:
        """Make ``tenant`` the active tenant inside the ``with`` block.

        Blocks nest; leaving one, normally or by an exception, brings back the
        tenant that was active before it. ``use_tenant(None)`` runs the block
        with no tenant.
        """
        store = _store()
        if store is None:
            return _own_use_tenant(tenant)
        return _delegated_use_tenant(store, tenant)


@contextmanager
def _own_use_tenant(tenant: Optional[Any]) -> Iterator[Optional[Any]]:
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


@contextmanager
def _delegated_use_tenant(store: Any, tenant: Optional[Any]) -> Iterator[Optional[Any]]:
    if tenant is None:
        if store.get_tenant() is None:  # already none: nothing to switch
            yield None
            return
        # django-omnitenant cannot activate "no tenant"; its tenant stack can hold it.
        store.push_tenant(None)
        try:
            yield None
        finally:
            store.pop_tenant()
        return
    with store.use_tenant(tenant):
        yield tenant


def _enter(tenant: Optional[Any]) -> Any:
    """Enter ``tenant`` for a scope that does not fit a ``with`` block (prerun → postrun)."""
    manager = TenantContext.use_tenant(tenant)
    manager.__enter__()
    return manager


def _leave(manager: Any) -> None:
    manager.__exit__(None, None, None)


_UNRESOLVED = object()
_resolved_store: Any = _UNRESOLVED


def _store() -> Any:
    store = _resolved_store
    if store is _UNRESOLVED:
        store = _find_store()
    return store


def _find_store() -> Any:
    global _resolved_store
    from django.apps import apps

    from .conf import get_config

    choice = get_config().context
    if choice == "auto":
        if not apps.apps_ready:
            return None  # settings still loading: decide on a later call
        if not apps.is_installed("django_omnitenant"):
            _resolved_store = None
            return None
        choice = "django_omnitenant.tenant_context.TenantContext"
    if choice in (None, "omnitenant_patch"):
        _resolved_store = None
        return None
    from django.utils.module_loading import import_string

    _resolved_store = import_string(choice)
    return _resolved_store


def _reset(**_: Any) -> None:
    global _resolved_store
    _resolved_store = _UNRESOLVED


def _connect_setting_changed() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_reset, dispatch_uid="omnitenant_patch.context.reset")


_connect_setting_changed()
