"""Beat schedulers for periodic work per tenant.

    CELERY_BEAT_SCHEDULER = "omnitenant_patch.beat:TenantScheduler"          # Celery's file store
    CELERY_BEAT_SCHEDULER = "omnitenant_patch.beat:TenantDatabaseScheduler"  # django-celery-beat

Both run every entry as Celery's own would, and read the tenant keys of ``periodic`` on any
entry — ``tenant_id``, ``tenants`` (``"__all__"``, a list, or a readiness callable), ``spread``,
and tenant-schemas-celery's top-level ``tenant_schemas`` — refusing a wrong one when beat starts.
An entry naming ``tenants`` queues one message; a worker fans it out (``fanout``), so beat's loop
never waits on the tenants.

``TenantDatabaseScheduler`` also runs each tenant's own ``PeriodicTask`` rows in that tenant,
where django-celery-beat is among the tenant apps of a schema library (django-tenants,
django-pgschemas, django-omnitenant's schema tenants): names may repeat across tenants; a change
in any tenant is seen at the next sync, and noticing it costs three queries however many
tenants there are (django-celery-beat's own, the tenants' schemas, and every schema's
``PeriodicTasks.last_update`` in one statement); only the tenants that changed are read again.
A tenant's row runs in that tenant only: one naming another tenant, or ``tenants``, is refused.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

from celery.beat import PersistentScheduler

from .backends import active_backend
from .conf import get_config
from .exceptions import ImproperlyConfigured
from .lookup import lookup_tenant
from .periodic import TENANTS, entry_problems, fold, normalized_schedule
from .state import STATE

logger = logging.getLogger("omnitenant_patch")

__all__ = ["TenantDatabaseScheduler", "TenantScheduler"]  # noqa: F822 (made on first use)


def _checked(schedule: Any) -> Dict[str, Any]:
    """The schedule with tenant-schemas-celery's key read, or ``ImproperlyConfigured`` naming
    every wrong tenant key: beat refuses to start rather than run an entry elsewhere."""
    problems = entry_problems(schedule or {})
    if problems:
        raise ImproperlyConfigured("beat schedule: " + "; ".join(problems))
    return normalized_schedule(schedule or {})


class TenantScheduler(PersistentScheduler):
    """Celery's ``PersistentScheduler`` that reads the tenant keys of every entry."""

    def merge_inplace(self, b: Any) -> None:
        super().merge_inplace(_checked(b))

    def update_from_dict(self, dict_: Any) -> None:
        super().update_from_dict(_checked(dict_))


def __getattr__(name: str) -> Any:  # PEP 562: django-celery-beat is optional
    if name == "TenantDatabaseScheduler":
        try:
            import django_celery_beat  # noqa: F401
        except ImportError:
            raise ImportError(
                "omnitenant_patch.beat:TenantDatabaseScheduler needs django-celery-beat: "
                "pip install django-celery-beat, and add it to INSTALLED_APPS"
            ) from None
        cls = globals()["TenantDatabaseScheduler"] = _database_scheduler()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: One statement for every schema's ``PeriodicTasks.last_update`` (PostgreSQL): the schemas that
#: hold the table, each read by ``query_to_xml`` in the same round trip.
STAMPS_SQL = """
SELECT n.nspname, (xpath('/row/u/text()', query_to_xml(format(
    'SELECT max(last_update) AS u FROM %%I.%%I', n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %s AND c.relkind IN ('r', 'p')
"""


