"""Testing tenant-aware tasks: a real patched worker, tenants, and a pytest plugin.

The plugin is registered through the ``pytest11`` entry point, so with the package
installed a project's tests get the ``tenant_worker`` fixture (see ``plugin``).
Without pytest: ``CeleryWorker`` (any Celery app as a real ``celery worker``
subprocess), ``TenantWorker`` (the project's app, on a queue of its own),
``in_tenant``, ``run_in_tenant`` and ``unpatched``.
"""

from .helpers import TenantWorker, in_tenant, run_in_tenant, unpatched
from .worker import CeleryWorker, WorkerError, delete_queue, wait_for

__all__ = ["CeleryWorker", "TenantWorker", "WorkerError", "delete_queue", "in_tenant",
           "run_in_tenant", "unpatched", "wait_for"]
