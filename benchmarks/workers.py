"""Parts 2 to 4 of bench.py, real ``celery worker`` processes on Redis: instructions per task
under callgrind, draining tasks queued beforehand (tasks/s, CPU per task) and tenant-table
queries per task, patched against a worker in which the patch is never installed."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import time
import uuid

from common import CALLGRIND, REDIS_URL, TMP, harness, ratio

# --------------------------------------------------------------------------- instructions

def worker_instructions(n: int, patched: bool):
    """Machine instructions per task of a real ``celery worker -P solo`` draining ``n`` tasks
    from Redis: consumer, message decoding, tracer, the task's Redis ``INCR``, acks and log
    lines. Callgrind instruments nothing until the worker has run a warm-up (the tenant's
    first lookup included), then counts until the last task is done."""
    import redis

    if shutil.which("valgrind") is None:
        return None
    worker, counter = bench_worker(patched, "solo", "callgrind")
    out = TMP / f"{worker.name}.callgrind"
    client = redis.Redis.from_url(REDIS_URL)
    worker.start(prefix=(*CALLGRIND, "--instr-atstart=no", f"--callgrind-out-file={out}"),
                 timeout=600)
    try:
        queue_ticks(worker, counter, 20, patched)
        wait_for_count(client, counter, 20, worker)
        callgrind_control("on", worker)
        queue_ticks(worker, counter, n, patched)
        wait_for_count(client, counter, 20 + n, worker)
        callgrind_control("off", worker)
    finally:
        worker.stop()
        client.delete(counter)
    totals = re.search(r"^totals: (\d+)", out.read_text(), re.M)
    if totals is None:
        raise RuntimeError(f"no callgrind totals for worker {worker.name}:\n{worker.log_tail()}")
    return int(totals.group(1)) / n


def callgrind_control(instrumentation: str, worker) -> None:
    subprocess.run(["callgrind_control", f"--instr={instrumentation}", str(worker.process.pid)],
                   check=True, capture_output=True, timeout=120)


# --------------------------------------------------------------------------- execution

def bench_worker(patched: bool, pool: str, label: str):
    """A real ``celery worker`` (not started) and the Redis key its ``t.tick`` tasks count
    under. Bare: a worker process in which the patch is never installed."""
    counter = f"omnitenant-bench-{uuid.uuid4().hex[:8]}"
    env = {"OMNITENANT_BENCH_REDIS": REDIS_URL, "OMNITENANT_TEST_CACHE_DIR": "",
           "OMNITENANT_TEST_UNPATCHED": "0" if patched else "1", "PYTHONHASHSEED": "0"}
    name = f"bench-{label}-{pool}-{'patched' if patched else 'bare'}-{counter[-8:]}"
    worker = harness.Worker(name, broker="redis", pool=pool, db=os.environ["OMNITENANT_TEST_DB"],
                            tmp=TMP, extra_env=env)
    return worker, counter


def queue_ticks(worker, counter: str, n: int, patched: bool) -> None:
    """Queue ``n`` tasks for ``worker``: with ``tenant_id=`` through the patch, or bare
    Celery given the header by hand."""
    from omnitenant_patch import patch_celery, unpatch_celery

    if patched:
        patch_celery()
    else:
        unpatch_celery()
    task = worker.task("t.tick")
    with worker.app.producer_or_acquire() as producer:
        for _ in range(n):
            if patched:
                task.apply_async((counter,), tenant_id="acme", producer=producer)
            else:
                task.apply_async((counter,), headers={"tenant_id": "acme"}, producer=producer)
    patch_celery()


def wait_for_count(client, counter: str, n: int, worker) -> None:
    deadline = time.monotonic() + 600
    while int(client.get(counter) or 0) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {worker.name} did not run {n} tasks:\n"
                               f"{worker.log_tail()}")
        time.sleep(0.05)


def drain(n: int, patched: bool, pool: str) -> dict:
    """A real worker draining ``n`` tasks queued before it starts, measured from the moment it
    is ready: tasks/s, worker CPU seconds per task (main process and pool children), and the
    cumulative rate as the count grows (``curve``: (tasks done, tasks/s so far))."""
    import redis

    worker, counter = bench_worker(patched, pool, "drain")
    queue_ticks(worker, counter, n, patched)
    client = redis.Redis.from_url(REDIS_URL)
    worker.start()
    try:
        started, cpu_before = time.monotonic(), worker.process.cpu_seconds()
        done_before = int(client.get(counter) or 0)
        curve = []
        while True:
            done = int(client.get(counter) or 0) - done_before
            elapsed = time.monotonic() - started
            if done > 0:
                curve.append((done, done / elapsed))
            if done >= n - done_before:
                break
            if elapsed > 300:
                raise RuntimeError(f"worker {worker.name} did not drain {n} tasks:\n"
                                   f"{worker.log_tail()}")
            time.sleep(0.02)
        cpu = worker.process.cpu_seconds() - cpu_before
    finally:
        worker.stop()
        client.delete(counter)
    return {"rate": (n - done_before) / elapsed, "cpu_per_task": cpu / (n - done_before),
            "curve": curve}


def bench_execution(n: int, rounds: int, pool: str) -> dict:
    runs: dict = {"bare": [], "patched": []}
    for round_ in range(rounds):
        for patched in ([False, True] if round_ % 2 == 0 else [True, False]):
            run = drain(n, patched, pool)
            runs["patched" if patched else "bare"].append(run)
            print(f"  {pool} round {round_ + 1}: {'patched' if patched else 'bare':8} "
                  f"{run['rate']:7.0f} tasks/s  {run['cpu_per_task'] * 1e6:6.0f} µs CPU/task",
                  flush=True)
    bare, patched = runs["bare"], runs["patched"]
    rate_ratios = [p["rate"] / b["rate"] for p, b in zip(patched, bare)]
    return {
        "runs": runs,
        "rate": {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()},
        "cpu_per_task": {k: statistics.median(r["cpu_per_task"] for r in v)
                         for k, v in runs.items()},
        # paired by round, as for enqueue
        "rate_ratio": statistics.median(rate_ratios),
        "rate_ratio_range": (min(rate_ratios), max(rate_ratios)),
        "cpu_ratio": statistics.median(b["cpu_per_task"] / p["cpu_per_task"]
                                       for p, b in zip(patched, bare)),
    }


def bench_worker_instructions(n: int) -> dict:
    rows = {name: worker_instructions(n, patched)
            for name, patched in (("bare", False), ("patched", True))}
    rows["ratio"] = ratio(rows["bare"], rows["patched"])  # bare / patched: throughput
    return rows



# --------------------------------------------------------------------------- tenant lookups

def bench_lookups(n: int) -> float:
    worker = harness.Worker("bench-lookups", broker="redis", pool="solo",
                            db=os.environ["OMNITENANT_TEST_DB"], tmp=TMP,
                            extra_env={"OMNITENANT_TEST_COUNT_QUERIES": "1",
                                       "OMNITENANT_TEST_CACHE_DIR": "",
                                       "OMNITENANT_BENCH_REDIS": REDIS_URL})
    worker.start()
    try:
        probe = worker.task("t.tenant_queries")
        for tenant in ("acme", "globex"):  # warm
            worker.get(probe.apply_async(tenant_id=tenant))
        before = worker.get(probe.apply_async(tenant_id="acme"))
        for i in range(n):
            worker.get(worker.task("t.whoami").apply_async(tenant_id=("acme", "globex")[i % 2]))
        after = worker.get(probe.apply_async(tenant_id="acme"))
    finally:
        worker.stop()
    return (after - before) / (n + 1)
