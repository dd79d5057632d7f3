"""A site under test: its tenants, where each one's rows are, and its real workers."""

from __future__ import annotations

import importlib
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional

import pytest

from omnitenant_patch.testing import CeleryWorker, WorkerError, delete_queue

from .services import BROKER, RESULTS, RUN_ID, run_dir


@dataclass
class Place:
    """Where a task's queries must run: PostgreSQL's schema and database, and the rows it reads
    (``None``: the tenant table does not exist there)."""

    schema: str
    database: str
    rows: Optional[List[str]]


@dataclass
class Site:
    """A tenancy library's site, as its suite's conftest built it."""

    name: str
    directory: Path
    places: Dict[Optional[str], Place]  # tenant id (None: no tenant) -> where its queries run
    tenant: Callable[[str], Any]  # the tenant instance of an id, in this process
    using: Callable[[Optional[str]], ContextManager[Any]]  # the library's own way in
    current_id: Callable[[], Optional[str]]  # the library's own current tenant, as an id
    env: Dict[str, str] = field(default_factory=dict)
    static: List[str] = field(default_factory=list)  # tenants declared in settings, not rows
    tasks: str = "notes.tasks"  # the module of the site's tasks
    host: Optional[Callable[[str], str]] = None  # the host the library routes to a tenant
    after_requests: Callable[[], None] = lambda: None  # what the library leaves to the project
    # more tenants, made as the library's docs say (beat's change detection is measured with them)
    add_tenant: Optional[Callable[[str], None]] = None
    drop_tenant: Optional[Callable[[str], None]] = None

    @property
    def tenant_ids(self) -> List[str]:
        return [t for t in self.places if t is not None]

    @property
    def fanned_out(self) -> List[str]:
        """The tenants ``for_each_tenant`` reaches: every tenant the library stores as a row."""
        return [t for t in self.tenant_ids if t not in self.static]

    def place(self, tenant_id: Optional[str], label: Any = None) -> Dict[str, Any]:
        """What the probe task must answer in ``tenant_id``."""
        p = self.places[tenant_id]
        return {"tenant": tenant_id, "schema": p.schema, "database": p.database,
                "rows": p.rows, "label": label}

    def add_tenants(self, count: int) -> List[str]:
        if self.add_tenant is None:
            pytest.skip(f"{self.name} makes no tenants on the fly")
        made = [f"extra{i}{os.getpid()}" for i in range(count)]
        for tenant_id in made:
            self.add_tenant(tenant_id)
        return made

    def drop_tenants(self, tenant_ids: List[str]) -> None:
        for tenant_id in tenant_ids:
            self.drop_tenant(tenant_id)  # type: ignore[misc]

    def rows(self, tenant_id: str) -> List[str]:
        """The tenant's rows, read in this process through the library."""
        from notes.models import Note

        with self.using(tenant_id):
            return sorted(Note._default_manager.values_list("text", flat=True))

    def remove(self, tenant_id: str, text: str) -> None:
        """Delete the rows a test wrote, so that every test sees the seeded rows only."""
        from notes.models import Note

        with self.using(tenant_id):
            Note._default_manager.filter(text=text).delete()


class SiteWorker:
    """A real ``celery worker`` of the site, and a client app on its queue."""

    def __init__(self, site: Site, pool: str, conn_max_age: str) -> None:
        from celery import Celery

        self.site = site
        self.pool = pool
        self.name = f"{pool}-age{conn_max_age}"
        self.queue = f"omnitenant-{RUN_ID}-{site.name}-{self.name}"
        env = dict(site.env, SITE_QUEUE=self.queue, SITE_BROKER=BROKER, SITE_RESULTS=RESULTS,
                   SITE_CONN_MAX_AGE=conn_max_age,
                   PYTHONPATH=os.pathsep.join([str(site.directory),
                                               str(site.directory.parent)]))
        # Its log in this run's folder (removed at the run's end, even when a test failed with
        # the worker still running); it stays readable for failure messages until then.
        log_path = tempfile.mkstemp(prefix=f"celery-worker-{self.name}-", suffix=".log",
                                    dir=run_dir())
        os.close(log_path[0])
        self.process = CeleryWorker("project.celery_app", queue=self.queue, pool=pool,
                                    concurrency=2, env=env, cwd=str(site.directory),
                                    log_path=Path(log_path[1]))
        self.app = Celery(f"client-{self.name}", set_as_current=False)
        self.app.conf.update(broker_url=BROKER, result_backend=RESULTS,
                             task_default_queue=self.queue, accept_content=["json"])
        importlib.import_module(site.tasks)  # shared tasks: registered on this app too

    def start(self) -> SiteWorker:
        try:
            self.process.start()
        except WorkerError as exc:
            pytest.fail(str(exc), pytrace=False)
        return self

    def stop(self) -> None:
        self.process.stop()
        delete_queue(self.app, self.queue)

    def task(self, name: str) -> Any:
        return self.app.tasks[name]

    def sig(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.app.signature(name, args=args, kwargs=kwargs)

    def get(self, result: Any, timeout: float = 40) -> Any:
        from celery.exceptions import TimeoutError as CeleryTimeout

        try:
            return result.get(timeout=timeout, disable_sync_subtasks=False)
        except CeleryTimeout:
            pytest.fail(f"no result from worker {self.name} in {timeout} s:\n"
                        f"{self.process.log_tail()}", pytrace=False)

    def run(self, name: str, *args: Any, **options: Any) -> Any:
        """Queue the task by name (``send_task``, as beat and other services do) and wait."""
        return self.get(self.app.send_task(name, args, **options))

    def __repr__(self) -> str:
        return f"SiteWorker({self.site.name}, {self.name})"


@contextmanager
def started(site: Site, pool: str, conn_max_age: str) -> Iterator[SiteWorker]:
    worker = SiteWorker(site, pool, conn_max_age).start()
    try:
        yield worker
    finally:
        worker.stop()
