"""Faults, with real workers and real brokers: a worker process killed mid-task, a broker
restart, a soak across 50 tenants with failures and retries, and gevent's greenlets."""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import harness
import pytest
import redis
from conftest import _SQLITE, _TMP, _start_worker

pytestmark = pytest.mark.worker
SOAK_TASKS = int(os.environ.get("OMNITENANT_SOAK_TASKS", "10000"))
SOAK_TENANTS = 50


def test_worker_killed_mid_task_redelivers_it_in_the_same_tenant():
    from testproj.tenants.models import Observation

    worker = _start_worker("amqp-prefork-crash", "amqp", "prefork", "sqlite", {})
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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_queued_tasks_keep_their_tenants_across_a_broker_restart():
    if not shutil.which("redis-server"):
        message = "the redis-server binary is not on PATH"
        pytest.fail(message) if harness.IN_CI else pytest.skip(message)
    port = _free_port()
    folder = _TMP / f"redis-{port}"
    folder.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
               "--appendonly", "yes", "--appendfsync", "always", "--save", ""]

    def start_redis():
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(port=port)
        harness.Worker.wait_for(lambda: _pings(client), what="redis-server to start")
        return process

    server = start_redis()
    worker = harness.Worker("redis-restart", broker="redis", pool="solo", db=f"sqlite:{_SQLITE}",
                            tmp=_TMP, broker_override=f"redis://127.0.0.1:{port}/0")
    try:
        tenants = ["acme", "globex", None, "42"] * 5
        before = [worker.task("t.whoami").apply_async((i,), tenant_id=t)
                  for i, t in enumerate(tenants)]
        redis.Redis(port=port).shutdown()  # the broker goes down with the messages queued
        server.wait(timeout=20)
        server = start_redis()
        worker.start()
        assert [worker.get(r)["tenant"] for r in before] == tenants
        redis.Redis(port=port).shutdown()  # and again while the worker is connected
        server.wait(timeout=20)
        server = start_redis()
        after = [worker.task("t.whoami").apply_async((i,), tenant_id=t)
                 for i, t in enumerate(tenants)]
        assert [worker.get(r, timeout=60)["tenant"] for r in after] == tenants
    finally:
        worker.stop()
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)


def _pings(client):
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


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
    worker = harness.Worker(f"soak-{pool}", broker="redis", pool=pool, db=f"sqlite:{_SQLITE}",
                            tmp=_TMP, concurrency=concurrency)
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
                            db=f"sqlite:{_SQLITE}", tmp=_TMP, concurrency=20).start()
    try:
        tenants = ["acme", "globex", "42", None] * 10
        results = [worker.task("t.sleepy").apply_async((0.3,), tenant_id=t) for t in tenants]
        assert [worker.get(r) for r in results] == [[t, t] for t in tenants]
    finally:
        worker.stop()
