"""The specification of everything that needs no worker: queueing, eager runs, plain calls,
validation, settings and install/uninstall."""

import threading

import pytest
from celery.app.base import Celery
from celery.app.task import Task

import omnitenant_patch
from omnitenant_patch import (
    ImproperlyConfigured,
    TenantContext,
    TenantNotFound,
    UnsupportedCeleryVersion,
    celery_compat,
    get_tenant_model,
    is_patched,
    patch_celery,
    unpatch_celery,
)
from omnitenant_patch.celery_compat import header_value

# ------------------------------------------------------------------ TenantContext

def test_use_tenant_nests_and_restores_on_exceptions(acme, globex):
    assert TenantContext.get_tenant() is None
    with TenantContext.use_tenant(acme):
        with pytest.raises(RuntimeError):
            with TenantContext.use_tenant(globex):
                assert TenantContext.get_tenant() is globex
                raise RuntimeError
        assert TenantContext.get_tenant() is acme
    assert TenantContext.get_tenant() is None


def test_contexts_are_per_thread(acme):
    seen = []
    with TenantContext.use_tenant(acme):
        thread = threading.Thread(target=lambda: seen.append(TenantContext.get_tenant()))
        thread.start()
        thread.join()
        assert TenantContext.get_tenant() is acme
    assert seen == [None]


def test_get_tenant_model_reads_the_setting(settings_override):
    from testproj.tenants.models import Tenant

    assert get_tenant_model() is Tenant
    settings_override(TENANT_MODEL="tenants.Nope")
    with pytest.raises(ImproperlyConfigured, match="tenants.Nope"):
        get_tenant_model()


# ------------------------------------------------------------------ queueing side

def test_option_sets_the_header_and_never_reaches_celery(app, published):
    app.tasks["t.whoami"].apply_async(("x",), tenant_id="acme")
    (message,) = published
    assert message["headers"]["tenant_id"] == "acme"
    assert "tenant_id" not in message["options"]


def test_kwargs_sent_to_the_broker_lose_an_undeclared_tenant_id(app, sent_kwargs):
    app.tasks["t.whoami"].delay("x", tenant_id="acme")
    app.tasks["t.declares_tenant"].delay(1, tenant_id="acme")
    assert sent_kwargs == [{}, {"tenant_id": "acme"}]


def test_tenant_kwarg_handling_follows_a_task_redefined_under_its_name(app, sent_kwargs):
    # Whether a task declares tenant_id is remembered per task function, not per name.
    @app.task(name="t.redefined", shared=False)
    def declares(tenant_id=None):
        return tenant_id

    try:
        app.tasks["t.redefined"].delay(tenant_id="acme")
        app.tasks.unregister("t.redefined")

        @app.task(name="t.redefined", shared=False)
        def does_not():
            return None

        app.tasks["t.redefined"].delay(tenant_id="acme")
    finally:
        app.tasks.unregister("t.redefined")
    assert sent_kwargs == [{"tenant_id": "acme"}, {}]


def test_callers_dicts_are_never_modified(app, published):
    kwargs = {"label": "x", "tenant_id": "acme"}
    headers = {"other": "1"}
    app.tasks["t.whoami"].apply_async(kwargs=kwargs, headers=headers)
    plain = {"label": "y"}
    app.tasks["t.whoami"].apply_async(kwargs=plain, headers=headers, tenant_id="globex")
    assert kwargs == {"label": "x", "tenant_id": "acme"} and plain == {"label": "y"}
    assert headers == {"other": "1"}
    assert [m["headers"]["tenant_id"] for m in published] == ["acme", "globex"]


def test_headers_none_is_accepted(app, published, acme):
    with TenantContext.use_tenant(acme):
        app.tasks["t.whoami"].apply_async(headers=None)
    assert published[0]["headers"]["tenant_id"] == "acme"


