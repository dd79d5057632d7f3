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
    from omnitenant_patch import TenantContext

    def bare():
        task.apply_async(("k",), headers={"tenant_id": "acme"})

    def captured():
        with TenantContext.use_tenant(acme):
            task.apply_async(("k",))

    def context_only():  # the with-block alone, to subtract from "captured"
        with TenantContext.use_tenant(acme):
            pass

    def explicit():
        task.apply_async(("k",), tenant_id="acme")

    return {"bare + header by hand": bare, "patched, tenant_id=": explicit,
            "patched, captured from context": captured, "_context": context_only}


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
    from testproj.celery_app import app
    from testproj.tenants.models import Tenant

    from omnitenant_patch import is_patched, patch_celery, unpatch_celery

    task = app.tasks["t.tick"]
    variants = enqueue_variants(task, Tenant.objects.get(tenant_id="acme"))
    names = list(variants)

    def run(name, fn):
        if name.startswith("bare"):
            unpatch_celery()
        elif not is_patched():
            patch_celery()
        return fn

    calls = {name: count_calls(run(name, fn)) for name, fn in variants.items()}
    times = {name: [] for name in names}
    for round_ in range(rounds):
        order = names if round_ % 2 == 0 else list(reversed(names))
        for name in order:
            times[name].append(cpu_per_call(run(name, variants[name]), per_round))
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)
    patch_celery()
    return {name: {"calls": calls[name], "cpu": statistics.median(times[name])} for name in names}


# --------------------------------------------------------------------------- execution

def drain(n: int, patched: bool) -> float:
    """tasks/s of a real worker draining ``n`` tasks queued before it starts."""
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
    started = time.monotonic()
    try:
        while int(client.get(counter) or 0) < n:
            if time.monotonic() - started > 300:
                raise RuntimeError(f"worker {name} did not drain {n} tasks:\n{worker.log_tail()}")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        worker.stop()
        client.delete(counter)
    return n / elapsed


def bench_execution(n: int, rounds: int) -> dict:
    rates = {"bare": [], "patched": []}
    for round_ in range(rounds):
        for patched in ([False, True] if round_ % 2 == 0 else [True, False]):
            rate = drain(n, patched)
            rates["patched" if patched else "bare"].append(rate)
            print(f"  round {round_ + 1}: {'patched' if patched else 'bare':8} {rate:7.0f} tasks/s",
                  flush=True)
    return dict({k: statistics.median(v) for k, v in rates.items()}, all=rates)


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
    bare = enqueue["bare + header by hand"]
    context = enqueue.pop("_context")
    lines = [
        "| enqueue (`apply_async`, memory broker) | Python calls | vs. bare | CPU µs (median) "
        "| vs. bare |",
        "|---|---|---|---|---|",
    ]
    for name, row in enqueue.items():
        calls, cpu = row["calls"], row["cpu"]
        note = ""
        if "context" in name:  # the caller's own with-block is not the patch's cost
            calls -= context["calls"]
            cpu -= context["cpu"]
            note = " ¹"
        lines.append(
            f"| {name}{note} | {calls} | {calls / bare['calls']:.3f} | {cpu * 1e6:.1f} "
            f"| {cpu / bare['cpu']:.3f} |"
        )
    lines += [
        "",
        "¹ minus the caller's own `with TenantContext.use_tenant(...)` block "
        f"({context['calls']} calls, {context['cpu'] * 1e6:.1f} µs), which bare Celery needs too "
        "to know the tenant.",
        "",
        f"| execution: real worker, prefork -c 2, Redis, {args.tasks} tasks | tasks/s (median of "
        f"{args.exec_rounds}) |",
        "|---|---|",
        f"| bare Celery, header by hand | {execution['bare']:.0f} |",
        f"| patched (tenant looked up, entered, left) | {execution['patched']:.0f} |",
        f"| ratio patched / bare | {execution['patched'] / execution['bare']:.3f} |",
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    for name, rates in execution["all"].items():
        axes.plot(range(1, len(rates) + 1), rates, marker="o", label=name)
    axes.set_xlabel("round")
    axes.set_ylabel(f"tasks/s draining {args.tasks} tasks")
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.plot)


if __name__ == "__main__":
    sys.exit(main())
