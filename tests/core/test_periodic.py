"""Periodic work for many tenants, at the publish: ``tenants`` and ``spread`` on a publish (a beat
entry's options or headers) queue one fan-out message; the fan-out queues one task per tenant,
streamed; bad values are refused before anything is published."""

import pytest
from celery import signature

from omnitenant_patch import for_each_tenant
from omnitenant_patch.fanout import WINDOW, fan_out
from omnitenant_patch.periodic import (
    FAN_OUT_TASK,
    checked_tenants,
    fold,
    normalized_schedule,
    offset,
)


@pytest.fixture
def every_tenant(tenants):
    return sorted(tenants)


def test_a_publish_naming_tenants_queues_one_fan_out_message_routed_as_the_task(app, published):
    app.tasks["t.observe"].apply_async(("nightly",), tenants="__all__", spread=30,
                                       queue="reports", headers={"x_keep": 1})
    (message,) = published
    assert message["name"] == FAN_OUT_TASK
    assert message["headers"]["tenant_id"] is None
    assert message["options"]["queue"].name == "reports"


def test_the_fan_out_message_carries_the_task_and_whom(app, published, sent_kwargs):
    app.send_task("t.observe", ("nightly",), tenants=["acme", "globex"],
                  headers={"x_keep": 1, "tenant_id": None})
    (kwargs,) = sent_kwargs
    assert kwargs["tenants"] == ["acme", "globex"] and kwargs["spread"] == 0.0
    assert kwargs["message"]["task"] == "t.observe"
    assert kwargs["message"]["args"] == ["nightly"]
    assert kwargs["message"]["options"]["headers"] == {"x_keep": 1}


def test_tenant_keys_in_headers_fan_out_too(app, sent_kwargs, published):
    # django-celery-beat keeps only headers of an entry's options: the keys ride there
    app.tasks["t.observe"].apply_async(("row",), headers={"tenants": "__all__", "spread": 5})
    assert published[0]["name"] == FAN_OUT_TASK
    assert sent_kwargs[0]["tenants"] == "__all__" and sent_kwargs[0]["spread"] == 5.0
    assert "tenants" not in sent_kwargs[0]["message"]["options"]["headers"]


@pytest.mark.parametrize("tenants, error", [
    ("acme", ValueError), ("tests.nowhere.ready", ValueError), (42, TypeError),
    ([""], ValueError), ([None], ValueError), ("testproj.tasks.NOT_CALLABLE", ValueError),
])
def test_a_wrong_tenants_value_is_refused_before_anything_is_published(app, published, tenants,
                                                                      error):
    with pytest.raises(error, match="tenants"):
        app.tasks["t.observe"].apply_async(("x",), tenants=tenants)
    assert published == []


@pytest.mark.parametrize("spread", [-1, "60", True])
def test_a_wrong_spread_is_refused(app, published, spread):
    with pytest.raises(ValueError, match="spread"):
        app.tasks["t.observe"].apply_async(("x",), tenants="__all__", spread=spread)
    assert published == []


def test_a_tenant_and_tenants_together_are_refused(app, published):
    with pytest.raises(ValueError, match="one or the other"):
        app.tasks["t.observe"].apply_async(("x",), tenant_id="acme", tenants="__all__")
    assert published == []


def test_spread_alone_delays_the_one_tenant_by_its_stable_offset(app, published):
    app.tasks["t.observe"].apply_async(("x",), tenant_id="acme", spread=600)
    app.tasks["t.observe"].apply_async(("x",), tenant_id="acme", spread=600)
    first, second = (m["headers"]["eta"] for m in published)
    assert first is not None and published[0]["headers"]["tenant_id"] == "acme"
    assert 0 <= offset("acme", 600) < 600
    assert offset("acme", 600) == offset("acme", 600) != offset("globex", 600)
    assert abs((_when(second) - _when(first)).total_seconds()) < 5


def _when(eta):
    from datetime import datetime

    return datetime.fromisoformat(eta)


