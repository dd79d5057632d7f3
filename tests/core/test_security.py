"""Signed tenant headers, header validation, REQUIRE_TENANT and ON_MISSING_TENANT."""

import pytest
from celery import chain
from django.test.utils import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from omnitenant_patch import (
    InvalidTenantHeader,
    TenantContext,
    TenantNotFound,
    TenantRequired,
    TenantSignatureError,
    tenant_agnostic,
)
from omnitenant_patch.celery_compat import header_value
from omnitenant_patch.ids import tenant_id_of, valid_header_value
from omnitenant_patch.signing import sign, verify
from omnitenant_patch.testing import unpatched

# ------------------------------------------------------------------ signing, in process


def test_signed_header_is_bound_to_the_task_id_and_the_tenant(app, published,
                                                               signing_settings):
    result = app.tasks["t.whoami"].apply_async(tenant_id="acme")
    headers = published[0]["headers"]
    assert headers["tenant_id"] == "acme"
    assert verify(result.id, "acme", headers["tenant_id_sig"])
    assert not verify("another-task-id", "acme", headers["tenant_id_sig"])
    assert not verify(result.id, "globex", headers["tenant_id_sig"])


def test_secret_key_rotation_keeps_queued_signatures_valid():
    import django

    with override_settings(SECRET_KEY="old-key-" + "x" * 50):
        signature = sign("task-1", "acme")
    if django.VERSION < (4, 1):
        pytest.skip("SECRET_KEY_FALLBACKS exists from Django 4.1")
    with override_settings(SECRET_KEY="new-key-" + "y" * 50,
                           SECRET_KEY_FALLBACKS=["old-key-" + "x" * 50]):
        assert verify("task-1", "acme", signature)
    with override_settings(SECRET_KEY="new-key-" + "y" * 50, SECRET_KEY_FALLBACKS=[]):
        assert not verify("task-1", "acme", signature)


def test_eager_runs_verify_the_signature_they_made(app, signing_settings, acme):
    with TenantContext.use_tenant(acme):
        seen = app.tasks["t.request"].apply(tenant_id="globex").get()
    assert seen["tenant"] == "globex"


# ------------------------------------------------------------------ validation

@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=300),
                 st.binary(max_size=50), st.lists(st.text(max_size=5), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)))
def test_header_validation_never_lets_anything_but_a_bounded_printable_string_through(value):
    try:
        checked = valid_header_value(value, "tenant_id", "t.task")
    except InvalidTenantHeader:
        return
    assert isinstance(checked, str) and 0 < len(checked) <= 255
    assert checked.isprintable() and not checked.isspace()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=300),
                 st.binary(max_size=50), st.lists(st.integers(), max_size=3)))
def test_tenant_values_at_enqueue_are_an_id_none_or_a_clear_error(value):
    try:
        result = tenant_id_of(value)
    except (TypeError, ValueError) as exc:
        assert str(exc)
        return
    assert result is None or (isinstance(result, str) and result.isprintable()
                              and 0 < len(result) <= 255)


@settings(max_examples=200, deadline=None)
@given(headers=st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["tenant_id", "headers", "other"]),
    st.one_of(st.text(max_size=10), st.none(), st.dictionaries(st.just("tenant_id"),
                                                               st.text(max_size=10))),
    max_size=3)), attribute=st.one_of(st.none(), st.text(max_size=10)))
def test_header_extraction_reads_the_three_places_in_order_and_never_raises(headers, attribute):
    class Request:
        pass

    request = Request()
    request.headers = headers
    if attribute is not None:
        request.tenant_id = attribute
    nested = (headers or {}).get("headers")
    if headers and "tenant_id" in headers:  # Celery >= 5.3, eager
        expected = headers["tenant_id"]
    elif headers and isinstance(nested, dict) and "tenant_id" in nested:  # tracing tools
        expected = nested["tenant_id"]
    else:  # Celery <= 5.2 (and sentry-sdk 2.53, ddtrace on 5.3+): a request attribute
        expected = attribute
    assert header_value(request, "tenant_id") == expected


@pytest.mark.parametrize("bad", ["acme\n", "ac\x00me", "\t", "acme\x1b[31m"])
def test_control_characters_are_refused_at_enqueue(app, published, bad):
    with pytest.raises(ValueError):
        app.tasks["t.whoami"].apply_async(tenant_id=bad)
    assert published == []


# ------------------------------------------------------------------ REQUIRE_TENANT

def test_require_tenant_refuses_untenanted_tasks_before_publishing(app, published,
                                                                   settings_override, acme):
    settings_override(CELERY={"REQUIRE_TENANT": True})
    with pytest.raises(TenantRequired, match="t.whoami"):
        app.tasks["t.whoami"].delay()
    with pytest.raises(TenantRequired):
        app.send_task("t.whoami", tenant_id=None)
    with pytest.raises(TenantRequired):
        app.send_task("not.registered.here")
    assert published == []
    with TenantContext.use_tenant(acme):
        app.tasks["t.whoami"].delay()
    app.send_task("celery.backend_cleanup")  # Celery's own tasks are exempt
    assert len(published) == 2