def test_context_is_captured_and_explicit_wins(app, published, acme):
    with TenantContext.use_tenant(acme):
        app.tasks["t.whoami"].delay()
        app.tasks["t.whoami"].apply_async(tenant_id="globex")
        app.tasks["t.whoami"].apply_async(tenant_id=None)
    assert [m["headers"].get("tenant_id") for m in published] == ["acme", "globex", None]


def test_send_task_by_name_takes_the_option_and_the_context(app, published, acme):
    app.send_task("t.whoami", tenant_id="globex")
    with TenantContext.use_tenant(acme):
        app.send_task("not.registered.here")
    assert [m["headers"]["tenant_id"] for m in published] == ["globex", "acme"]
    assert all("tenant_id" not in m["options"] for m in published)


def test_tenant_kwarg_is_found_however_the_call_passes_kwargs(app, published):
    # The wrappers pass calls through in the caller's shape: kwargs by position or keyword.
    task = app.tasks["t.whoami"]
    task.apply_async(("x",), {"tenant_id": "acme"})
    task.apply_async(args=("x",), kwargs={"tenant_id": "globex"})
    app.send_task("t.whoami", ("x",), {"tenant_id": "acme"})
    app.send_task("t.whoami", kwargs={"tenant_id": "globex"})
    app.send_task(name="t.whoami", args=("x",), kwargs={"tenant_id": "acme"}, countdown=0)
    assert [m["headers"]["tenant_id"] for m in published] == [
        "acme", "globex", "acme", "globex", "acme"]


def test_tenant_kwarg_is_dropped_however_the_call_passes_kwargs(app, sent_kwargs):
    app.tasks["t.whoami"].apply_async((), {"tenant_id": "acme", "label": "p"})
    app.tasks["t.whoami"].apply_async(kwargs={"tenant_id": "acme", "label": "k"})
    app.send_task("t.whoami", (), {"tenant_id": "acme", "label": "s"})
    app.send_task("t.whoami", kwargs={"tenant_id": "acme", "label": "n"})
    assert sent_kwargs == [{"label": "p"}, {"label": "k"}, {"label": "s"}, {"label": "n"}]


def test_a_malformed_publish_call_gets_celerys_own_type_error_and_nothing_is_sent(app,
                                                                                   published):
    with pytest.raises(TypeError):
        app.tasks["t.whoami"].apply_async(("x",), args=("y",), tenant_id="acme")
    with pytest.raises(TypeError):
        app.send_task("t.whoami", name="t.whoami", tenant_id="acme")
    with pytest.raises(TypeError):
        app.send_task()
    assert published == []
    app.send_task("t.whoami", tenant_id="globex")
    assert [m["headers"]["tenant_id"] for m in published] == ["globex"]


def test_signature_options_carry_the_tenant(app, published):
    app.signature("t.whoami").set(tenant_id="acme").apply_async()
    app.signature("t.whoami", kwargs={"tenant_id": "globex"}).delay()
    assert [m["headers"]["tenant_id"] for m in published] == ["acme", "globex"]


def test_beat_entry_options_carry_the_tenant(app, published):
    from celery.beat import ScheduleEntry, Scheduler

    scheduler = Scheduler(app, lazy=True)
    for name, task, tenant in [("known", "t.whoami", "acme"), ("by-name", "not.here", "globex")]:
        entry = ScheduleEntry(name=name, task=task, schedule=60, app=app,
                              options={"tenant_id": tenant})
        scheduler.apply_async(entry, advance=False)
    assert [m["headers"]["tenant_id"] for m in published] == ["acme", "globex"]
    assert all("tenant_id" not in m["options"] for m in published)


def test_without_auto_capture_only_explicit_tenants_travel(app, published, acme,
                                                           settings_override):
    settings_override(CELERY={"AUTO_CAPTURE": False})
    with TenantContext.use_tenant(acme):
        app.tasks["t.whoami"].delay()
        app.tasks["t.whoami"].apply_async(tenant_id="globex")
    assert [m["headers"].get("tenant_id") for m in published] == [None, "globex"]


