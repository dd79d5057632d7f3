"""The interface between omnitenant_patch and a tenancy library: one ``TenantBackend`` per library.

A backend answers five questions and nothing else in the package asks which
library is in use:

- ``current()``: the tenant in force now (``None`` for none);
- ``enter(tenant)`` / ``leave(token)``: switch whatever the library switches
  (schema, database alias, row filter) and really switch back, also to "no tenant";
  ``use(tenant)`` is the same as a ``with`` block; ``enter_for(task, tenant)`` is ``enter``
  for one task, where a backend may read what the task names (its database aliases);
- ``lookup(tenant_id)``: the tenant with that id, read from the shared place where
  tenants live (never through a tenant's connection), or ``TenantNotFound``;
- ``id_of(tenant)`` / ``is_tenant(value)``: the id string of a tenant value;
- ``is_available()``: whether the library is installed and configured here.

Class attributes declare the rest (``resolves_requests``, ``middleware``, ``settings``,
``foreign_headers``): the middleware, the checks and the worker ask them, never the type.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar, Dict, Iterable, Iterator, List, Optional, Tuple

from ..exceptions import TenantNotFound


class TenantBackend:
    """Base class of the tenancy-library backends. Subclass it for an in-house tenancy layer.

    >>> class MyBackend(TenantBackend):
    ...     name = "mine"
    ...     def current(self): ...
    """

    #: Short name for ``OMNITENANT_CONFIG["BACKEND"]``.
    name: ClassVar[str] = ""
    #: Django settings this backend reads: a change to one (``override_settings``) re-resolves.
    settings: ClassVar[Tuple[str, ...]] = ()
    #: Other libraries' tenant headers a worker may also read (their messages in flight).
    foreign_headers: ClassVar[Tuple[str, ...]] = ()
    #: The tenant attribute that is its id, where ``id_of`` is just that (read inline on every
    #: publish that captures a tenant); ``None``: call ``id_of``.
    id_attribute: Optional[str] = None
    #: True when the library's own request handling (its middleware, or the one its docs have
    #: projects write) resolves each request's tenant and puts it in force: ``TenantMiddleware``
    #: then defers to it. False: ``TenantMiddleware`` resolves the tenant (``RESOLVER``,
    #: ``TRUSTED_HEADER``, ``AUTHORIZE``) and enters it through this backend.
    resolves_requests: ClassVar[bool] = False
    #: Middleware of the library that puts the request's tenant in force (system checks W001,
    #: W008); ``None`` where the library's docs have projects write their own.
    middleware: ClassVar[Optional[Tuple[str, ...]]] = ()

    @classmethod
    def is_available(cls) -> bool:
        """True when the library is installed and configured in this project."""
        return False

    def current(self) -> Optional[Any]:
        """The tenant in force now, or ``None``."""
        raise NotImplementedError

    def enter(self, tenant: Optional[Any]) -> Any:
        """Switch to ``tenant`` (``None``: no tenant); return what ``leave`` needs to go back."""
        raise NotImplementedError

    def leave(self, token: Any) -> None:
        """Undo the ``enter`` that returned ``token``: what was in force before is again."""
        raise NotImplementedError

    def enter_for(self, task: Any, tenant: Optional[Any]) -> Any:
        """``enter`` for a task about to run (``leave`` undoes it): a backend that switches per
        database alias reads here which aliases the task names. Default: ``enter(tenant)``."""
        return self.enter(tenant)

    @contextmanager
    def use(self, tenant: Optional[Any], task: Any = None) -> Iterator[Optional[Any]]:
        """``enter`` (``enter_for`` with a ``task``) and ``leave`` around a ``with`` block, also
        when it raises."""
        token = self.enter(tenant) if task is None else self.enter_for(task, tenant)
        try:
            yield tenant
        finally:
            self.leave(token)

    def lookup(self, tenant_id: str) -> Any:
        """The tenant whose id is ``tenant_id``, read from the shared store; ``TenantNotFound``."""
        raise NotImplementedError

    def id_of(self, tenant: Any) -> Any:
        """The id of ``tenant`` (a ``str``, or an ``int`` made a string by the caller)."""
        raise NotImplementedError

    def foreign_tenant_id(self, header: str, value: Any) -> Any:
        """The tenant id a ``foreign_headers`` value names (``None``: no tenant)."""
        return value

    def is_tenant(self, value: Any) -> bool:
        """True when ``value`` is a tenant of this backend (a ``tenant_id=`` value)."""
        model = self.tenant_model()
        return model is not None and isinstance(value, model)

    def tenant_model(self) -> Any:
        """The tenant model whose save/delete drops cached tenants; ``None`` when there is none."""
        return None

    def all_tenants(self) -> Iterable[Any]:
        """Every tenant (not a shared or public one): a lazy queryset, read in the shared store
        by ``tenant_ids``."""
        model = self.tenant_model()
        return [] if model is None else model._default_manager.all()

    def tenant_ids(self, chunk_size: int = 1000) -> Iterator[str]:
        """Every tenant's id, for ``for_each_tenant`` and beat's fan-out: read ``chunk_size``
        rows at a time (keyset pagination on the primary key, each page in the shared store),
        so memory stays flat however many tenants there are."""
        from django.db.models import QuerySet

        tenants = self.all_tenants()
        if not isinstance(tenants, QuerySet):
            yield from (str(self.id_of(tenant)) for tenant in tenants)
            return
        last = None
        while True:
            page = tenants.order_by("pk")
            if last is not None:
                page = page.filter(pk__gt=last)
            with self.use(None):
                rows = list(page[:chunk_size])
            for tenant in rows:
                yield str(self.id_of(tenant))
            if len(rows) < chunk_size:
                return
            last = rows[-1].pk

    def schema_tenants(self) -> Optional[Dict[str, str]]:
        """PostgreSQL schema -> tenant id of every tenant kept in a schema of the database the
        shared store is on (``TenantDatabaseScheduler`` reads their periodic tasks); ``None``
        where the library keeps no tenant in a schema."""
        return None

    def displaces(self) -> List[Tuple[type, str]]:
        """Attributes of the library's own Celery task class, ``(owner, name)``, that are the
        patch's while it is installed: each gets what Celery's ``Task.<name>`` gets."""
        return []

    def displaced_receivers(self) -> List[Tuple[str, str]]:
        """Celery signal receivers (signal name, ``dispatch_uid``) of the library's own Celery
        integration, disconnected while the patch is installed."""
        return []

    def describe(self) -> str:
        """How error messages name the tenants of this backend."""
        model = self.tenant_model()
        label = model._meta.label if model is not None else "?"
        return f"{label} ({self.name})"

    def check(self) -> List[Any]:
        """System check messages about this backend's configuration."""
        return []

    def fetch(self, manager: Any, tenant_id: str, /, **lookup: Any) -> Any:
        """``manager.get(**lookup)``, or ``TenantNotFound`` (also for an id that cannot even be a
        value of the field: a word for an integer key names no tenant either)."""
        from django.core.exceptions import ObjectDoesNotExist, ValidationError

        try:
            return manager.get(**lookup)
        except (ObjectDoesNotExist, ValueError, ValidationError):
            raise self.not_found(tenant_id) from None

    @staticmethod
    def not_found(tenant_id: str, where: str = "") -> TenantNotFound:
        """The error ``lookup`` raises; the caller adds the header and the task."""
        return TenantNotFound(f"tenant {tenant_id!r} does not exist{where}", tenant_id=tenant_id)
