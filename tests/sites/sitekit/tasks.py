"""The probe tasks every site runs: each answers where its queries ran and what it read.

Each site's ``notes.tasks`` re-exports them (Celery's autodiscovery looks there); ``notes``
is the site's tenant app and ``tenancy`` its own notion of the current tenant.
"""

from celery import Task, shared_task
from tenancy import current_id

from .probe import where


def _here(label=None):
    from notes.models import Note

    return where(Note, current_id, label)


@shared_task(name="site.probe")
def probe(label=None):
    return _here(label)


@shared_task(name="site.retry", bind=True)
def retry_once(self, label=None):
    if self.request.retries < 1:
        raise self.retry(countdown=0, max_retries=3)
    return _here(label)


@shared_task(name="site.step")
def step(previous, label):
    return (previous or []) + [_here(label)]


@shared_task(name="site.collect")
def collect(results):
    return {"header": results, "body": _here("body")}


@shared_task(name="site.spawn")
def spawn():
    return {"parent": _here("parent"), "child": probe.delay("child").id}


@shared_task(name="site.record")
def record(key, label=None):
    """The probe's answer, pushed to the Redis list ``key``: ``for_each_tenant`` returns how many
    tasks it queued, not their results."""
    import json

    _redis().rpush(key, json.dumps(_here(label)))


@shared_task(name="site.write")
def write(text):
    """Write a row, and say in which tenant; a task for an unknown tenant never gets here."""
    from notes.models import Note

    Note._default_manager.create(text=text)
    return current_id()


@shared_task(name="site.leak")
def leak(tenant_id):
    """Switch to another tenant with the library's own API and never switch back."""
    import tenancy

    tenancy.leak(tenant_id)
    return _here("leaked")


@shared_task(name="site.traced")
def traced(label=None):
    """Which tracing integration has a span open around this task (None without one), and where
    it ran: the tracer wraps the same methods as the patch."""
    from . import telemetry

    return {"tracer": telemetry.tracing_now(), **_here(label)}


def _aliases(label=None):
    """Where each database alias's queries run, and the notes read through it."""
    from django.db import connections, transaction
    from notes.models import Note

    found = {}
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
        try:
            with transaction.atomic(using=alias):
                rows = sorted(Note._default_manager.using(alias).values_list("text", flat=True))
        except Exception as exc:  # not there: the shared schema
            rows = None if "does not exist" in str(exc) else f"{type(exc).__name__}: {exc}"
        found[alias] = {"schema": schema, "rows": rows}
    return {"tenant": current_id(), "aliases": found, "label": label}


@shared_task(name="site.aliases")
def aliases(label=None):
    """Every alias's schema and rows (a site with a read replica)."""
    return _aliases(label)


class ReplicaOnly(Task):
    """A task class naming its database aliases, tenant-schemas-celery's way."""

    tenant_databases = ("replica",)


@shared_task(name="site.replica_only", base=ReplicaOnly)
def replica_only(label=None):
    return _aliases(label)


class LegacyBase(Task):
    """A project's own fixed base class, inheriting no tenancy library's task class."""

    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs)


@shared_task(name="site.legacy", base=LegacyBase)
def legacy(label=None):
    return _here(label)


@shared_task(name="site.schema_check", ignore_result=True)
def schema_check(expected, key):
    """Benchmark task: one query for the schema PostgreSQL uses; counts right and wrong in Redis."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    _redis().incr(f"{key}:done")
    if schema != expected:
        _redis().rpush(f"{key}:wrong", f"{expected}:{schema}")


_client = []


def _redis():
    if not _client:
        import os

        import redis

        _client.append(redis.Redis.from_url(os.environ["SITE_RESULTS"]))
    return _client[0]


__all__ = ["aliases", "collect", "leak", "legacy", "probe", "record", "replica_only",
           "retry_once", "schema_check", "spawn", "step", "traced", "write"]