def test_custom_header_name_is_used(app, published, settings_override):
    settings_override(CELERY={"HEADER": "x_tenant"})
    app.tasks["t.whoami"].apply_async(tenant_id="acme")
    assert published[0]["headers"]["x_tenant"] == "acme"
    assert "tenant_id" not in published[0]["headers"]


@pytest.mark.parametrize("bad, error", [
    ("", ValueError), ("   ", ValueError), ("x" * 256, ValueError), (True, TypeError),
    (3.5, TypeError), (["acme"], TypeError), ({"id": "acme"}, TypeError), (object(), TypeError),
])
def test_bad_tenant_values_raise_before_anything_is_published(app, published, bad, error):
    with pytest.raises(error) as raised:
        app.tasks["t.whoami"].apply_async(tenant_id=bad)
    assert type(bad).__name__ in str(raised.value) or repr(bad)[:20] in str(raised.value)
    with pytest.raises(error):
        app.tasks["t.whoami"].delay(tenant_id=bad)
    with pytest.raises(error):
        app.send_task("t.whoami", tenant_id=bad)
    assert published == []


def test_conflicting_option_and_kwarg_are_refused(app, published):
    with pytest.raises(ValueError, match="conflicting"):
        app.tasks["t.whoami"].apply_async(kwargs={"tenant_id": "acme"}, tenant_id="globex")
    assert published == []


def test_a_model_that_is_not_a_tenant_is_refused(app, published):
    from django.contrib.contenttypes.models import ContentType

    with pytest.raises(TypeError, match="ContentType"):
        app.tasks["t.whoami"].apply_async(tenant_id=ContentType(app_label="a", model="b"))
    assert published == []


# ------------------------------------------------------------------ eager and plain calls

def test_always_eager_runs_in_the_captured_tenant_and_restores_the_caller(eager, acme, globex):
    task = eager.tasks["t.whoami"]
    with TenantContext.use_tenant(acme):
        assert task.delay().get()["tenant"] == "acme"
        assert task.apply_async(tenant_id="globex").get()["tenant"] == "globex"
        assert task.apply_async(tenant_id=None).get()["tenant"] is None
        assert TenantContext.get_tenant() is acme
    assert TenantContext.get_tenant() is None


def test_apply_runs_in_the_tenant_with_an_intact_request(app, acme):
    with TenantContext.use_tenant(acme):
        seen = app.tasks["t.request"].apply(headers={"x_probe": "p"}).get()
    assert seen["tenant"] == "acme"
    assert seen["custom_header"] == "p"
    assert seen["called_directly"] is False
    assert app.tasks["t.whoami"].apply(tenant_id="globex").get()["tenant"] == "globex"
    assert TenantContext.get_tenant() is None


def test_eager_retry_and_chain_keep_the_tenant(eager):
    from celery import chain

    assert eager.tasks["t.retry_once"].delay(tenant_id="globex").get()["tenant"] == "globex"
    steps = chain(eager.signature("t.step", (None, "a")), eager.signature("t.step", ("b",)))
    assert steps.apply_async(tenant_id="acme").get() == [["a", "acme"], ["b", "acme"]]
    assert TenantContext.get_tenant() is None


def test_eager_unknown_tenant_fails_without_running_the_body(app, label):
    from testproj.tenants.models import Observation

    result = app.tasks["t.body_runs"].apply((label,), tenant_id="ghost")
    assert result.state == "FAILURE"
    assert isinstance(result.result, TenantNotFound)
    assert "'ghost'" in str(result.result)
    assert not Observation.objects.filter(label=label).exists()


def test_plain_call_runs_in_the_callers_tenant_or_the_given_one(app, acme):
    task = app.tasks["t.whoami"]
    with TenantContext.use_tenant(acme):
        assert task("plain")["tenant"] == "acme"
        assert task("plain", tenant_id="globex") == {"tenant": "globex", "label": "plain"}
        assert TenantContext.get_tenant() is acme
    assert app.tasks["t.declares_tenant"](1, tenant_id="globex")["kwarg"] == "globex"


# ------------------------------------------------------------------ worker-side header reading

