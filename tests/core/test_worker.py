"""The specification, proven in real `celery worker` subprocesses (prefork, solo, threads)
against Redis, RabbitMQ and the filesystem broker, with SQLite and PostgreSQL tenants."""

import pytest
from celery import chain, chord, group

from omnitenant_patch import TenantContext

pytestmark = pytest.mark.worker


def test_explicit_tenant_option_reaches_the_worker(worker):
    result = worker.task("t.whoami").apply_async(tenant_id="acme")
    assert worker.get(result)["tenant"] == "acme"


def test_tenant_kwarg_of_delay_reaches_the_worker_and_leaves_kwargs(worker):
    result = worker.task("t.whoami").delay("k", tenant_id="globex")
    assert worker.get(result) == {"tenant": "globex", "label": "k"}


def test_tenant_instance_and_int_id_are_accepted(worker, acme):
    assert worker.get(worker.task("t.whoami").apply_async(tenant_id=acme))["tenant"] == "acme"
    assert worker.get(worker.task("t.whoami").apply_async(tenant_id=42))["tenant"] == "42"


def test_current_tenant_is_captured_at_enqueue(worker, acme):
    with TenantContext.use_tenant(acme):
        result = worker.task("t.whoami").delay("ctx")
    assert worker.get(result)["tenant"] == "acme"


def test_explicit_tenant_wins_over_the_context(worker, acme):
    with TenantContext.use_tenant(acme):
        result = worker.task("t.whoami").apply_async(tenant_id="globex")
    assert worker.get(result)["tenant"] == "globex"


def test_explicit_none_queues_without_tenant_inside_a_context(worker, acme):
    with TenantContext.use_tenant(acme):
        without = worker.task("t.whoami").apply_async(tenant_id=None)
        captured = worker.task("t.whoami").apply_async()
    assert worker.get(without)["tenant"] is None
    assert worker.get(captured)["tenant"] == "acme"


def test_task_without_header_runs_with_no_tenant(worker):
    tenanted = worker.task("t.whoami").apply_async(tenant_id="acme")
    plain = worker.app.send_task("t.whoami", headers={"unrelated": "1"})
    assert worker.get(tenanted)["tenant"] == "acme"
    assert worker.get(plain)["tenant"] is None


def test_task_declaring_tenant_id_still_receives_it(worker):
    result = worker.task("t.declares_tenant").delay(1, tenant_id="acme")
    assert worker.get(result) == {"tenant": "acme", "kwarg": "acme", "x": 1}


def test_unknown_tenant_fails_the_task_and_its_body_never_runs(worker, label):
    from testproj.tenants.models import Observation

    from omnitenant_patch import TenantNotFound

    result = worker.task("t.body_runs").apply_async((label,), tenant_id="ghost")
    with pytest.raises(Exception) as failure:
        worker.get(result)
    assert result.state == "FAILURE"
    assert type(failure.value).__name__ == TenantNotFound.__name__
    assert "'ghost'" in str(failure.value) and "t.body_runs" in str(failure.value)
    assert "'tenant_id'" in str(failure.value)
    assert not Observation.objects.filter(label=label).exists()


def test_request_is_intact_inside_the_task(worker, acme):
    with TenantContext.use_tenant(acme):
        result = worker.task("t.request").apply_async(headers={"x_probe": "p"})
    seen = worker.get(result)
    assert seen["tenant"] == "acme"
    assert seen["id"] == result.id
    assert seen["retries"] == 0
    assert seen["called_directly"] is False
    assert seen["has_delivery_info"] is True
    assert seen["custom_header"] == "p"


def test_retry_keeps_tenant_on_every_line(worker, acme):
    with TenantContext.use_tenant(acme):
        result = worker.task("t.retry_once").delay()
    assert worker.get(result) == {"tenant": "acme", "retries": 1, "id": result.id}


def test_autoretry_keeps_tenant(worker):
    result = worker.task("t.autoretry_once").apply_async(tenant_id="globex")
    assert worker.get(result) == {"tenant": "globex", "retries": 1}


def test_countdown_keeps_tenant(worker):
    result = worker.task("t.whoami").apply_async(tenant_id="acme", countdown=1)
    assert worker.get(result)["tenant"] == "acme"


def test_chain_runs_every_step_in_the_tenant(worker, acme):
    with TenantContext.use_tenant(acme):
        result = chain(worker.sig("t.step", None, "a"), worker.sig("t.step", "b"),
                       worker.sig("t.step", "c")).apply_async()
    assert worker.get(result) == [["a", "acme"], ["b", "acme"], ["c", "acme"]]


def test_chain_with_explicit_tenant_runs_every_step_in_it(worker):
    result = chain(worker.sig("t.step", None, "a"), worker.sig("t.step", "b"),
                   worker.sig("t.step", "c")).apply_async(tenant_id="globex")
    assert worker.get(result) == [["a", "globex"], ["b", "globex"], ["c", "globex"]]


def test_group_runs_every_member_in_the_tenant(worker, globex):
    with TenantContext.use_tenant(globex):
        result = group(worker.sig("t.whoami", i) for i in range(4)).apply_async()
    assert [r["tenant"] for r in worker.get(result)] == ["globex"] * 4


def test_chord_header_and_body_run_in_the_tenant(worker, acme):
    with TenantContext.use_tenant(acme):
        result = chord([worker.sig("t.whoami", i) for i in range(3)],
                       worker.sig("t.collect")).apply_async()
    outcome = worker.get(result, timeout=60)
    assert outcome["tenant"] == "acme"
    assert [r["tenant"] for r in outcome["header"]] == ["acme"] * 3


