"""django-omnitenant: its ``TenantContext`` and its own switching (schema, database, mixed).

Entering a tenant is django-omnitenant's ``TenantContext.use_tenant`` with three
corrections a worker needs:

- a schema tenant is entered on the master database alias: django-omnitenant
  would keep the alias of an enclosing database tenant (mixed isolation), and
  the task would read that tenant's rows;
- "no tenant" is its public schema on the master database, with ``None`` on its
  tenant stack (its ``use_tenant(None)`` cannot do that);
- its schema switch is a ``SET search_path`` run once, which a new connection
  does not have: when Django opens one while a schema tenant is in force (after
  Celery's Django fixup or anything else closed the last), the path is set again.

Tenants are read inside ``TenantContext.use_master_db()`` with no tenant on the
stack: the tenant table lives in the public schema of the master database, never
in a tenant's. While the patch is installed, django-omnitenant's own Celery task
class (``TenantAwareTask``, which looks tenants up on the tenant's connection)
defers to ours: see ``displaces``.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .base import TenantBackend

CELERY_PATCH = "django_omnitenant.patches.celery"


class OmnitenantBackend(TenantBackend):
    """django-omnitenant 1.x."""

    name = "django_omnitenant"
    id_attribute = "tenant_id"
    settings = ("OMNITENANT_CONFIG", "DATABASES")
    resolves_requests = True
    middleware = ("django_omnitenant.middleware.TenantMiddleware",)

    def __init__(self) -> None:
        from django.db.backends.signals import connection_created
        from django_omnitenant.conf import settings
        from django_omnitenant.models import BaseTenant
        from django_omnitenant.tenant_context import TenantContext

        self.context = TenantContext
        self.schema_isolation = BaseTenant.IsolationType.SCHEMA
        self.master = settings.MASTER_DB_ALIAS
        self.public_name = settings.PUBLIC_TENANT_NAME
        connection_created.connect(_restore_search_path, weak=False,
                                   dispatch_uid="omnitenant_patch.omnitenant.search_path")

    @classmethod
    def is_available(cls) -> bool:
        from django.apps import apps

        return apps.is_installed("django_omnitenant")

    def current(self) -> Optional[Any]:
        tenant = self.context.get_tenant()
        if tenant is None or tenant.tenant_id == self.public_name:
            return None  # its middleware enters an unsaved "public" tenant on the public host
        return tenant

    def enter(self, tenant: Optional[Any]) -> Any:
        context = self.context
        saved = self._stacks()
        if tenant is None:
            context.push_tenant(None)
            manager = None if self._in_master() else context.use_master_db()
        else:
            if tenant.isolation_type == self.schema_isolation:
                context.push_db_alias(self.master)
            manager = context.use_tenant(tenant)
        if manager is not None:
            try:
                manager.__enter__()
            except BaseException:
                self._restore(saved)
                raise
        return manager, saved

    def leave(self, token: Tuple[Any, Any]) -> None:
        manager, saved = token
        try:
            if manager is not None:
                manager.__exit__(None, None, None)
        finally:
            # Its stacks as they were, even if the task pushed a tenant it never popped.
            self._restore(saved)

    def lookup(self, tenant_id: str) -> Any:
        with self._shared():
            return self.fetch(self.tenant_model()._default_manager, tenant_id,
                              tenant_id=tenant_id)

    def id_of(self, tenant: Any) -> Any:
        return tenant.tenant_id

    def tenant_model(self) -> Any:
        from django_omnitenant.utils import get_tenant_model

        return get_tenant_model()

    def all_tenants(self) -> Any:
        return self.tenant_model()._default_manager.exclude(tenant_id=self.public_name)

    def schema_tenants(self) -> Dict[str, str]:
        """Schema tenants on the master database: their ``config["schema_name"]``, else their id
        (django-omnitenant's schema backend)."""
        with self._shared():
            rows = list(self.all_tenants().filter(isolation_type=self.schema_isolation)
                        .values_list("tenant_id", "config"))
        return {(config or {}).get("schema_name") or tenant_id: tenant_id
                for tenant_id, config in rows}

    def describe(self) -> str:
        return f"{self.tenant_model()._meta.label} (django-omnitenant)"

    def displaces(self) -> List[Tuple[type, str]]:
        """django-omnitenant's ``TenantAwareTask`` (set as ``Celery.Task`` by its bootstrap) looks
        the tenant up again, on the tenant's connection, and misses what ours does: while the patch
        is installed its ``__call__`` and ``apply_async`` are ours."""
        module = sys.modules.get(CELERY_PATCH)
        task_class = getattr(module, "TenantAwareTask", None)
        if task_class is None:
            return []
        return [(task_class, "__call__"), (task_class, "apply_async")]

    @contextmanager
    def _shared(self) -> Iterator[None]:
        """The master database's public schema, with no tenant on the stack."""
        context = self.context
        saved = self._stacks()
        context.push_tenant(None)
        try:
            if self._in_master():
                yield
            else:
                with context.use_master_db():
                    yield
        finally:
            self._restore(saved)

    def _in_master(self) -> bool:
        """True when queries already go to the master database's public schema (no SQL run)."""
        from django.db import connections

        return (self.context.get_db_alias() == self.master
                and getattr(connections[self.master], "_current_schema", "public") == "public")

    def _stacks(self) -> Tuple[Any, ...]:
        """django-omnitenant's tenant, database-alias and cache-alias stacks (each push makes a
        new list, so holding them is a snapshot)."""
        context = self.context
        return (context._tenant_stack.get(), context._db_alias_stack.get(),
                context._cache_alias_stack.get())

    def _restore(self, saved: Tuple[Any, ...]) -> None:
        context = self.context
        context._tenant_stack.set(saved[0])
        context._db_alias_stack.set(saved[1])
        context._cache_alias_stack.set(saved[2])


def _restore_search_path(sender: Any = None, connection: Any = None, **_: Any) -> None:
    """A new connection starts on the default search path; django-omnitenant's wrapper still
    remembers the schema it set on the connection this one replaces: set it again."""
    schema = getattr(connection, "_current_schema", "public")
    if schema != "public" and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
