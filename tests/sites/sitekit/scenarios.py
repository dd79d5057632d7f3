"""The scenarios every tenancy library's site must pass, against real workers.

A site's test module does ``from sitekit.scenarios import *``; its conftest provides
the ``site`` fixture (a ``Site``) and ``worker`` (a started ``SiteWorker``, one per pool
and ``CONN_MAX_AGE`` the site lists). Every answer is the probe's: the library's current
tenant, ``current_schema()``, ``current_database()`` and the rows the task read.
"""

import uuid

import pytest
from celery import chain, chord, group

from omnitenant_patch import TenantNotFound

__all__ = [name for name in dir() if name.startswith("test_")]


# ------------------------------------------------------------------ real workers

def test_each_tenant_reads_its_own_rows_in_its_own_schema_and_database(site, worker):
    for tenant_id in site.tenant_ids:
        queued = worker.task("site.probe").apply_async((tenant_id,), tenant_id=tenant_id)
        assert worker.get(queued) == site.place(tenant_id, tenant_id)
        assert worker.run("site.probe", "by name", tenant_id=tenant_id) == site.place(
            tenant_id, "by name")


def test_a_tenant_instance_is_a_tenant_id(site, worker):
    for tenant_id in site.tenant_ids:
        tenant = site.tenant(tenant_id)
        result = worker.task("site.probe").apply_async((tenant_id,), tenant_id=tenant)
        assert worker.get(result) == site.place(tenant_id, tenant_id)


def test_the_current_tenant_is_captured_at_enqueue(site, worker):
    for tenant_id in site.tenant_ids:
        with site.using(tenant_id):
            result = worker.task("site.probe").delay("captured")
        assert worker.get(result) == site.place(tenant_id, "captured")


def test_no_tenant_runs_in_the_shared_place_even_right_after_tenant_tasks(site, worker):
    order = [t for tenant_id in site.tenant_ids for t in (tenant_id, None)] * 3
    results = []
    for i, tenant_id in enumerate(order):
        if tenant_id is None:
            results.append(worker.task("site.probe").apply_async((i,)))
        else:
            with site.using(tenant_id):
                results.append(worker.task("site.probe").apply_async((i,)))
    assert [worker.get(r) for r in results] == [site.place(t, i) for i, t in enumerate(order)]


def test_a_task_of_a_projects_own_fixed_base_class_runs_in_its_tenant(site, worker):
    for tenant_id in site.tenant_ids:
        with site.using(tenant_id):
            result = worker.task("site.legacy").delay("legacy")
        assert worker.get(result) == site.place(tenant_id, "legacy")


def test_a_tracing_integration_around_the_task_leaves_it_in_its_tenant(site, worker):
    """With SITE_TRACING, the integration's span is open inside the task (it wrapped the same
    methods as the patch) and the task still reads its tenant's rows; without, no span."""
    from sitekit import telemetry

    for tenant_id in site.tenant_ids:
        with site.using(tenant_id):
            result = worker.task("site.traced").delay("traced")
        assert worker.get(result) == {"tracer": telemetry.expected_in_task(worker.pool),
                                      **site.place(tenant_id, "traced")}


def test_a_retry_runs_in_the_same_tenant(site, worker):
    tenant_id = site.tenant_ids[-1]
    assert worker.run("site.retry", "again", tenant_id=tenant_id) == site.place(tenant_id, "again")


def test_every_step_of_a_chain_runs_in_the_tenant(site, worker):
    tenant_id = site.tenant_ids[0]
    steps = chain(worker.sig("site.step", None, "a"), worker.sig("site.step", "b"),
                  worker.sig("site.step", "c"))
    result = steps.apply_async(tenant_id=tenant_id)
    assert worker.get(result) == [site.place(tenant_id, label) for label in "abc"]


def test_a_group_and_a_chord_run_in_the_captured_tenant(site, worker):
    tenant_id = site.tenant_ids[-1]
    with site.using(tenant_id):
        members = group(worker.sig("site.probe", i) for i in range(3)).apply_async()
        both = chord([worker.sig("site.probe", i) for i in range(3)],
                     worker.sig("site.collect")).apply_async()
    assert worker.get(members) == [site.place(tenant_id, i) for i in range(3)]
    assert worker.get(both, timeout=60) == {
        "header": [site.place(tenant_id, i) for i in range(3)],
        "body": site.place(tenant_id, "body")}


def test_a_task_queued_by_a_task_inherits_its_tenant(site, worker):
    tenant_id = site.tenant_ids[0]
    outcome = worker.run("site.spawn", tenant_id=tenant_id)
    assert outcome["parent"] == site.place(tenant_id, "parent")
    child = worker.get(worker.app.AsyncResult(outcome["child"]))
    assert child == site.place(tenant_id, "child")


def test_rows_a_task_writes_land_in_its_tenant_only(site, worker):
    text = f"written-{uuid.uuid4().hex[:8]}"
    writer, other = site.tenant_ids[0], site.tenant_ids[1]
    try:
        assert worker.run("site.write", text, tenant_id=writer) == writer
        assert text in site.rows(writer)
        assert text not in site.rows(other)
    finally:
        site.remove(writer, text)


