"""Periodic tasks per tenant on a site, with a real `celery beat` beside a real worker.

A beat site (``SITE_BEAT=1``) has django-celery-beat installed as its docs and the tenancy
library's say: migrated into the shared schema and into every tenant's. Its
``CELERY_BEAT_SCHEDULE`` (``sitekit.settings.beat_schedule``) writes a note labelled for this run
in the tenants each entry names; every scenario is judged by the rows each tenant's notes table
holds. A site's ``test_beat.py`` does ``from sitekit.beat import *``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

import pytest

from .services import run_dir
from .site import started

SCHEDULERS = {
    "celery": "celery.beat:PersistentScheduler",
    "tenant": "omnitenant_patch.beat:TenantScheduler",
    "django-celery-beat": "django_celery_beat.schedulers:DatabaseScheduler",
    "tenant-database": "omnitenant_patch.beat:TenantDatabaseScheduler",
}


@pytest.fixture(scope="module")
def beat_worker(site):
    """The real worker every beat of these scenarios publishes to."""
    with started(site, "prefork", "60") as running:
        yield running


@contextmanager
def running_beat(site: Any, worker: Any, scheduler: str, **env: str) -> Iterator[Any]:
    """A real ``celery beat`` of the site with ``scheduler``, publishing to ``worker``'s queue;
    ``env``: more SITE_* settings (the label, the tenant of the one-tenant entry)."""
    folder = run_dir()
    name = f"beat-{uuid.uuid4().hex[:8]}"
    log = open(folder / f"{name}.log", "wb")
    environment = dict(os.environ, **site.env, **env, SITE_QUEUE=worker.queue,
                       PYTHONPATH=os.pathsep.join([str(site.directory),
                                                   str(site.directory.parent)]))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project.celery_app", "beat", "-l", "info",
             "-S", SCHEDULERS[scheduler], "-s", str(folder / f"{name}.schedule"),
             "--max-interval", "1"],
            env=environment, cwd=str(site.directory), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    finally:
        log.close()
    process.log = folder / f"{name}.log"  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _tail(process: Any) -> str:
    return process.log.read_text(errors="replace")[-3000:]


def _sent(process: Any, entry: str) -> int:
    """How many times beat has sent ``entry`` so far (its log)."""
    return process.log.read_text(errors="replace").count(f"Sending due task {entry} ")


def _labelled(site: Any, label: str) -> Dict[str, List[str]]:
    """Each tenant's notes written by this run's entries."""
    return {tenant_id: [row for row in site.rows(tenant_id) if row.startswith(label)]
            for tenant_id in site.fanned_out}


def _wait(site: Any, what: str, condition: Any, timeout: float = 60) -> None:
    from omnitenant_patch.testing import wait_for

    try:
        wait_for(condition, timeout=timeout, what=what)
    except TimeoutError as exc:
        pytest.fail(str(exc), pytrace=False)


# beat's own CONN_MAX_AGE: the database schedulers read their rows over a connection that
# persists from sync to sync with 60
@pytest.mark.parametrize("scheduler,conn_max_age", [*((s, "0") for s in SCHEDULERS),
                                                    ("django-celery-beat", "60"),
                                                    ("tenant-database", "60")])
def test_each_entry_runs_in_the_tenants_it_names_judged_by_rows(site, beat_worker, scheduler,
                                                                conn_max_age):
    label = f"beat-{scheduler}-{uuid.uuid4().hex[:6]}"
    one, *others = site.fanned_out
    with running_beat(site, beat_worker, scheduler, SITE_BEAT_LABEL=label, SITE_BEAT_ONE=one,
                      SITE_CONN_MAX_AGE=conn_max_age) as beat:
        # until every entry ran where it should, or beat sent it ten times (then it never will)
        _wait(site, f"every entry to run under {scheduler}",
              lambda: all(f"{label}:every" in rows for rows in _labelled(site, label).values())
              and f"{label}:one" in _labelled(site, label)[one] or beat.poll() is not None
              or _sent(beat, "every") >= 10)
        assert beat.poll() is None, _tail(beat)
    written = _labelled(site, label)
    assert all(set(rows) == {f"{label}:every"} for t, rows in written.items() if t != one)
    assert set(written[one]) == {f"{label}:every", f"{label}:one"}
    for tenant_id in site.fanned_out:
        site.remove(tenant_id, f"{label}:every")
        site.remove(tenant_id, f"{label}:one")


def _own_rows(site: Any, label: str, names: Dict[str, str]) -> None:
    """In each tenant, its own PeriodicTask rows (the same name in every tenant), as its admin
    would make them: they write notes labelled with the tenant they were made in."""
    import json

    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for tenant_id, name in names.items():
        with site.using(tenant_id):
            every, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": "site.write", "interval": every, "enabled": True,
                                     "args": json.dumps([f"{label}:own:{tenant_id}"])})


@pytest.mark.parametrize("conn_max_age", ["0", "60"])
def test_each_tenants_own_rows_run_in_that_tenant_and_changes_are_seen(site, beat_worker,
                                                                       conn_max_age):
    label = f"own-{uuid.uuid4().hex[:6]}"
    first, second = site.fanned_out[:2]
    _own_rows(site, label, {t: "nightly" for t in (first, second)})  # one name, two tenants
    try:
        with running_beat(site, beat_worker, "tenant-database", SITE_BEAT_LABEL=label,
                          SITE_BEAT_ONE=first, SITE_CONN_MAX_AGE=conn_max_age) as beat:
            def ran(tenant_id: str, text: str) -> int:
                return _labelled(site, label)[tenant_id].count(text)

            _wait(site, f"each tenant's own row to run in it:\n{_tail(beat)}",
                  lambda: ran(first, f"{label}:own:{first}") and ran(second,
                                                                     f"{label}:own:{second}")
                  or _sent(beat, f"nightly@{first}") >= 10)
            for tenant_id in (first, second):
                other = second if tenant_id == first else first
                assert ran(tenant_id, f"{label}:own:{other}") == 0  # never in another tenant
            # Disable the first tenant's row and add another there: one change, seen at one sync.
            from django_celery_beat.models import PeriodicTask

            with site.using(first):
                row = PeriodicTask.objects.get(name="nightly")
                row.enabled = False
                row.save()
            _own_rows(site, f"{label}:later", {first: "later"})
            _wait(site, f"the change to be seen at the next sync:\n{_tail(beat)}",
                  lambda: ran(first, f"{label}:later:own:{first}")
                  or _sent(beat, f"later@{first}") >= 10)
            stopped = ran(first, f"{label}:own:{first}")
            _wait(site, "two more runs of the new row",
                  lambda: ran(first, f"{label}:later:own:{first}") >= 3)
            assert ran(first, f"{label}:own:{first}") == stopped  # the disabled row ran no more
            assert ran(second, f"{label}:own:{second}") > 1  # the other tenant's row still runs
    finally:
        from django_celery_beat.models import PeriodicTask

        for tenant_id in (first, second):
            with site.using(tenant_id):
                PeriodicTask.objects.filter(name__in=["nightly", "later"]).delete()
            for text in {row for row in site.rows(tenant_id) if row.startswith(label)}:
                site.remove(tenant_id, text)


@pytest.mark.parametrize("conn_max_age", [0, 60])
def test_noticing_changes_costs_the_same_queries_however_many_tenants(site, conn_max_age):
    from celery import current_app
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnitenant_patch.beat import TenantDatabaseScheduler

    connection.close()  # the next connection lives CONN_MAX_AGE
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = conn_max_age
    scheduler = TenantDatabaseScheduler(app=current_app, lazy=True)
    try:
        scheduler.schedule_changed()
        with CaptureQueriesContext(connection) as before:
            scheduler.schedule_changed()
        added = site.add_tenants(3)
        try:
            scheduler.schedule_changed()
            with CaptureQueriesContext(connection) as after:
                scheduler.schedule_changed()
        finally:
            site.drop_tenants(added)
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = saved
    def reads(queries: Any) -> List[str]:
        # Not reads: django-tenants sets search_path before each cursor, and django-celery-beat
        # commits at every sync (a COMMIT Django logs when the connection is still open:
        # CONN_MAX_AGE > 0).
        return [q["sql"][:60] for q in queries.captured_queries
                if not q["sql"].startswith(("SET search_path", "COMMIT"))]

    assert len(before) == len(after)  # round trips, search_path included
    assert len(reads(before)) == len(reads(after)) == 3, reads(after)


__all__ = [name for name in dir() if name.startswith("test_")] + ["beat_worker"]
