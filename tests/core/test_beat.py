"""Periodic tasks per tenant with a real `celery beat` and a real worker, on every scheduler a
site may run: Celery's own, omnitenant_patch's, django-celery-beat's, and omnitenant_patch's for
django-celery-beat. Each entry is judged by the tenants its task observed (rows it wrote)."""

import importlib.util
import uuid

import pytest
from django.core import checks

SCHEDULERS = {
    "celery": "celery.beat:PersistentScheduler",
    "tenant": "omnitenant_patch.beat:TenantScheduler",
    "django-celery-beat": "django_celery_beat.schedulers:DatabaseScheduler",
    "tenant-database": "omnitenant_patch.beat:TenantDatabaseScheduler",
}


def _needs(scheduler):
    import django

    uses_it = "django_celery_beat" in scheduler or "TenantDatabaseScheduler" in scheduler
    if uses_it and importlib.util.find_spec("django_celery_beat") is None:
        if django.VERSION >= (6, 1):
            pytest.skip("no django-celery-beat release supports Django 6.1 yet")
        pytest.fail("django-celery-beat is not installed: every test environment with a Django "
                    "it supports installs it")


@pytest.fixture
def half_made(scheduler, beat_worker):
    """A tenant still being migrated: a readiness filter leaves it out."""
    from testproj.tenants.models import Tenant

    _needs(SCHEDULERS[scheduler])
    tenant = Tenant.objects.using(beat_worker.db_alias).create(
        tenant_id=f"half-{uuid.uuid4().hex[:6]}", name="migrating")
    yield tenant.tenant_id
    tenant.delete()


def _run_beat(worker, scheduler, label):
    return worker.start_beat(OMNITENANT_TEST_BEAT=label,
                             OMNITENANT_TEST_BEAT_SCHEDULER=SCHEDULERS[scheduler])




@pytest.mark.worker
@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_every_entry_runs_in_the_tenants_it_names(scheduler, half_made, beat_worker):
    from testproj.tenants.models import Observation, Tenant

    label = f"{scheduler}-{uuid.uuid4().hex[:6]}"
    db = beat_worker.db_alias
    everyone = set(Tenant.objects.using(db).values_list("tenant_id", flat=True))
    expected = {"acme": {"acme"}, "fan-out": everyone, "every": everyone,
                "listed": {"globex", "42"}, "ready": everyone - {half_made}}
    if scheduler.startswith("tenant"):
        expected["tenant_schemas"] = {"acme"}

    def seen():
        rows = Observation.objects.using(db).filter(label__startswith=f"{label}:")
        found = {}
        for row_label, tenant in rows.values_list("label", "tenant_id"):
            found.setdefault(row_label.split(":", 1)[1], set()).add(tenant)
        return found

    def settled():  # each entry ran in all its tenants, or once where it should not; or beat died
        found = seen()
        return beat.poll() is not None or all(
            found.get(k, set()) >= v or None in found.get(k, ()) for k, v in expected.items())

    beat = _run_beat(beat_worker, scheduler, label)
    try:
        beat_worker.wait_for(
            settled, timeout=60,
            what=f"every entry to run under {scheduler}: {seen()}\n"
                 f"{beat_worker.beat_log(label)[-3000:]}")
    finally:
        beat_worker.stop_beat(beat, label)
    assert seen() == expected, beat_worker.beat_log(label)[-3000:]


@pytest.mark.worker
def test_beat_refuses_to_start_with_a_wrong_tenant_key(beat_worker):
    label = f"wrong-{uuid.uuid4().hex[:6]}"
    beat = beat_worker.start_beat(OMNITENANT_TEST_BEAT=label,
                                  OMNITENANT_TEST_BEAT_WRONG="nonsense")
    try:
        assert beat.wait(timeout=30) != 0
    finally:
        beat_worker.stop_beat(beat, label)
    log = beat_worker.beat_log(label)
    assert "beat refuses to start" in log and "'nonsense'" in log and "wrong-entry" in log


@pytest.fixture
def beat_schedule(app):
    saved = app.conf.beat_schedule, app.conf.beat_scheduler

    def use(schedule, scheduler="celery.beat:PersistentScheduler"):
        app.conf.beat_schedule, app.conf.beat_scheduler = schedule, scheduler
        return {m.id: m for m in checks.run_checks() if m.id.startswith("omnitenant.E00")}

    yield use
    app.conf.beat_schedule, app.conf.beat_scheduler = saved


def test_the_checks_report_a_wrong_tenant_key_and_a_scheduler_that_cannot_read_one(beat_schedule):
    entry = {"task": "t.observe", "schedule": 5.0}
    found = beat_schedule({"e": dict(entry, options={"tenants": "acme"})})
    assert "omnitenant.E006" in found and "'acme'" in found["omnitenant.E006"].msg
    found = beat_schedule({"e": dict(entry, tenant_schemas=["acme"])})
    assert "omnitenant.E007" in found and "TenantScheduler" in found["omnitenant.E007"].hint
    assert beat_schedule({"e": dict(entry, tenant_schemas=["acme"])},
                         "omnitenant_patch.beat:TenantScheduler") == {}