def test_the_fan_out_queues_the_task_once_per_tenant_each_in_its_tenant(app, published,
                                                                         every_tenant):
    message = {"task": "t.observe", "args": ["fan"], "kwargs": {}, "options": {"queue": "q1"}}
    assert fan_out(message, "__all__") == len(every_tenant)
    assert sorted(m["headers"]["tenant_id"] for m in published) == every_tenant
    assert {m["name"] for m in published} == {"t.observe"}
    assert {m["options"]["queue"].name for m in published} == {"q1"}


def test_a_readiness_filter_leaves_tenants_out(app, published, tenants):
    from testproj.tenants.models import Tenant

    Tenant.objects.create(tenant_id="half-made", name="migrating half-made")
    try:
        message = {"task": "t.observe", "args": [], "kwargs": {}, "options": {}}
        fan_out(message, checked_tenants("testproj.tasks.ready_tenants"))
    finally:
        Tenant.objects.filter(tenant_id="half-made").delete()
    assert sorted(m["headers"]["tenant_id"] for m in published) == sorted(tenants)


def test_for_each_tenant_reads_tenants_in_chunks(app, published, every_tenant, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnitenant_patch.backends import active_backend

    backend = active_backend()
    pages = backend.tenant_ids
    monkeypatch.setattr(type(backend), "tenant_ids", lambda self: pages(chunk_size=2))
    with CaptureQueriesContext(connection) as queries:
        count = for_each_tenant(signature("t.observe", args=("chunked",), app=app))
    assert count == len(every_tenant)
    assert len([q for q in queries if "tenants_tenant" in q["sql"]]) == len(every_tenant) // 2 + 1
    assert sorted(m["headers"]["tenant_id"] for m in published) == every_tenant


def test_a_long_spread_queues_one_fan_out_per_window(app, published, sent_kwargs):
    windows = for_each_tenant(signature("t.observe", args=("w",), app=app), spread=WINDOW * 3)
    assert windows == 3
    assert [k["window"] for k in sent_kwargs] == [0, 1, 2]
    assert {m["name"] for m in published} == {FAN_OUT_TASK}


def test_each_window_queues_only_its_tenants_within_the_window(app, published, every_tenant):
    message = {"task": "t.observe", "args": [], "kwargs": {}, "options": {}}
    spread = WINDOW * 4
    for window in range(4):
        fan_out(message, "__all__", spread, window)
    assert sorted(m["headers"]["tenant_id"] for m in published) == every_tenant
    for m in published:
        assert m["headers"]["eta"] is None or offset(m["headers"]["tenant_id"], spread) >= 0


def test_eager_fan_out_runs_the_task_in_each_tenant(app, every_tenant):
    from testproj.tenants.models import Observation

    result = app.tasks["t.observe"].apply(("eager-fan",), tenants="__all__")
    assert result.get() == len(every_tenant)
    seen = Observation.objects.filter(label="eager-fan")
    assert sorted(seen.values_list("tenant_id", flat=True)) == every_tenant
    seen.delete()


def test_fold_moves_tenant_keys_into_headers_for_schedulers_that_keep_only_headers():
    folded = fold({"queue": "q", "tenant_id": "acme", "headers": {"x": 1}}, "tenant_id")
    assert folded == {"queue": "q", "headers": {"x": 1, "tenant_id": "acme"}}
    folded = fold({"tenants": ["acme"], "spread": 10}, "tenant_id")
    assert folded == {"headers": {"tenants": ["acme"], "spread": 10.0}}
    with pytest.raises(ValueError):
        fold({"tenants": "nonsense"}, "tenant_id")


def test_tenant_schemas_celerys_key_is_read_as_a_list_of_tenants():
    schedule = {"s": {"task": "t.observe", "schedule": 5, "tenant_schemas": ["acme", "globex"],
                      "options": {"queue": "q"}}}
    assert normalized_schedule(schedule) == {"s": {
        "task": "t.observe", "schedule": 5, "options": {"queue": "q",
                                                        "tenants": ["acme", "globex"]}}}
    assert "tenant_schemas" in schedule["s"]  # the settings' own dict is not written