class FakeRequest:
    def __init__(self, headers=None, **attributes):
        self.headers = headers
        self.__dict__.update(attributes)


@pytest.mark.parametrize("request_, expected", [
    (FakeRequest({"tenant_id": "a"}), "a"),  # Celery >= 5.3, eager
    (FakeRequest({"headers": {"tenant_id": "b"}}), "b"),  # nested by tracing tools
    (FakeRequest(None, tenant_id="c"), "c"),  # Celery <= 5.2
    (FakeRequest({"tenant_id": "a"}, tenant_id="c"), "a"),
    (FakeRequest({}), None),
    (FakeRequest(None), None),
])
def test_header_is_read_where_each_celery_line_puts_it(request_, expected):
    assert header_value(request_, "tenant_id") == expected


# ------------------------------------------------------------------ install / uninstall

PATCHED = [(Task, "apply_async"), (Task, "apply"), (Task, "__call__"), (Celery, "send_task")]


def test_unpatch_restores_every_original_exactly_and_patch_is_idempotent():
    patched = {key: key[0].__dict__[key[1]] for key in PATCHED}
    assert is_patched()
    unpatch_celery()
    try:
        assert not is_patched()
        originals = {key: key[0].__dict__[key[1]] for key in PATCHED}
        assert all(originals[key] is not patched[key] for key in PATCHED)
        assert all(originals[key].__module__.startswith("celery.") for key in PATCHED)
        unpatch_celery()  # a second unpatch is a no-op too
    finally:
        patch_celery()
    patch_celery()
    assert {key: key[0].__dict__[key[1]] for key in PATCHED} == patched


def test_patched_call_is_seen_as_custom_by_the_tracer():
    from celery.app.trace import task_has_custom
    from testproj.celery_app import app

    assert task_has_custom(app.tasks["t.whoami"], "__call__")


def test_concurrent_patch_calls_install_once():
    unpatch_celery()
    errors = []

    def patch():
        try:
            patch_celery()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=patch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and is_patched()
    from omnitenant_patch import worker
    from omnitenant_patch.state import STATE

    assert Task.__dict__["__call__"] is worker.call
    assert STATE.displaced[Task, "__call__"] is not worker.call


def test_a_second_patch_with_other_overrides_is_refused():
    with pytest.raises(ImproperlyConfigured, match="unpatch_celery"):
        patch_celery(auto_capture=False)


def test_overrides_win_over_settings(app, published):
    unpatch_celery()
    patch_celery(header="x_override")
    try:
        app.tasks["t.whoami"].apply_async(tenant_id="acme")
    finally:
        unpatch_celery()
        patch_celery()
    assert published[0]["headers"]["x_override"] == "acme"


def test_unknown_override_is_refused():
    unpatch_celery()
    try:
        with pytest.raises(TypeError, match="auto_captur"):
            patch_celery(auto_captur=False)
    finally:
        patch_celery()


def test_unsupported_celery_is_refused_with_version_and_range(monkeypatch):
    from packaging.version import Version

    unpatch_celery()
    monkeypatch.setattr(celery_compat, "CELERY_VERSION", Version("6.0.0"))
    try:
        with pytest.raises(UnsupportedCeleryVersion, match=r"6\.0\.0.*|.*>=4\.4"):
            patch_celery()
        assert not is_patched()
    finally:
        monkeypatch.undo()
        patch_celery()


@pytest.mark.parametrize("header", ["id", "retries", "has-dash", "", "_private"])
def test_bad_header_names_are_refused(app, settings_override, header):
    settings_override(CELERY={"HEADER": header})
    with pytest.raises(ImproperlyConfigured, match="HEADER"):
        app.tasks["t.whoami"].apply_async(tenant_id="acme")


def test_public_api_is_exported():
    for name in ["patch_celery", "unpatch_celery", "is_patched", "TenantContext",
                 "get_tenant_model", "TenantNotFound", "UnsupportedCeleryVersion"]:
        assert name in omnitenant_patch.__all__
