"""Each tracing integration as a site sets it up, writing what it records to a file instead of a
server (SITE_TELEMETRY_FILE, one JSON line each), and read back as one shape for the tests."""

import json
import os
from contextlib import contextmanager

CAPTURE = os.environ.get("SITE_TELEMETRY_FILE", os.devnull)
#: SITE_TRACING="<sentry|otel|ddtrace>-<before|after|worker>" (see set_up)
INTEGRATION, _, ORDER = os.environ.get("SITE_TRACING", "").partition("-")


def _write(record):
    with open(CAPTURE, "a") as out:  # O_APPEND: whole lines from every process
        out.write(json.dumps(dict(record, pid=os.getpid()), default=str) + "\n")


def init(integration):
    {"sentry": _sentry, "otel": _otel, "ddtrace": _ddtrace}[integration]()


#: The worker signal each integration's docs set it up in (order "worker"): prefork children
#: and the solo pool send ``worker_process_init``, every worker ``celeryd_init``.
WORKER_SIGNAL = {"otel": "worker_process_init", "sentry": "celeryd_init", "ddtrace": "celeryd_init"}


def set_up(when):
    """In a site's settings, ``when`` ("before" or "after") the one line: initialise SITE_TRACING's
    integration if that is its order; order "worker" connects it to its worker signal instead.

    Where each integration's docs set it up: sentry docs › Celery ("If you're using Celery with
    Django in a conventional setup, have already initialized the SDK in your settings.py file
    ... you don't need to initialize the SDK separately for Celery"): "before"/"after";
    opentelemetry-instrumentation-celery README › Setting up tracing (in worker_process_init):
    "worker" only; "before"/"after" is NOT the OTel-documented place, it tests omnitenant_patch's
    support for an instrumentor set up in settings; ddtrace docs › Celery integration
    (``ddtrace.patch(celery=True)``, anywhere before the app runs): any order."""
    if INTEGRATION and ORDER == when:
        init(INTEGRATION)
    elif INTEGRATION and ORDER == "worker" and when == "after":
        from celery import signals

        getattr(signals, WORKER_SIGNAL[INTEGRATION]).connect(
            lambda **_: init(INTEGRATION), weak=False)


def _sentry():
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.transport import Transport

    class FileTransport(Transport):
        def capture_envelope(self, envelope):
            for item in envelope.items:
                if item.type == "event":
                    payload = item.payload.json
                    _write({"kind": "sentry-event", "name": payload.get("message"),
                            "trace_id": None, "task_id": None,
                            "tenant": payload.get("tags", {}).get("tenant.id")})
                if item.type == "transaction":
                    payload = item.payload.json
                    _write({"kind": "sentry", "name": payload["transaction"],
                            "trace_id": payload["contexts"]["trace"]["trace_id"],
                            "task_id": payload.get("tags", {}).get("celery_task_id"),
                            "tenant": payload.get("tags", {}).get("tenant.id")})

        def flush(self, timeout, callback=None):
            pass

    # sentry docs: Celery (init with CeleryIntegration; traces_sample_rate so that tasks are
    # traced); test plumbing: a DSN nothing listens on, and the file transport.
    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=FileTransport,
                    traces_sample_rate=1.0, integrations=[CeleryIntegration()])


def _otel():
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class FileSpanExporter(SpanExporter):
        def export(self, spans):
            for span in spans:
                attributes = dict(span.attributes or {})
                _write({"kind": "otel", "name": span.name,
                        "trace_id": format(span.get_span_context().trace_id, "032x"),
                        "task_id": attributes.get("messaging.message.id")
                        if span.name.startswith("run/") else None,
                        "tenant": attributes.get("tenant.id")})
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

    # opentelemetry-instrumentation-celery README: Setting up tracing (a TracerProvider with a
    # span processor, then CeleryInstrumentor().instrument()); test plumbing: the file exporter.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()


def _ddtrace():
    # ddtrace docs: Celery integration › distributed tracing ("default disabled but is easily
    # enabled via DD_CELERY_DISTRIBUTED_TRACING=true"): an opt-in, on here because it is the
    # mode that moves custom headers (omnitenant_patch README: With tracing).
    os.environ.setdefault("DD_CELERY_DISTRIBUTED_TRACING", "true")
    # test plumbing: no agent (a port nothing listens on), no telemetry, no remote config
    os.environ.setdefault("DD_TRACE_AGENT_URL", "http://127.0.0.1:9")
    os.environ.setdefault("DD_INSTRUMENTATION_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("DD_REMOTE_CONFIGURATION_ENABLED", "false")
    import ddtrace
    from ddtrace.trace import TraceFilter, tracer

    class FileTraceFilter(TraceFilter):
        def process_trace(self, trace):
            for span in trace:
                tags = dict(span.get_tags())
                _write({"kind": "ddtrace", "name": span.name, "trace_id": str(span.trace_id),
                        "task_id": tags.get("celery.id") if span.name == "celery.run" else None,
                        "tenant": tags.get("tenant.id")})
            return None  # nothing goes to an agent

    ddtrace.patch(celery=True)  # ddtrace docs: Celery integration ("call the patch method")
    tracer.configure(trace_processors=[FileTraceFilter()])


def tracing_now():
    """The integration with a span open here and now, or None."""
    if not INTEGRATION:
        return None
    if INTEGRATION == "sentry":
        import sentry_sdk

        return "sentry" if sentry_sdk.get_current_span() is not None else None
    if INTEGRATION == "otel":
        from opentelemetry import trace

        return "otel" if trace.get_current_span().get_span_context().is_valid else None
    from ddtrace.trace import tracer

    return "ddtrace" if tracer.current_span() is not None else None


def expected_in_task(pool):
    """What ``tracing_now()`` says inside a task on a worker of ``pool``: an integration set up in
    ``worker_process_init`` is set up only where that signal is sent."""
    if (ORDER == "worker" and WORKER_SIGNAL.get(INTEGRATION) == "worker_process_init"
            and pool not in ("prefork", "solo")):
        return None
    return INTEGRATION or None


@contextmanager
def client_trace(integration):
    """A trace started in this process, as a web request's would be; yields its trace id."""
    if integration == "sentry":
        import sentry_sdk

        with sentry_sdk.start_transaction(op="test", name="client-root") as root:
            yield root.trace_id
        sentry_sdk.flush()
    elif integration == "otel":
        from opentelemetry import trace

        with trace.get_tracer("tests").start_as_current_span("client-root") as root:
            yield format(root.get_span_context().trace_id, "032x")
    else:
        from ddtrace.trace import tracer

        with tracer.trace("client.root") as root:
            yield str(root.trace_id)


def task_runs():
    """task id -> [(trace id, tenant tag)] of every run the file holds (retries run twice)."""
    runs = {}
    try:
        lines = open(CAPTURE).read().splitlines()
    except OSError:
        return runs
    for line in lines:
        record = json.loads(line)
        if record.get("task_id"):
            runs.setdefault(record["task_id"], []).append((record["trace_id"], record["tenant"]))
    return runs
