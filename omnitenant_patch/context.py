"""``TenantContext``: the current tenant, whichever tenancy library keeps it.

Reads and switches through the active backend (``OMNITENANT_CONFIG["BACKEND"]``):
django-omnitenant's ``TenantContext``, django-tenants' connection, django-pgschemas'
active schema, django-multitenant's current tenant, or the built-in context variable.
"""

from __future__ import annotations

from typing import Any, ContextManager, Optional

from .backends import active_backend
from .state import STATE


class TenantContext:
    """Where the tenant of the current request or task lives.

    >>> with TenantContext.use_tenant(acme):
    ...     TenantContext.get_tenant() == acme
    True
    """

    @staticmethod
    def get_tenant() -> Optional[Any]:
        """Return the tenant in force, or ``None`` outside any tenant."""
        return (STATE.backend or active_backend()).current()

    @staticmethod
    def use_tenant(tenant: Optional[Any]) -> ContextManager[Optional[Any]]:
        """Make ``tenant`` the tenant in force inside the ``with`` block.

        Blocks nest; leaving one, normally or by an exception, brings back what was in
        force before it (schema, database, row filter). ``use_tenant(None)`` runs the
        block with no tenant (the shared schema / master database).
        """
        return (STATE.backend or active_backend()).use(tenant)
