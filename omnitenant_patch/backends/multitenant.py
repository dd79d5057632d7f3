"""django-multitenant: one database, rows filtered by the current tenant (Citus style).

The current tenant is django-multitenant's ``get_current_tenant()`` (thread-local,
or asgiref's local with ``TENANT_USE_ASGIREF``); entering is its
``set_current_tenant`` and leaving puts back what was set before
(``unset_current_tenant`` for none). A tenant is an instance of the tenant model
(the ``TenantModel`` whose tenant field is its own primary key, or
``OMNITENANT_CONFIG["TENANT_MODEL"]``), identified by its primary key, and read
through the model's base manager, which the current tenant does not filter.

The library is in use when the project has such a tenant model: its docs never ask for
``"django_multitenant"`` in ``INSTALLED_APPS``, so that is not what tells.
"""

from __future__ import annotations

from typing import Any, List, Optional

from ..conf import get_config
from ..exceptions import ImproperlyConfigured
from .base import TenantBackend


class MultitenantBackend(TenantBackend):
    """django-multitenant 3.x / 4.x."""

    name = "django_multitenant"
    settings = ("TENANT_USE_ASGIREF",)
    resolves_requests = True
    middleware = None  # its docs have projects write their own

    def __init__(self) -> None:
        from django_multitenant import utils

        self.utils = utils
        self.model = _tenant_model()

    @classmethod
    def is_available(cls) -> bool:
        return bool(_tenant_models())

    def current(self) -> Optional[Any]:
        tenant = self.utils.get_current_tenant()
        if isinstance(tenant, (list, tuple)):
            raise ValueError(
                f"django-multitenant's current tenant is a list ({tenant!r}); a task runs in one "
                f"tenant: pass tenant_id= explicitly"
            )
        return tenant

    def enter(self, tenant: Optional[Any]) -> Any:
        previous = self.utils.get_current_tenant()
        self._set(tenant)
        return previous

    def leave(self, token: Any) -> None:
        self._set(token)

    def lookup(self, tenant_id: str) -> Any:
        return self.fetch(self.model._base_manager, tenant_id, pk=tenant_id)

    def id_of(self, tenant: Any) -> Any:
        return tenant.pk

    def tenant_model(self) -> Any:
        return self.model

    def all_tenants(self) -> Any:
        return self.model._base_manager.all()

    def describe(self) -> str:
        return f"{self.model._meta.label} (django-multitenant, by primary key)"

    def _set(self, tenant: Optional[Any]) -> None:
        if tenant is None:
            self.utils.unset_current_tenant()
        else:
            self.utils.set_current_tenant(tenant)


def _tenant_model() -> Any:
    """``TENANT_MODEL`` when set, else the one ``TenantModel`` whose tenant field is its own key."""
    from django.apps import apps

    label = get_config().tenant_model
    if label is not None:
        return apps.get_model(label)
    found = _tenant_models()
    if len(found) != 1:
        names = ", ".join(m._meta.label for m in found) or "none"
        raise ImproperlyConfigured(
            f"django-multitenant: cannot tell the tenant model (TenantModels keyed by their own "
            f"primary key: {names}); set OMNITENANT_CONFIG[\"TENANT_MODEL\"]"
        )
    return found[0]


def _tenant_models() -> List[Any]:
    """The project's django-multitenant models whose tenant field is their own primary key (the
    tenant field named any of the ways its docs allow); none when it is not installed."""
    try:
        from django_multitenant.mixins import TenantModelMixin
        from django_multitenant.utils import get_tenant_column
    except ImportError:
        return []
    from django.apps import apps

    found = []
    for model in apps.get_models():
        if issubclass(model, TenantModelMixin) and not model._meta.abstract:
            try:
                column = get_tenant_column(model)
            except ValueError:  # a mixin model that names no tenant field
                continue
            if column in ("pk", model._meta.pk.name, model._meta.pk.column):
                found.append(model)
    return found