def test_link_callback_runs_in_the_tenant(worker, acme):
    callback = worker.sig("t.step", "callback").set(task_id=f"cb-{worker.queue}-{id(acme)}")
    with TenantContext.use_tenant(acme):
        worker.task("t.step").apply_async((None, "parent"), link=callback)
    seen = worker.get(worker.app.AsyncResult(callback.id))
    assert seen == [["parent", "acme"], ["callback", "acme"]]


def test_link_error_callback_runs_in_the_tenant(worker, globex):
    errback = worker.sig("t.errback").set(task_id=f"eb-{worker.queue}-{id(globex)}")
    with TenantContext.use_tenant(globex):
        failing = worker.task("t.fail").apply_async(link_error=errback)
    seen = worker.get(worker.app.AsyncResult(errback.id))
    assert seen == {"tenant": "globex", "failed": failing.id}


def test_task_queued_from_inside_a_task_inherits_its_tenant(worker):
    outcome = worker.get(worker.task("t.spawn").apply_async(tenant_id="globex"))
    assert outcome["tenant"] == "globex"
    assert worker.get(worker.app.AsyncResult(outcome["child"]))["tenant"] == "globex"


def test_send_task_by_name_carries_the_tenant(worker, acme):
    result = worker.app.send_task("t.whoami", args=("by-name",), tenant_id="acme")
    assert worker.get(result) == {"tenant": "acme", "label": "by-name"}
    with TenantContext.use_tenant(acme):
        captured = worker.app.send_task("t.app_task", kwargs={"label": "unknown-here"})
    assert worker.get(captured) == {"tenant": "acme", "label": "unknown-here"}


def test_send_task_of_a_task_unknown_here_drops_the_tenant_kwarg_in_the_worker(worker):
    result = worker.app.send_task("t.app_task", kwargs={"label": "x", "tenant_id": "globex"})
    assert worker.get(result) == {"tenant": "globex", "label": "x"}


def test_legacy_base_class_is_covered_without_changes(worker, acme):
    with TenantContext.use_tenant(acme):
        result = worker.task("t.legacy").delay()
    seen = worker.get(result)
    assert seen["tenant"] == "acme"
    assert seen["in_call"] == "acme"  # entered before the project's own __call__ runs
    assert seen["request_id"] == result.id


def test_class_based_task_is_covered(worker):
    result = worker.app.send_task("t.class_based", kwargs={"label": "cls"}, tenant_id="globex")
    assert worker.get(result) == {"tenant": "globex", "label": "cls"}


def test_no_tenant_leaks_into_the_next_task(worker):
    results = []
    for i in range(12):
        tenant = ["acme", None, "globex", None][i % 4]
        results.append((tenant, worker.task("t.whoami").apply_async((i,), tenant_id=tenant)))
    for tenant, result in results:
        assert worker.get(result)["tenant"] == tenant


def test_no_tenant_leaks_after_a_failing_task(worker):
    failing = worker.task("t.fail").apply_async(tenant_id="acme")
    after = [worker.task("t.whoami").apply_async(tenant_id=t) for t in (None, None, "globex")]
    with pytest.raises(ValueError):
        worker.get(failing)
    assert [worker.get(r)["tenant"] for r in after] == [None, None, "globex"]


def test_worker_log_lines_carry_the_tenant(worker):
    marker = f"marker-{worker.queue}"
    worker.get(worker.task("t.log").apply_async((marker,), tenant_id="globex"))
    worker.wait_for(lambda: f"tenant=globex: log line {marker}" in worker.log_text(),
                    what="the task's log line with its tenant")


def test_a_tenant_deleted_elsewhere_fails_closed_in_a_warm_worker(worker, label):
    from testproj.tenants.models import Tenant

    tenant_id = f"tmp-{worker.name}"
    tenant = Tenant.objects.using(worker.db_alias).create(tenant_id=tenant_id, name="Temp")
    for _ in range(3):  # warm every pool process's cache
        assert worker.get(worker.task("t.whoami").apply_async(tenant_id=tenant_id))["tenant"] \
            == tenant_id
    tenant.delete()
    result = worker.task("t.body_runs").apply_async((label,), tenant_id=tenant_id)
    with pytest.raises(Exception, match=tenant_id):
        worker.get(result)
    assert result.state == "FAILURE"


# ---------------------------------------------------------------- AUTO_CAPTURE off, custom header

def test_without_auto_capture_the_context_is_not_captured(worker_no_capture, no_capture_settings,
                                                          acme):
    with TenantContext.use_tenant(acme):
        result = worker_no_capture.task("t.whoami").delay()
        explicit = worker_no_capture.task("t.whoami").delay(tenant_id="globex")
    assert worker_no_capture.get(result)["tenant"] is None
    assert worker_no_capture.get(explicit)["tenant"] == "globex"


def test_without_auto_capture_explicit_tenant_travels_in_the_custom_header(
        worker_no_capture, no_capture_settings):
    result = worker_no_capture.task("t.whoami").apply_async(tenant_id="acme")
    assert worker_no_capture.get(result)["tenant"] == "acme"


def test_without_auto_capture_retry_and_chain_keep_the_tenant(worker_no_capture,
                                                              no_capture_settings):
    w = worker_no_capture
    assert w.get(w.task("t.retry_once").apply_async(tenant_id="globex"))["tenant"] == "globex"
    result = chain(w.sig("t.step", None, "a"), w.sig("t.step", "b")).apply_async(tenant_id="acme")
    assert w.get(result) == [["a", "acme"], ["b", "acme"]]


def test_without_auto_capture_a_child_queued_in_the_body_has_no_tenant(worker_no_capture,
                                                                       no_capture_settings):
    w = worker_no_capture
    outcome = w.get(w.task("t.spawn").apply_async(tenant_id="acme"))
    assert outcome["tenant"] == "acme"
    assert w.get(w.app.AsyncResult(outcome["child"]))["tenant"] is None
