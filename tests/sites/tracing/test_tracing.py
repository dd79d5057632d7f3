"""Next to a tracing integration, initialised before or after the patch: tenants stay right, the
integration's own trace continues (direct, task to task, across a retry), its wrappers survive
worker start-up, and the task's span or scope carries ``tenant.id``. Every task is judged by the
probe's answer (the tenant, schema, database and rows it read), as on every site."""

import os

from celery.app.base import Celery
from celery.app.task import Task
from probes.tasks import chain_of
from sitekit import telemetry

from omnitenant_patch.testing import wait_for

INTEGRATION = os.environ["SITE_TRACING"].partition("-")[0]
#: What the integration's own wrapper on Task.apply_async is made of (ddtrace's: a wrapt proxy).
WRAPPER = {"sentry": ("sentry_sdk",), "otel": (), "ddtrace": ("wrapt", "_wrappers")}[INTEGRATION]


def runs_of(result, count=1):
    """The integration's record of each run of the task: (trace id, tenant.id)."""
    return wait_for(lambda: (telemetry.task_runs().get(result.id) or [])[count - 1:] and
                    telemetry.task_runs()[result.id], timeout=30,
                    what=f"{count} run(s) of {result.id} in the telemetry file")


def test_tenants_stay_right(site, worker):
    assert worker.run("trace.whoami", "by name", tenant_id="acme") == site.place("acme", "by name")
    with site.using("globex"):
        captured = worker.task("trace.whoami").delay("captured")
    assert worker.get(captured) == site.place("globex", "captured")
    assert worker.run("trace.whoami", "none", tenant_id=None) == site.place(None, "none")


def test_a_task_queued_in_a_trace_continues_it_and_carries_the_tenant(site, worker):
    with telemetry.client_trace(INTEGRATION) as trace_id:
        result = worker.task("trace.whoami").apply_async(("traced",), tenant_id="acme")
    assert worker.get(result) == site.place("acme", "traced")
    assert runs_of(result) == [(trace_id, "acme")]


def test_a_task_queued_by_a_task_continues_the_trace(site, worker):
    with telemetry.client_trace(INTEGRATION) as trace_id:
        result = worker.task("trace.spawn").apply_async(tenant_id="globex")
    outcome = worker.get(result)
    child = worker.app.AsyncResult(outcome["child"])
    assert outcome["parent"] == site.place("globex", "parent")
    assert worker.get(child) == site.place("globex", "child")
    assert runs_of(result) == [(trace_id, "globex")]
    assert runs_of(child) == [(trace_id, "globex")]


def test_a_retry_continues_the_trace_in_the_same_tenant(site, worker):
    with telemetry.client_trace(INTEGRATION) as trace_id:
        result = worker.task("trace.retry").apply_async(("again",), tenant_id="acme")
    assert worker.get(result) == site.place("acme", "again")
    assert runs_of(result, count=2) == [(trace_id, "acme"), (trace_id, "acme")]


def test_the_worker_keeps_every_wrapper_on_the_publish_methods(site, worker):
    here = {"apply_async": chain_of(Task.__dict__["apply_async"]),
            "send_task": chain_of(Celery.__dict__["send_task"])}
    assert worker.run("trace.wrappers") == here
    assert "omnitenant_patch" in here["apply_async"] and "omnitenant_patch" in here["send_task"]
    if WRAPPER:
        assert any(package.startswith(WRAPPER) for package in here["apply_async"]), here


def test_the_tenant_tag_follows_the_telemetry_setting(site, eager_app):
    from django.conf import settings
    from django.test.utils import override_settings
    from probes.tasks import whoami

    tagged = whoami.apply(("tagged",), tenant_id="acme")
    with override_settings(OMNITENANT_CONFIG=dict(settings.OMNITENANT_CONFIG, TELEMETRY=False)):
        untagged = whoami.apply(("untagged",), tenant_id="acme")
    assert tagged.get() == site.place("acme", "tagged")
    assert untagged.get() == site.place("acme", "untagged")
    assert runs_of(tagged)[0][1] == "acme"
    assert runs_of(untagged)[0][1] is None


def test_an_error_reported_during_a_request_carries_the_requests_tenant(site, worker):
    """sentry-sdk's event from a view says the request's tenant, and the task the view queued
    runs there."""
    import json
    import uuid

    import pytest
    from django.test import Client

    if INTEGRATION != "sentry":
        pytest.skip("sentry-sdk reports errors; the others trace what the site instruments")
    import sentry_sdk

    message = f"boom-{uuid.uuid4().hex[:8]}"
    # test plumbing: under a server, sentry-sdk's Django integration gives each request an
    # isolation scope of its own (its WSGI/ASGI wrapper); Django's test Client bypasses that
    # wrapper, so the request's scope is opened here, as the server's would be.
    with sentry_sdk.isolation_scope():
        response = Client().get("/report/", {"message": message, "queue": worker.queue},
                                HTTP_HOST=site.host("globex"))
    assert response.status_code == 200, response.content[:500]
    answer = response.json()
    assert answer["tenant"] == "globex"
    assert worker.get(worker.app.AsyncResult(answer["task_id"])) == site.place("globex", "http")
    assert site.current_id() is None

    def event():
        for line in open(telemetry.CAPTURE).read().splitlines():
            record = json.loads(line)
            if record["kind"] == "sentry-event" and record["name"] == message:
                return record
        return None

    assert wait_for(event, timeout=30, what="sentry's event")["tenant"] == "globex"


def test_a_task_with_no_tenant_carries_no_tenant_tag_from_whoever_queued_it(site, eager_app):
    """sentry-sdk hands a task the scope of its caller: a task run with no tenant inside a
    request for globex must not report globex."""
    import pytest
    from probes.tasks import whoami

    if INTEGRATION != "sentry":
        pytest.skip("only sentry-sdk's task scope inherits its caller's tags")
    import sentry_sdk

    with sentry_sdk.isolation_scope():
        sentry_sdk.set_tag("tenant.id", "globex")  # as TenantMiddleware does for a request
        nobody = whoami.apply(("nobody",), tenant_id=None)
    assert nobody.get() == site.place(None, "nobody")
    assert runs_of(nobody)[0][1] is None
