"""django-tenants: PostgreSQL schemas, switched on the database connection.

A tenant is identified by its ``schema_name``. Entering is django-tenants' own
``connection.set_tenant(tenant)`` (``set_schema_to_public()`` for no tenant);
it runs no SQL: the connection wrapper sets ``search_path`` on every cursor it
makes, so the tenant survives Celery's Django fixup closing the connection and
persistent connections (``CONN_MAX_AGE``). Leaving puts back exactly the tenant
the connection had. Tenants are read in the public schema (``schema_context``).

Messages queued by tenant-schemas-celery (header ``_schema_name``) are read too,
and its worker-side signal receivers, which would switch the schema a second
time (and run an unknown schema's task in public), are set aside while the patch
is installed; its ``CeleryApp`` keeps queueing as before.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

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
        from django.db import connection
        from django_tenants.utils import get_public_schema_name, get_tenant_model

        self.connection: Any = connection  # django-tenants' wrapper: set_tenant() and friends
        self.public = get_public_schema_name()
        self.model: Any = get_tenant_model()

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
        connection = self.connection
        previous = getattr(connection, "tenant", None)
        if tenant is None:
            connection.set_schema_to_public()
        else:
            connection.set_tenant(tenant)
        return previous

    def leave(self, token: Any) -> None:
        if token is None:
            self.connection.set_schema_to_public()
        else:
            self.connection.set_tenant(token)

    def lookup(self, tenant_id: str) -> Any:
        from django_tenants.utils import schema_context

        with schema_context(self.public):
            return self.fetch(self.model._default_manager, tenant_id, schema_name=tenant_id)

    def id_of(self, tenant: Any) -> Any:
        return tenant.schema_name

    def is_tenant(self, value: Any) -> bool:
        from django_tenants.postgresql_backend.base import FakeTenant

        return isinstance(value, (self.model, FakeTenant))

    def tenant_model(self) -> Any:
        return self.model

    def all_tenants(self) -> List[Any]:
        from django_tenants.utils import schema_context

        with schema_context(self.public):
            return list(self.model._default_manager.exclude(schema_name=self.public))

    def foreign_tenant_id(self, header: str, value: Any) -> Any:
        return None if value == self.public else value

    def describe(self) -> str:
        return f"{self.model._meta.label} (django-tenants, by schema_name)"

    def displaced_receivers(self) -> List[Tuple[str, str]]:
        return [("task_prerun", "tenant_schemas_switch_schema"),
                ("task_postrun", "tenant_schemas_restore_schema")]
