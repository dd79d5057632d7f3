"""django-pgschemas: PostgreSQL schemas, the active one in its context variable.

A tenant is identified by its schema name: dynamic tenants are rows of
``TENANTS["default"]["TENANT_MODEL"]``, static tenants the other keys of
``TENANTS`` (``"www"``, ``"blog"``). Entering pushes the tenant onto
django-pgschemas' active schema (its ``push``, what ``with tenant:`` does, with
the token kept here, so a cached tenant shared by threads is safe); its
connection wrapper sets ``search_path`` on every cursor, so the tenant survives
Celery's Django fixup closing the connection. Dynamic tenants are read in the
public schema. django-pgschemas only resets the schema when a request finishes,
which a worker never sends, and saving a new tenant leaves its schema active: leaving the
scope puts back what was active before the task, whatever the task activated.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .base import TenantBackend


class PgSchemasBackend(TenantBackend):
    """django-pgschemas 1.x."""

    name = "django_pgschemas"
    id_attribute = "schema_name"
    settings = ("TENANTS", "DATABASES")
    resolves_requests = True
    middleware = (
        "django_pgschemas.routing.middleware.DomainRoutingMiddleware",
        "django_pgschemas.routing.middleware.SessionRoutingMiddleware",
        "django_pgschemas.routing.middleware.HeadersRoutingMiddleware",
    )

    def __init__(self) -> None:
        from django.conf import settings
        from django_pgschemas import schema
        from django_pgschemas.utils import get_tenant_model

        self.schema = schema
        self.public = schema.get_default_schema()
        self.model: Any = get_tenant_model()
        self.static = {name for name in getattr(settings, "TENANTS")  # noqa: B009 (not in stubs)
                       if name not in ("public", "default")}

    @classmethod
    def is_available(cls) -> bool:
        from django.apps import apps
        from django.conf import settings

        return apps.is_installed("django_pgschemas") and bool(getattr(settings, "TENANTS", None))

    def current(self) -> Optional[Any]:
        active = self.schema.get_current_schema()
        return None if active.schema_name == self.public.schema_name else active

    def enter(self, tenant: Optional[Any]) -> Any:
        return self.schema.push(self.public if tenant is None else tenant)

    def leave(self, token: Any) -> None:
        if token is not None:  # None: push found the schema already active
            self.schema.active.reset(token)

    def lookup(self, tenant_id: str) -> Any:
        if tenant_id in self.static:
            return self.schema.Schema.create(tenant_id)
        if self.model is None:
            raise self.not_found(tenant_id, " (no dynamic tenants: TENANTS has no 'default')")
        with self.use(None):
            return self.fetch(self.model._default_manager, tenant_id, schema_name=tenant_id)

    def id_of(self, tenant: Any) -> Any:
        return tenant.schema_name

    def is_tenant(self, value: Any) -> bool:
        return isinstance(value, self.schema.Schema)

    def tenant_model(self) -> Any:
        return self.model

    def all_tenants(self) -> Any:
        return [] if self.model is None else self.model._default_manager.all()

    def schema_tenants(self) -> Dict[str, str]:
        names = set(self.static)
        if self.model is not None:
            with self.use(None):
                names.update(self.model._default_manager.values_list("schema_name", flat=True))
        return {name: name for name in names}

    def describe(self) -> str:
        label = self.model._meta.label if self.model is not None else "no dynamic tenants"
        return f"{label} or a static tenant of TENANTS (django-pgschemas)"
