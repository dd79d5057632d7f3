"""Faults, with real workers and real brokers: a worker process killed mid-task, a broker
restart, a soak across 50 tenants with failures and retries, and gevent's greenlets."""

import os
import signal
import time
import uuid

import harness
import pytest
import redis

pytestmark = pytest.mark.worker
SOAK_TASKS = int(os.environ.get("OMNITENANT_SOAK_TASKS", "10000"))
SOAK_TENANTS = 50
SQLITE = f"sqlite:{harness.SQLITE}"


def test_worker_killed_mid_task_redelivers_it_in_the_same_tenant():
    from testproj.tenants.models import Observation

    worker = harness.start_worker("amqp-prefork-crash", "amqp", "prefork", "sqlite", {})
    try:
        label = f"crash-{uuid.uuid4().hex[:8]}"
        result = worker.task("t.crashable").apply_async((label,), tenant_id="globex")
        first = worker.wait_for(
            lambda: Observation.objects.filter(label__startswith=f"{label}:").first(),
            what="the first attempt to start")
        os.kill(int(first.label.split(":")[1]), signal.SIGKILL)
        worker.wait_for(lambda: result.state == "SUCCESS", timeout=60,
                        what=f"the redelivered task to succeed:\n{worker.log_tail()}")
        assert result.result == "globex"
        runs = Observation.objects.filter(label__startswith=f"{label}:")
        assert [o.tenant_id for o in runs] == ["globex", "globex"]
    finally:
        worker.stop()


@pytest.mark.parametrize("broker_kind, private", [("redis", harness.PrivateRedis),
                                                  ("amqp", harness.PrivateRabbitMQ)])
def test_queued_tasks_keep_their_tenants_across_a_broker_restart(broker_kind, private):
    broker = private(harness.TMP).start()
    worker = harness.Worker(f"{broker_kind}-restart", broker=broker_kind, pool="prefork",
                            db=SQLITE, tmp=harness.TMP, broker_override=broker.url())
    try:
        _survives_broker_restarts(worker, broker)
    finally:
        worker.stop()
        broker.stop()


def _survives_broker_restarts(worker, broker):
    tenants = ["acme", "globex", None, "42"] * 5
    before = [worker.task("t.whoami").apply_async((i,), tenant_id=t)
              for i, t in enumerate(tenants)]
    broker.stop()  # down with the messages queued, before any worker took them
    broker.start()
    worker.start()
    assert [worker.get(r)["tenant"] for r in before] == tenants
    broker.stop()  # and again while the worker is connected
    broker.start()
    after = [worker.task("t.whoami").apply_async((i,), tenant_id=t)
             for i, t in enumerate(tenants)]
    assert [worker.get(r, timeout=60)["tenant"] for r in after] == tenants


def test_a_cache_outage_mid_run_fails_no_task_and_invalidation_resumes_when_it_is_back(label):
    import django
    from django.test.utils import override_settings
    from testproj.tenants.models import Tenant

    if django.VERSION < (4, 0):
        pytest.skip("django.core.cache.backends.redis exists from Django 4.0")
    harness.require("redis")
    cache = harness.PrivateRedis(harness.TMP, persist=False).start()
    worker = harness.Worker("cache-outage", broker="redis", pool="prefork", db=SQLITE,
                            tmp=harness.TMP, extra_env={"OMNITENANT_TEST_CACHE_URL": cache.url()})
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": cache.url()}}
    tenant_id = f"outage-{harness.RUN_ID}"
    with override_settings(CACHES=caches):
        tenant = Tenant.objects.create(tenant_id=tenant_id, name="before")
        worker.start()

        def names():  # enough tasks to reach both pool processes
            results = [worker.task("t.tenant_name").apply_async(tenant_id=tenant_id)
                       for _ in range(6)]
            return {worker.get(r) for r in results}

        try:
            assert names() == {"before"}
            cache.stop()
            assert names() == {"before"}
            tenant.name = "during"
            tenant.save()  # the invalidation cannot be written: logged, not raised
            assert names() == {"during"}  # no copy is trusted while the cache is down
            cache.start()
            assert names() == {"during"}
            tenant.name = "after"
            tenant.save()
            assert names() == {"after"}  # invalidation works again, no restart
            tenant.delete()
            gone = worker.task("t.body_runs").apply_async((label,), tenant_id=tenant_id)
            with pytest.raises(Exception, match=tenant_id):
                worker.get(gone)
        finally:
            worker.stop()
            cache.stop()
            Tenant.objects.filter(tenant_id=tenant_id).delete()
    log = worker.log_text()
    failed = log.count("failed (")
    assert 1 <= failed <= 2, f"{failed} outage warnings: once per pool process, not per task"
    assert "answers again" in log



@pytest.fixture(scope="module")
def soak_tenants():
    from testproj.tenants.models import Tenant

    ids = [f"soak-{i:02d}" for i in range(SOAK_TENANTS)]
    Tenant.objects.bulk_create([Tenant(tenant_id=t, name=t) for t in ids])
    yield ids
    Tenant.objects.filter(tenant_id__in=ids).delete()


@pytest.mark.parametrize("pool, concurrency", [("prefork", 2), ("threads", 8)])
def test_soak_no_task_ever_sees_the_wrong_tenant(soak_tenants, pool, concurrency, capsys):
    harness.require("redis")
    worker = harness.Worker(f"soak-{pool}", broker="redis", pool=pool, db=SQLITE,
                            tmp=harness.TMP, concurrency=concurrency)
    client = redis.Redis.from_url(worker.env["OMNITENANT_BENCH_REDIS"])
    key = f"omnitenant-soak-{uuid.uuid4().hex[:8]}"
    task = worker.task("t.soak")
    with worker.app.producer_or_acquire() as producer:
        for i in range(SOAK_TASKS):
            tenant = soak_tenants[i % SOAK_TENANTS] if i % 7 else None
            task.apply_async((key, i, tenant), tenant_id=tenant, producer=producer)
    worker.start()
    started = time.monotonic()
    try:
        worker.wait_for(lambda: int(client.get(f"{key}:done") or 0) >= SOAK_TASKS, timeout=300,
                        what=f"{SOAK_TASKS} soak tasks:\n{worker.log_tail()}")
        elapsed = time.monotonic() - started
        wrong = client.lrange(f"{key}:wrong", 0, -1)
    finally:
        worker.stop()
        client.delete(f"{key}:done", f"{key}:wrong")
    with capsys.disabled():
        print(f"\nsoak {pool} -c {concurrency}: {SOAK_TASKS} tasks, {SOAK_TENANTS} tenants, "
              f"{SOAK_TASKS // 10} failures, {SOAK_TASKS // 10} retries, "
              f"{len(wrong)} wrong tenant, {SOAK_TASKS / elapsed:.0f} tasks/s")
    assert wrong == []


def test_gevent_keeps_tenants_per_greenlet():
    pytest.importorskip("gevent", reason="gevent is not installed for this interpreter")
    harness.require("redis")
    worker = harness.Worker("redis-gevent", broker="redis", pool="gevent",
                            db=SQLITE, tmp=harness.TMP, concurrency=20).start()
    try:
        tenants = ["acme", "globex", "42", None] * 10
        results = [worker.task("t.sleepy").apply_async((0.3,), tenant_id=t) for t in tenants]
        assert [worker.get(r) for r in results] == [[t, t] for t in tenants]
    finally:
        worker.stop()
