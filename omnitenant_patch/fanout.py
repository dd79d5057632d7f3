"""Queue one task per tenant."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from .backends import active_backend


def for_each_tenant(signature: Any, tenants: Optional[Iterable[Any]] = None) -> List[Any]:
    """Queue ``signature`` once per tenant (every tenant by default), each in its tenant.

    Returns the ``AsyncResult`` of each message. For a periodic fan-out, call
    it from a task that beat runs with no tenant::

        @shared_task
        def nightly_reports():
            for_each_tenant(build_report.s(kind="daily"))

        CELERY_BEAT_SCHEDULE = {
            "nightly-reports": {"task": "reports.tasks.nightly_reports",
                                "schedule": crontab(hour=3, minute=0)},
        }
    """
    if tenants is None:
        tenants = active_backend().all_tenants()
    return [signature.clone().apply_async(tenant_id=tenant) for tenant in tenants]
