"""What the patch costs, measured against bare Celery in one run.

    python benchmarks/bench.py [--tasks 5000] [--rounds 21] [--plot throughput.png]

1. Enqueue: CPU time per ``apply_async`` (median of many alternating rounds, the
   machine is noisy) and Python function calls per ``apply_async`` (counted with
   ``sys.setprofile``: deterministic). The floor is bare Celery given the same
   tenant header by hand.
2. Execution: tasks/second of a real ``celery worker`` (prefork, 2 processes)
   draining ``--tasks`` tasks from Redis, patched vs. bare, alternating.
3. Tenant lookups: tenant-table queries per task in a warm worker.

Needs Redis on 127.0.0.1:6379 (db 12). Writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("OMNITENANT_TEST_REDIS_DB", "12")

import harness  # noqa: E402  (the tests' real-worker harness)

REDIS_URL = f"redis://127.0.0.1:6379/{harness.REDIS_DB}"
TMP = Path(tempfile.mkdtemp(prefix="omnitenant-bench-"))


def setup_django() -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "testproj.settings",
        "OMNITENANT_TEST_DB": f"sqlite:{TMP / 'bench.sqlite3'}",
        "OMNITENANT_TEST_BROKER": "memory://",
        "OMNITENANT_TEST_BACKEND": "cache+memory://",
        "OMNITENANT_BENCH_REDIS": REDIS_URL,
    })
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from testproj.tenants.models import Tenant

    for tenant_id in ("acme", "globex"):
        Tenant.objects.get_or_create(tenant_id=tenant_id, defaults={"name": tenant_id})


# --------------------------------------------------------------------------- enqueue

def enqueue_variants(task, acme):
    """(name, patched?, function, the bare variant it is compared with)."""
    from omnitenant_patch import TenantContext

    def bare():
        task.apply_async(("k",), headers={"tenant_id": "acme"})

    def explicit():
        task.apply_async(("k",), tenant_id="acme")

    # Captured: the request's tenant is active. Bare Celery in the same with-block,
    # given the header by hand, is its floor, so the block costs both the same.
    def bare_in_tenant():
        with TenantContext.use_tenant(acme):
            task.apply_async(("k",), headers={"tenant_id": "acme"})

    def captured():
        with TenantContext.use_tenant(acme):
            task.apply_async(("k",))

    return [
        (BARE, False, bare, None),
        ("patched, tenant_id=", True, explicit, BARE),
        (BARE_IN_TENANT, False, bare_in_tenant, None),
        ("patched, captured from the tenant", True, captured, BARE_IN_TENANT),
    ]


BARE = "bare + header by hand"
BARE_IN_TENANT = "bare in the tenant + header by hand"


def count_calls(function) -> int:
    function()  # warm caches first
    calls = 0

    def profiler(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profiler)
    try:
        function()
    finally:
        sys.setprofile(None)
    return calls


def cpu_per_call(function, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        function()
    return (time.process_time() - started) / n


def bench_enqueue(rounds: int, per_round: int) -> dict:
    """Per variant: calls, median CPU per enqueue and, against its floor, the median of the
    per-round CPU ratios (each round times every variant back to back, in alternating
    order, so a ratio compares runs seconds apart and drift of the machine cancels)."""
    from testproj.celery_app import app
    from testproj.tenants.models import Tenant

    from omnitenant_patch import patch_celery, unpatch_celery

    task = app.tasks["t.tick"]
    variants = enqueue_variants(task, Tenant.objects.get(tenant_id="acme"))

    def prepared(patched, function):
        if patched:
            patch_celery()
        else:
            unpatch_celery()
        return function

    calls = {name: count_calls(prepared(patched, fn)) for name, patched, fn, _ in variants}
    times: dict = {name: [] for name, *_ in variants}
    for round_ in range(rounds):
        for name, patched, fn, _ in variants[:: 1 if round_ % 2 == 0 else -1]:
            times[name].append(cpu_per_call(prepared(patched, fn), per_round))
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)
    patch_celery()
    results = {}
    for name, _, _, floor in variants:
        row = {"calls": calls[name], "cpu": statistics.median(times[name])}
        if floor is not None:
            row["floor"] = floor
            row["calls_ratio"] = calls[name] / calls[floor]
            row["cpu_ratio"] = statistics.median(
                mine / theirs for mine, theirs in zip(times[name], times[floor]))
        results[name] = row
    return results


# --------------------------------------------------------------------------- execution

def drain(n: int, patched: bool) -> dict:
    """A real worker draining ``n`` tasks queued before it starts, measured from the moment it
    is ready: tasks/s, worker CPU seconds per task (main process and pool children), and the
    cumulative rate as the count grows (``curve``: (tasks done, tasks/s so far))."""
    import redis

    from omnitenant_patch import is_patched, patch_celery, unpatch_celery

    counter = f"omnitenant-bench-{uuid.uuid4().hex[:8]}"
    env = {"OMNITENANT_BENCH_REDIS": REDIS_URL, "OMNITENANT_TEST_CACHE_DIR": "",
           "OMNITENANT_TEST_UNPATCHED": "0" if patched else "1"}
    name = f"bench-{'patched' if patched else 'bare'}-{counter[-8:]}"
    worker = harness.Worker(name, broker="redis", pool="prefork",
                            db=os.environ["OMNITENANT_TEST_DB"], tmp=TMP, extra_env=env)
    if patched and not is_patched():
        patch_celery()
    if not patched:
        unpatch_celery()
    task = worker.task("t.tick")
    with worker.app.producer_or_acquire() as producer:
        for _ in range(n):
            if patched:
                task.apply_async((counter,), tenant_id="acme", producer=producer)
            else:
                task.apply_async((counter,), headers={"tenant_id": "acme"}, producer=producer)
    patch_celery()
    client = redis.Redis.from_url(REDIS_URL)
    worker.start()
    try:
        started, cpu_before = time.monotonic(), group_cpu_seconds(worker.process.pid)
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
                raise RuntimeError(f"worker {name} did not drain {n} tasks:\n{worker.log_tail()}")
            time.sleep(0.02)
        cpu = group_cpu_seconds(worker.process.pid) - cpu_before
    finally:
        worker.stop()
        client.delete(counter)
    return {"rate": (n - done_before) / elapsed, "cpu_per_task": cpu / (n - done_before),
            "curve": curve}


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def bench_execution(n: int, rounds: int) -> dict:
    runs: dict = {"bare": [], "patched": []}
    for round_ in range(rounds):
        for patched in ([False, True] if round_ % 2 == 0 else [True, False]):
            run = drain(n, patched)
            runs["patched" if patched else "bare"].append(run)
            print(f"  round {round_ + 1}: {'patched' if patched else 'bare':8} "
                  f"{run['rate']:7.0f} tasks/s  {run['cpu_per_task'] * 1e6:6.0f} µs CPU/task",
                  flush=True)
    bare, patched = runs["bare"], runs["patched"]
    return {
        "runs": runs,
        "rate": {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()},
        "cpu_per_task": {k: statistics.median(r["cpu_per_task"] for r in v)
                         for k, v in runs.items()},
        # paired by round, as for enqueue
        "rate_ratio": statistics.median(p["rate"] / b["rate"] for p, b in zip(patched, bare)),
        "cpu_ratio": statistics.median(b["cpu_per_task"] / p["cpu_per_task"]
                                       for p, b in zip(patched, bare)),
    }


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


# --------------------------------------------------------------------------- report

def report(enqueue: dict, execution: dict, lookups: float, args) -> str:
    lines = [
        "| enqueue (`apply_async`, memory broker) | Python calls | vs. floor | CPU µs (median) "
        "| vs. floor ¹ |",
        "|---|---|---|---|---|",
    ]
    for name, row in enqueue.items():
        calls_ratio = f"{row['calls_ratio']:.3f}" if "floor" in row else "floor"
        cpu_ratio = f"{row['cpu_ratio']:.3f}" if "floor" in row else "floor"
        lines.append(
            f"| {name} | {row['calls']} | {calls_ratio} | {row['cpu'] * 1e6:.1f} | {cpu_ratio} |"
        )
    rate, cpu = execution["rate"], execution["cpu_per_task"]
    lines += [
        "",
        "¹ median of the per-round ratios against the floor above it (the bare row, or for "
        "\"captured\" bare Celery inside the same `with TenantContext.use_tenant(...)` block).",
        "",
        f"| execution: real worker, prefork -c 2, Redis, {args.tasks} tasks | tasks/s | "
        f"worker CPU µs per task |",
        "|---|---|---|",
        f"| bare Celery, header by hand | {rate['bare']:.0f} | {cpu['bare'] * 1e6:.0f} |",
        f"| patched (tenant looked up, entered, left) | {rate['patched']:.0f} | "
        f"{cpu['patched'] * 1e6:.0f} |",
        f"| throughput ratio patched / bare ² | {execution['rate_ratio']:.3f} | "
        f"{execution['cpu_ratio']:.3f} |",
        "",
        f"² medians of {args.exec_rounds} rounds; ratios are medians of per-round ratios. The CPU "
        "column is the throughput ratio a CPU-bound worker gets (bare CPU per task / patched); "
        "wall-clock tasks/s on a shared 2-core machine moves with everything else running.",
        "",
        f"Tenant-table queries per task in a warm worker: **{lookups:.3f}**.",
        "",
        f"Command: `python benchmarks/bench.py --tasks {args.tasks} --rounds {args.rounds} "
        f"--exec-rounds {args.exec_rounds}`. Machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"Celery {__import__('celery').__version__}, Django {__import__('django').__version__}.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=21, help="enqueue rounds")
    parser.add_argument("--per-round", type=int, default=500, help="enqueues per round")
    parser.add_argument("--exec-rounds", type=int, default=3, help="worker rounds per variant")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--plot", help="write a throughput plot (needs matplotlib)")
    args = parser.parse_args()
    if not harness.reachable("redis"):
        print("Redis is not reachable on 127.0.0.1:6379", file=sys.stderr)
        return 2
    setup_django()
    print("enqueue …", flush=True)
    enqueue = bench_enqueue(args.rounds, args.per_round)
    print("execution …", flush=True)
    execution = bench_execution(args.tasks, args.exec_rounds)
    print("tenant lookups …", flush=True)
    lookups = bench_lookups(args.lookups)
    text = report(enqueue, execution, lookups, args)
    (HERE / "RESULTS.md").write_text("# Benchmark results\n\n" + text + "\n")
    print(text)
    if args.plot:
        plot(execution, args)
    return 0


def plot(execution: dict, args) -> None:
    """Throughput as the worker gets through the queue: tasks/s so far, against tasks done
    (median over the rounds at each count)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = list(range(args.tasks // 20, args.tasks + 1, args.tasks // 20))
    figure, axes = plt.subplots(figsize=(6, 3.5))
    for name, runs in execution["runs"].items():
        medians = [statistics.median(rate_at(run["curve"], count) for run in runs)
                   for count in grid]
        axes.plot(grid, medians, marker="o", markersize=3, label=name)
    axes.set_xlabel("tasks done")
    axes.set_ylabel("tasks/s so far")
    axes.set_title(f"prefork -c 2 draining {args.tasks} tasks from Redis "
                   f"(median of {args.exec_rounds})", fontsize=9)
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.plot)


def rate_at(curve: list, count: int) -> float:
    """The cumulative rate when ``count`` tasks were done (the first sample at or past it)."""
    for done, rate in curve:
        if done >= count:
            return rate
    return curve[-1][1]


if __name__ == "__main__":
    sys.exit(main())
