"""Tenant-aware logging: ``record.tenant_id`` on every record, ``"-"`` outside a tenant.

Django (one filter on your handlers)::

    LOGGING = {
        "version": 1,
        "filters": {"tenant": {"()": "omnitenant_patch.log.TenantFilter"}},
        "formatters": {"plain": {"format": "%(levelname)s [%(tenant_id)s] %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["tenant"],
                                 "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    }

Celery workers: ``patch_celery()`` already adds the filter to the worker's
handlers, so one setting is enough::

    CELERY_WORKER_TASK_LOG_FORMAT = (
        "[%(asctime)s: %(levelname)s] %(task_name)s[%(task_id)s] tenant=%(tenant_id)s: %(message)s"
    )
"""

from __future__ import annotations

import logging
from typing import Any

from .backends import active_backend
from .ids import tenant_id_of
from .state import STATE

NO_TENANT = "-"


class TenantFilter(logging.Filter):
    """Adds ``tenant_id`` (the active tenant's id, or ``"-"``) to every record; filters nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant_id = current_tenant_id()
        return True


def current_tenant_id() -> str:
    """The id of the tenant in force, ``"-"`` outside any."""
    tenant = (STATE.backend or active_backend()).current()
    if tenant is None:
        return NO_TENANT
    try:
        return tenant_id_of(tenant) or NO_TENANT
    except (TypeError, ValueError):
        return str(tenant)


_FILTER = TenantFilter()


def add_filter_to_handlers(logger: Any = None, **_: Any) -> None:
    """Receiver of Celery's ``after_setup_logger``/``after_setup_task_logger``."""
    for handler in getattr(logger, "handlers", None) or []:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