def test_an_unknown_tenant_fails_the_task_and_its_body_never_runs(site, worker):
    text = f"ghost-{uuid.uuid4().hex[:8]}"
    result = worker.task("site.write").apply_async((text,), tenant_id="ghost")
    with pytest.raises(Exception) as failure:
        worker.get(result)
    assert type(failure.value).__name__ == TenantNotFound.__name__
    message = str(failure.value)
    assert "'ghost'" in message and "site.write" in message and "'tenant_id'" in message
    assert result.state == "FAILURE"
    assert all(text not in site.rows(t) for t in site.tenant_ids)
    assert worker.run("site.probe", "after", tenant_id=None) == site.place(None, "after")


def test_a_task_that_switches_tenant_and_never_switches_back_leaks_nothing(site, worker):
    home, elsewhere = site.tenant_ids[0], site.tenant_ids[1]
    for _ in range(3):  # reach each pool process
        leaked = worker.task("site.leak").apply_async((elsewhere,), tenant_id=home)
        assert worker.get(leaked) == site.place(elsewhere, "leaked")
        after = [worker.task("site.probe").apply_async(("after",), tenant_id=t)
                 for t in (None, home, None)]
        expected = [site.place(t, "after") for t in (None, home, None)]
        assert [worker.get(r) for r in after] == expected


def test_a_request_runs_in_the_tenant_the_library_resolved_and_queues_there(site, worker):
    from django.test import Client

    if site.host is None:
        pytest.skip("the library's docs have projects resolve requests themselves")
    for tenant_id in site.fanned_out:
        other = next(t for t in site.tenant_ids if t != tenant_id)
        response = Client().get("/queue/", {"queue": worker.queue}, HTTP_HOST=site.host(tenant_id),
                                HTTP_X_TENANT_ID=other)  # a client's header names no tenant
        assert response.status_code == 200, response.content[:500]
        answer = response.json()
        assert answer["tenant"] == tenant_id
        queued = worker.app.AsyncResult(answer["task_id"])
        assert worker.get(queued) == site.place(tenant_id, "http")
    site.after_requests()
    assert site.current_id() is None


def test_every_database_alias_reads_the_tenants_rows_in_its_schema(site, worker):
    """With a read replica (SITE_REPLICA=1): a task's queries through every alias run in its
    tenant's schema and read its rows; with no tenant, in the shared schema."""
    from django.conf import settings

    if "replica" not in settings.DATABASES:
        pytest.skip("the site has no read replica (SITE_REPLICA=1)")
    for tenant_id in [*site.tenant_ids, None]:
        answer = worker.run("site.aliases", "aliases", tenant_id=tenant_id)
        place = site.places[tenant_id]
        assert answer == {"tenant": tenant_id, "label": "aliases", "aliases": {
            alias: {"schema": place.schema, "rows": place.rows}
            for alias in ("default", "replica")}}


def test_for_each_tenant_queues_one_task_per_tenant_each_in_its_place(site, worker):
    import json

    from omnitenant_patch import for_each_tenant
    from omnitenant_patch.testing import wait_for
    from sitekit.tasks import _redis

    key = f"omnitenant-site-{worker.queue}-fan-out-{uuid.uuid4().hex[:8]}"
    try:
        queued = for_each_tenant(worker.sig("site.record", key, "fan-out"))
        assert queued == len(site.fanned_out)
        try:
            wait_for(lambda: _redis().llen(key) >= queued, timeout=40, what="every tenant's answer")
        except TimeoutError as exc:
            pytest.fail(f"{exc}:\n{worker.process.log_tail()}", pytrace=False)
        answers = [json.loads(answer) for answer in _redis().lrange(key, 0, -1)]
        seen = sorted(answers, key=lambda answer: str(answer["tenant"]))
        assert seen == [site.place(t, "fan-out") for t in sorted(site.fanned_out)]
    finally:
        _redis().delete(key)


# ------------------------------------------------------------------ in this process

def test_eager_apply_inside_another_tenant_runs_in_its_tenant_and_restores_the_caller(site):
    from notes.tasks import probe

    from sitekit.probe import where

    caller, target = site.tenant_ids[0], site.tenant_ids[1]
    with site.using(caller):
        before = _here(where)
        assert probe.apply(("eager",), tenant_id=target).get() == site.place(target, "eager")
        assert site.current_id() == caller
        assert _here(where) == before
    assert site.current_id() is None


def test_always_eager_and_a_plain_call_inside_another_tenant(site, eager_app):
    from notes.tasks import probe

    caller, target = site.tenant_ids[-1], site.tenant_ids[0]
    with site.using(caller):
        eager = probe.apply_async(("always",), tenant_id=target)
        assert eager.get() == site.place(target, "always")
        assert probe.delay("captured").get() == site.place(caller, "captured")
        assert probe("plain", tenant_id=target) == site.place(target, "plain")
        assert probe("plain") == site.place(caller, "plain")
        assert site.current_id() == caller
    assert site.current_id() is None


def test_manage_py_check_finds_nothing_wrong_with_omnitenant_patch_installed(site):
    from django.conf import settings
    from django.core import checks

    from omnitenant_patch import TenantContext
    from omnitenant_patch.backends import BACKENDS

    assert "omnitenant_patch" in settings.INSTALLED_APPS
    assert [m for m in checks.run_checks() if m.id.startswith("omnitenant.")] == []
    TenantContext.get_tenant()
    from omnitenant_patch.state import STATE

    assert STATE.backend.name in BACKENDS and STATE.backend.name != "omnitenant_patch"


def _here(where):
    from notes.models import Note

    return where(Note, lambda: None)


__all__ = [name for name in dir() if name.startswith("test_")]