def _database_scheduler() -> type:
    from django.db import DatabaseError, connections, router
    from django_celery_beat.models import PeriodicTasks
    from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

    class TenantModelEntry(ModelEntry):
        """A django-celery-beat entry; a tenant's own row runs, is saved and is disabled in its
        tenant, and publishes in it."""

        tenant_id: Optional[str] = None
        row_name: str = ""

        @classmethod
        def in_tenant(cls, model: Any, app: Any, tenant_id: str) -> Optional[Any]:
            with _use(tenant_id):
                entry = cls(model, app=app)
            return entry._owned(tenant_id)

        def _owned(self, tenant_id: str) -> Optional[Any]:
            self.tenant_id, self.row_name = tenant_id, self.model.name
            self.name = f"{self.row_name}@{tenant_id}"
            header = (STATE.config or get_config()).header
            headers = dict(self.options.get("headers") or {})
            named = headers.get(header)
            if TENANTS in headers or (named is not None and str(named) != tenant_id):
                logger.error(
                    "omnitenant_patch: periodic task %r of tenant %r names %s; a tenant's row runs "
                    "in that tenant only: it is not scheduled", self.row_name, tenant_id,
                    f"tenants={headers[TENANTS]!r}" if TENANTS in headers
                    else f"{header}={named!r}")
                return None
            headers[header] = tenant_id
            self.options["headers"] = headers
            return self

        def is_due(self) -> Any:
            if self.tenant_id is None:
                return super().is_due()
            with _use(self.tenant_id):
                return super().is_due()

        def __next__(self) -> Any:
            if self.tenant_id is None:
                return super().__next__()
            with _use(self.tenant_id):
                entry = super().__next__()
            return entry._owned(self.tenant_id) or entry

        def save(self) -> None:
            if self.tenant_id is None:
                return super().save()
            with _use(self.tenant_id):
                return super().save()

        @classmethod
        def _unpack_options(cls, **options: Any) -> Any:
            return super()._unpack_options(**fold(options, (STATE.config or get_config()).header))

    class TenantDatabaseScheduler(DatabaseScheduler):
        """django-celery-beat's ``DatabaseScheduler`` that reads the tenant keys of every entry,
        and runs each tenant's own rows in that tenant."""

        Entry = TenantModelEntry

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._stamps: Dict[str, Tuple[str, Optional[str]]] = {}  # schema -> (tenant, stamp)
            self._reread: Optional[set] = None  # tenants whose rows changed since the last read
            self._tenant_entries: Dict[str, Dict[str, Any]] = {}
            super().__init__(*args, **kwargs)

        def update_from_dict(self, mapping: Any) -> None:
            super().update_from_dict(_checked(mapping))

        def schedule_changed(self) -> bool:
            changed = super().schedule_changed()
            try:
                stamps = self._tenant_stamps()
            except DatabaseError as exc:
                logger.warning("omnitenant_patch: tenants' periodic tasks not read: %s", exc)
                return changed
            if stamps != self._stamps:
                moved = {value[0] for schema, value in stamps.items()
                         if self._stamps.get(schema) != value}
                moved |= {value[0] for schema, value in self._stamps.items()
                          if schema not in stamps}
                self._reread = (self._reread or set()) | moved
                self._stamps = stamps
                changed = True
            return changed

        def all_as_schedule(self) -> Dict[str, Any]:
            schedule = super().all_as_schedule()
            if self._reread is None:  # the first read: every tenant that has rows
                self._stamps = self._tenant_stamps()
                self._reread = {tenant for tenant, _ in self._stamps.values()}
            live = {tenant for tenant, _ in self._stamps.values()}
            for tenant_id in self._reread:
                self._tenant_entries.pop(tenant_id, None)
                if tenant_id in live:
                    self._tenant_entries[tenant_id] = self._read_tenant(tenant_id)
            self._reread = set()
            for entries in self._tenant_entries.values():
                schedule.update(entries)
            return schedule

        def _read_tenant(self, tenant_id: str) -> Dict[str, Any]:
            entries = {}
            try:
                with _use(tenant_id):
                    models = list(self.Model.objects.enabled())
                for model in models:
                    try:
                        entry = self.Entry.in_tenant(model, self.app, tenant_id)
                    except ValueError:
                        continue
                    if entry is not None:
                        entries[entry.name] = entry
            except Exception as exc:  # an unknown or half-made tenant: the others still run
                logger.error("omnitenant_patch: periodic tasks of tenant %r not read: %s",
                             tenant_id, exc)
            return entries

        def _tenant_stamps(self) -> Dict[str, Tuple[str, Optional[str]]]:
            """schema -> (tenant id, its PeriodicTasks.last_update) for every schema tenant whose
            schema holds django-celery-beat's tables: two queries."""
            backend = STATE.backend or active_backend()
            schemas = backend.schema_tenants()
            if not schemas:
                return {}
            with backend.use(None):
                alias = router.db_for_read(PeriodicTasks)
                with connections[alias].cursor() as cursor:
                    cursor.execute(STAMPS_SQL, [PeriodicTasks._meta.db_table])
                    rows = cursor.fetchall()
            return {schema: (schemas[schema], stamp) for schema, stamp in rows
                    if schema in schemas and stamp is not None}

    return TenantDatabaseScheduler


def _use(tenant_id: str) -> Any:
    backend = STATE.backend or active_backend()
    return backend.use(lookup_tenant(tenant_id, task_name="(beat)"))

