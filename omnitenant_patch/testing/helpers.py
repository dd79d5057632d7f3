"""Helpers for tests of tenant-aware tasks: enter a tenant, queue a task in one and wait for it."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from ..celery_compat import set_default_queue
from .worker import CeleryWorker, declared_shards, delete_queue


@contextmanager
def unpatched() -> Iterator[None]:
    """Run the ``with`` block with the patch uninstalled — as a producer that does not run it
    would publish (an older service, someone with broker access) — then install it again, with
    the same overrides, only if it was installed before.

    >>> with unpatched():
    ...     send_invoice.apply_async((42,), headers={"tenant_id": "acme"})
    """
    from ..install import is_patched, patch_celery, unpatch_celery
    from ..state import STATE

    was_patched, overrides = is_patched(), dict(STATE.overrides)
    unpatch_celery()
    try:
        yield
    finally:
        if was_patched and not is_patched():
            patch_celery(**overrides)


@contextmanager
def in_tenant(tenant: Any) -> Iterator[Any]:
    """Run the ``with`` block in ``tenant``: a tenant, its id, or ``None`` for no tenant.

    >>> with in_tenant("acme"):
    ...     send_invoice.delay(42)  # queued for acme
    """
    from ..context import TenantContext
    from ..ids import tenant_id_of
    from ..lookup import lookup_tenant

    if isinstance(tenant, (str, int)) and not isinstance(tenant, bool):
        tenant = lookup_tenant(tenant_id_of(tenant), task_name="(in_tenant)")  # type: ignore[arg-type]
    with TenantContext.use_tenant(tenant):
        yield tenant


def run_in_tenant(task: Any, tenant: Any, *args: Any, timeout: float = 30, **kwargs: Any) -> Any:
    """Queue ``task`` (a task or a signature) for ``tenant`` and return its result.

    >>> run_in_tenant(send_invoice, "acme", 42)
    """
    result = task.apply_async(args, kwargs, tenant_id=tenant)
    return result.get(timeout=timeout, disable_sync_subtasks=False)


class TenantWorker:
    """A real patched ``celery worker`` for a project's own Celery app, on a queue of its own.

    ``app`` is what ``celery -A`` takes (``"proj"``, ``"proj.celery:app"``). The worker
    runs the project's settings (broker, result backend, and pool and concurrency unless
    given), consumes a queue no other test run uses, and, under pytest-django, the test
    databases. The app in this process queues to that queue while the worker runs.
    """

    def __init__(self, app: str, *, pool: Optional[str] = None, concurrency: Optional[int] = None,
                 databases: Optional[Dict[str, str]] = None, env: Optional[Dict[str, str]] = None,
                 queue: Optional[str] = None) -> None:
        from ..celery_compat import find_app

        self.app_path = app
        self.app = find_app(app)
        self.queue = queue or f"omnitenant-test-{uuid.uuid4().hex[:12]}"
        self._own_queue = queue is None  # deleted from the broker at stop()
        conf = self.app.conf
        environment = {
            "OMNITENANT_TESTING_APP": app,
            "OMNITENANT_TESTING_QUEUE": self.queue,
            "OMNITENANT_TESTING_DATABASES": json.dumps(databases or {}),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }
        self.worker = CeleryWorker(
            "omnitenant_patch.testing.app", queue=self.queue,
            pool=pool or conf.worker_pool or "prefork",
            concurrency=concurrency or conf.worker_concurrency or 2, env=environment,
        )
        self._default_queue = conf.task_default_queue

    def start(self, timeout: float = 60) -> TenantWorker:
        set_default_queue(self.app, self.queue)
        try:
            self.worker.start(timeout=timeout)
        except BaseException:
            set_default_queue(self.app, self._default_queue)
            raise
        return self

    def stop(self) -> None:
        self.worker.stop()
        set_default_queue(self.app, self._default_queue)
        if self._own_queue:  # and the shard queues the worker declared (FAIR_SHARDS)
            for queue in [self.queue, *declared_shards(self.queue)]:
                delete_queue(self.app, queue)

    def run(self, task: Any, tenant: Any, *args: Any, timeout: float = 30, **kwargs: Any) -> Any:
        """Queue ``task`` (a task, a signature or a registered name) for ``tenant``; its result."""
        if isinstance(task, str):
            task = self.app.tasks[task]
        return run_in_tenant(task, tenant, *args, timeout=timeout, **kwargs)

    def log_text(self) -> str:
        return self.worker.log_text()

    def __repr__(self) -> str:
        return f"TenantWorker({self.app_path!r}, queue={self.queue!r})"
