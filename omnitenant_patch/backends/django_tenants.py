"""django-tenants: PostgreSQL schemas, switched on the database connection.

A tenant is identified by its ``schema_name``. Entering is django-tenants' own
``connection.set_tenant(tenant)`` (``set_schema_to_public()`` for no tenant) on every
database alias whose engine is django-tenants' (read replicas included); it runs no SQL:
the connection wrapper sets ``search_path`` on every cursor it makes, so the tenant
survives Celery's Django fixup closing the connection and persistent connections
(``CONN_MAX_AGE``). Leaving puts back exactly the tenant each connection had. Tenants are
read in the public schema, on every alias.

A task may name its aliases as tenant-schemas-celery lets it, so a site moving off it keeps
its meaning: ``tenant_databases`` on the task's class, else the Celery setting
``task_tenant_databases``; then only those aliases are switched.

Messages queued by tenant-schemas-celery (header ``_schema_name``) are read too,
and its worker-side signal receivers, which would switch the schema a second
time (and run an unknown schema's task in public), are set aside while the patch
is installed; its ``CeleryApp`` keeps queueing as before.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .base import TenantBackend

SCHEMA_HEADER = "_schema_name"  # tenant-schemas-celery's


class DjangoTenantsBackend(TenantBackend):
    """django-tenants 3.x / 4.x."""

    name = "django_tenants"
    id_attribute = "schema_name"
    settings = ("TENANT_MODEL", "PUBLIC_SCHEMA_NAME", "DATABASES")
    foreign_headers = (SCHEMA_HEADER,)
    resolves_requests = True
    middleware = (
        "django_tenants.middleware.main.TenantMainMiddleware",
        "django_tenants.middleware.TenantMainMiddleware",
        "django_tenants.middleware.subfolder.TenantSubfolderMiddleware",
        "django_tenants.middleware.TenantSubfolderMiddleware",
        "django_tenants.middleware.default.DefaultTenantMiddleware",
        "django_tenants.middleware.suspicious.TenantMainMiddleware",
    )

    def __init__(self) -> None:
        from django.db import connection, connections
        from django_tenants.utils import get_public_schema_name, get_tenant_model

        self.connection: Any = connection  # django-tenants' wrapper: set_tenant() and friends
        self.connections: Any = connections
        self.public = get_public_schema_name()
        self.model: Any = get_tenant_model()
        #: Every alias whose connection is django-tenants' wrapper (its engine, or one built on
        #: it): a replica reads tenant rows too.
        self.aliases: Tuple[str, ...] = tuple(
            alias for alias in connections if hasattr(connections[alias], "set_tenant"))

    @classmethod
    def is_available(cls) -> bool:
        from django.apps import apps
        from django.conf import settings

        return apps.is_installed("django_tenants") and bool(getattr(settings, "TENANT_MODEL", None))

    def current(self) -> Optional[Any]:
        tenant = getattr(self.connection, "tenant", None)
        if tenant is None or tenant.schema_name == self.public:
            return None
        return tenant

    def enter(self, tenant: Optional[Any]) -> Any:
        return self._switch(self.aliases, tenant)

    def enter_for(self, task: Any, tenant: Optional[Any]) -> Any:
        return self._switch(self._aliases_of(task), tenant)

    def leave(self, token: Any) -> None:
        connections = self.connections
        for alias, tenant, include_public in token:
            connection = connections[alias]
            if getattr(connection, "tenant", None) is tenant and (
                    connection.include_public_schema == include_public):
                continue  # as it was: no search_path to set again
            if tenant is None:
                connection.set_schema_to_public()
            else:
                connection.set_tenant(tenant, include_public=include_public)

    def _switch(self, aliases: Tuple[str, ...], tenant: Optional[Any]) -> Any:
        connections = self.connections
        token = []
        for alias in aliases:
            connection = connections[alias]
            current = getattr(connection, "tenant", None)
            token.append((alias, current, connection.include_public_schema))
            if tenant is None:
                if getattr(current, "schema_name", None) != self.public:
                    connection.set_schema_to_public()
            elif current is not tenant or not connection.include_public_schema:
                connection.set_tenant(tenant)
        return token

    def _aliases_of(self, task: Any) -> Tuple[str, ...]:
        """The aliases a task names, tenant-schemas-celery's way, else every django-tenants
        alias."""
        named = getattr(task, "tenant_databases", None)
        if named is None:
            named = getattr(task.app.conf, "task_tenant_databases", None)
        return self.aliases if named is None else tuple(named)

    def lookup(self, tenant_id: str) -> Any:
        with self.use(None):  # public on every alias: a router may read through a replica
            return self.fetch(self.model._default_manager, tenant_id, schema_name=tenant_id)

    def id_of(self, tenant: Any) -> Any:
        return tenant.schema_name

    def is_tenant(self, value: Any) -> bool:
        from django_tenants.postgresql_backend.base import FakeTenant

        return isinstance(value, (self.model, FakeTenant))

    def tenant_model(self) -> Any:
        return self.model

    def all_tenants(self) -> Any:
        return self.model._default_manager.exclude(schema_name=self.public)

    def schema_tenants(self) -> Dict[str, str]:
        with self.use(None):
            names = list(self.all_tenants().values_list("schema_name", flat=True))
        return {name: name for name in names}

    def foreign_tenant_id(self, header: str, value: Any) -> Any:
        return None if value == self.public else value

    def describe(self) -> str:
        return f"{self.model._meta.label} (django-tenants, by schema_name)"

    def displaced_receivers(self) -> List[Tuple[str, str]]:
        return [("task_prerun", "tenant_schemas_switch_schema"),
                ("task_postrun", "tenant_schemas_restore_schema")]