def test_tenant_agnostic_tasks_are_exempt(app, published, settings_override):
    settings_override(CELERY={"REQUIRE_TENANT": True})

    @app.task(name="t.agnostic_option", tenant_agnostic=True)
    def by_option():
        return TenantContext.get_tenant()

    @tenant_agnostic
    @app.task(name="t.agnostic_decorator")
    def by_decorator():
        return TenantContext.get_tenant()

    try:
        by_option.delay()
        by_decorator.delay()
        assert by_option.apply().get() is None
        with pytest.raises(TenantRequired):
            app.tasks["t.whoami"].apply().get()
    finally:
        app.tasks.unregister("t.agnostic_option")
        app.tasks.unregister("t.agnostic_decorator")
    assert len(published) == 2


# ------------------------------------------------------------------ ON_MISSING_TENANT, eager

def test_missing_tenant_policy_reject_rejects_without_running_the_body(app, settings_override,
                                                                       label):
    from testproj.tenants.models import Observation

    settings_override(CELERY={"ON_MISSING_TENANT": "reject"})
    result = app.tasks["t.body_runs"].apply((label,), tenant_id="ghost")
    assert result.state == "REJECTED"
    assert not Observation.objects.filter(label=label).exists()


def test_missing_tenant_policy_raise_is_the_default(app, label):
    result = app.tasks["t.body_runs"].apply((label,), tenant_id="ghost")
    assert result.state == "FAILURE" and isinstance(result.result, TenantNotFound)


# ------------------------------------------------------------------ real worker

@pytest.mark.worker
def test_signed_canvas_retry_and_send_task_work_with_signing_on(signing_worker, signing_settings,
                                                                acme):
    w = signing_worker
    with TenantContext.use_tenant(acme):
        assert w.get(w.task("t.retry_once").delay())["tenant"] == "acme"
        steps = chain(w.sig("t.step", None, "a"), w.sig("t.step", "b")).apply_async()
    assert w.get(steps) == [["a", "acme"], ["b", "acme"]]
    assert w.get(w.app.send_task("t.app_task", tenant_id="globex"))["tenant"] == "globex"


@pytest.mark.worker
@pytest.mark.parametrize("forged", [None, "not-a-signature", "moved"])
def test_unsigned_or_forged_tenant_headers_are_refused(signing_worker, signing_settings, forged,
                                                       label):
    from testproj.tenants.models import Observation

    w = signing_worker
    headers = {"tenant_id": "acme"}
    if forged == "moved":  # a real signature, made for another message
        forged = sign("some-other-task-id", "acme")
    if forged is not None:
        headers["tenant_id_sig"] = forged
    with unpatched():  # publish as an attacker with broker access would: no patch, no key
        result = w.task("t.body_runs").apply_async((label,), headers=headers)
    with pytest.raises(Exception) as failure:
        w.get(result)
    assert type(failure.value).__name__ == TenantSignatureError.__name__
    assert result.state == "FAILURE"
    assert not Observation.objects.filter(label=label).exists()


@pytest.mark.worker
def test_missing_tenant_policy_retry_waits_for_a_tenant_being_created(signing_worker,
                                                                      signing_settings):
    from testproj.tenants.models import Tenant

    w = signing_worker
    late = f"late-{w.queue}"
    result = w.task("t.whoami").apply_async(tenant_id=late)
    w.wait_for(lambda: "TenantNotFound" in w.log_text() and late in w.log_text(),
               what="the first attempt to be retried")
    Tenant.objects.create(tenant_id=late, name="Late")
    try:
        assert w.get(result, timeout=60)["tenant"] == late
    finally:
        Tenant.objects.filter(tenant_id=late).delete()


@pytest.mark.worker
def test_a_message_without_a_tenant_fails_unrun_under_require_tenant(strict_worker, label):
    from testproj.tenants.models import Observation

    w = strict_worker
    with unpatched():  # a producer that is not patched (an older service, an attacker)
        untenanted = w.task("t.body_runs").apply_async((label,))
    with pytest.raises(Exception) as failure:
        w.get(untenanted)
    assert type(failure.value).__name__ == TenantRequired.__name__
    assert untenanted.state == "FAILURE"
    assert not Observation.objects.filter(label=label).exists()
    assert w.get(w.task("t.whoami").apply_async(tenant_id="acme"))["tenant"] == "acme"


@pytest.mark.worker
def test_missing_tenant_policy_reject_in_a_real_worker(strict_worker, label):
    from testproj.tenants.models import Observation

    w = strict_worker
    rejected = w.task("t.body_runs").apply_async((label,), tenant_id="ghost")
    w.wait_for(lambda: f"t.body_runs[{rejected.id}]" in w.log_text()
               and "TenantNotFound" in w.log_text().split(f"t.body_runs[{rejected.id}]", 2)[-1],
               what="the worker to reject the message")
    assert w.get(w.task("t.whoami").apply_async(tenant_id="globex"))["tenant"] == "globex"
    assert rejected.state != "SUCCESS"
    assert not Observation.objects.filter(label=label).exists()
