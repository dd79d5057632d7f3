"""The current tenant, kept in a context variable.

A ``ContextVar`` is per thread and per greenlet, and every ``use_tenant``
resets with its own token, so prefork and solo workers, which run tasks back
to back in one thread, never carry a tenant from one task into the next.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Any, Iterator, Optional

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
        return _current_tenant.get()

    @staticmethod
    @contextmanager
    def use_tenant(tenant: Optional[Any]) -> Iterator[Optional[Any]]:
        """Make ``tenant`` the active tenant inside the ``with`` block.

        Blocks nest; leaving one, normally or by an exception, brings back the
        tenant that was active before it. ``use_tenant(None)`` runs the block
        with no tenant.
        """
        token = _current_tenant.set(tenant)
        try:
            yield tenant
        finally:
            _current_tenant.reset(token)


def _enter(tenant: Optional[Any]) -> contextvars.Token:
    """Enter ``tenant`` for a scope that does not fit a ``with`` block (a task's prerun/postrun)."""
    return _current_tenant.set(tenant)


def _leave(token: contextvars.Token) -> None:
    _current_tenant.reset(token)
