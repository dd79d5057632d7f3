"""What the patch costs, measured against bare Celery in one run.

    python benchmarks/bench.py [--tasks 5000] [--rounds 41] [--exec-rounds 5] [--plot PNG]

Bare Celery is given the same tenant header by hand: that is the floor. Bare
runs are unpatched (``unpatch_celery()`` in this process, or a child process
and a ``celery worker`` in which the patch is never installed).

1. Enqueue (``apply_async``, in-memory broker): Python function calls per
   enqueue (``sys.setprofile``) and machine instructions per enqueue
   (valgrind's callgrind, counting only the measured loop): both deterministic;
   and CPU time per enqueue, the median over many rounds of the per-round
   ratio (each round times every variant back to back, in alternating order).
2. Worker instructions: a real ``celery worker -P solo`` under callgrind,
   counted from after a warm-up until it has drained ``--worker-tasks`` tasks
   from Redis: instructions per task, deterministic, so bare / patched is the
   throughput ratio of a CPU-bound worker whatever else the machine does.
3. Execution: real ``celery worker`` subprocesses (prefork -c 2 and solo)
   draining ``--tasks`` tasks queued beforehand in Redis, patched vs. bare,
   alternating: tasks/s and the worker's CPU time per task (wall clock, noisy).
4. Tenant lookups: tenant-table queries per task in a warm worker.

Needs Redis on 127.0.0.1:6379 (db 12) and, for instruction counts, valgrind.
Writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys

from common import HERE, TMP, harness
from enqueue import bench_enqueue, child, setup_django
from workers import bench_execution, bench_lookups, bench_worker_instructions

TARGETS = {"calls": 1.02, "cpu": 1.03, "throughput": 0.97}


# --------------------------------------------------------------------------- report

def fmt(value, pattern: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, pattern)


def report(enqueue: dict, worker: dict, execution: dict, lookups: float, args) -> str:
    lines = [
        "| enqueue (`apply_async`, memory broker) | Python calls | vs. floor | instructions "
        "| vs. floor | CPU µs (median) | vs. floor ¹ |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in enqueue.items():
        floor = "floor" not in row
        lines.append(
            f"| {name} | {row['calls']} | {'floor' if floor else fmt(row['calls_ratio'], '.3f')} "
            f"| {fmt(row['instructions'], ',.0f')} "
            f"| {'floor' if floor else fmt(row['instructions_ratio'], '.3f')} "
            f"| {row['cpu'] * 1e6:.1f} | {'floor' if floor else fmt(row['cpu_ratio'], '.3f')} |"
        )
    lines += [
        "",
        f"¹ median of {args.rounds} per-round ratios against the floor above it (the bare row, "
        "or for \"captured\" bare Celery inside the same `with TenantContext.use_tenant(...)` "
        "block).",
        "",
        "| real worker, solo, Redis: instructions per task ² | bare | patched "
        "| throughput ratio (bare / patched) |",
        "|---|---|---|---|",
        f"| {args.worker_tasks} tasks after a warm-up | {fmt(worker['bare'], ',.0f')} "
        f"| {fmt(worker['patched'], ',.0f')} | **{fmt(worker['ratio'], '.3f')}** |",
        "",
        "² callgrind's count for the whole worker process (consumer, decoding, tracer, the "
        "task's Redis `INCR`, acks, two log lines), independent of whatever else the machine "
        "runs; instructions, not cycles.",
        "",
        f"| execution: real worker alone, Redis, {args.tasks} tasks | bare tasks/s "
        f"| patched tasks/s | ratio ³ (range) | bare CPU µs/task | patched CPU µs/task "
        f"| CPU ratio ³ |",
        "|---|---|---|---|---|---|---|",
    ]
    for pool, result in execution.items():
        rate, cpu = result["rate"], result["cpu_per_task"]
        low, high = result["rate_ratio_range"]
        lines.append(
            f"| {POOLS[pool]} | {rate['bare']:.0f} | {rate['patched']:.0f} "
            f"| {result['rate_ratio']:.3f} ({low:.2f}–{high:.2f}) | {cpu['bare'] * 1e6:.0f} "
            f"| {cpu['patched'] * 1e6:.0f} | {result['cpu_ratio']:.3f} |"
        )
    lines += [
        "",
        f"³ patched / bare (CPU: bare / patched), median of {args.exec_rounds} per-round ratios; "
        "rounds alternate which goes first. Back-to-back runs on this shared machine differ by "
        "up to ±10 %: read the range. The instruction count above is free of that noise but "
        "counts no cache or scheduling cost, so the throughput target is judged on both.",
        "",
        f"Tenant-table queries per task in a warm worker: **{lookups:.3f}**.",
        "",
        targets(enqueue, worker, execution, lookups),
        "",
        f"Command: `python benchmarks/bench.py --tasks {args.tasks} --rounds {args.rounds} "
        f"--exec-rounds {args.exec_rounds} --worker-tasks {args.worker_tasks}`. "
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, Celery {__import__('celery').__version__}, "
        f"Django {__import__('django').__version__}.",
    ]
    return "\n".join(lines)


POOLS = {"prefork": "prefork -c 2", "solo": "solo"}


def targets(enqueue: dict, worker: dict, execution: dict, lookups: float) -> str:
    compared = [row for row in enqueue.values() if "floor" in row]
    worst_calls = max(row["calls_ratio"] for row in compared)
    worst_cpu = max(row["cpu_ratio"] for row in compared)
    wall = {pool: result["rate_ratio"] for pool, result in execution.items()}
    throughput = worker["ratio"]
    rows = [
        ("Python calls per enqueue ≤ +2 %", f"{worst_calls:.3f}",
         worst_calls <= TARGETS["calls"]),
        ("CPU-time ratio per enqueue ≤ 1.03", f"{worst_cpu:.3f}", worst_cpu <= TARGETS["cpu"]),
        # Instructions are noise-free but count no cache or scheduling cost; the wall clock
        # has all of it and the machine's noise too: the target holds only if both say so.
        ("worker throughput ratio ≥ 0.97",
         f"wall clock (median) {', '.join(f'{pool} {r:.3f}' for pool, r in wall.items())}; "
         f"instructions {fmt(throughput, '.3f')}",
         throughput is not None and throughput >= TARGETS["throughput"]
         and min(wall.values()) >= TARGETS["throughput"]),
        ("0 tenant queries per task once warm", f"{lookups:.3f}", lookups == 0),
    ]
    lines = ["| target | worst case here | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in rows]
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks per worker drain")
    parser.add_argument("--rounds", type=int, default=41, help="enqueue rounds")
    parser.add_argument("--per-round", type=int, default=400, help="enqueues per round")
    parser.add_argument("--exec-rounds", type=int, default=5, help="worker rounds per variant")
    parser.add_argument("--pools", default="prefork,solo", help="worker pools to drain with")
    parser.add_argument("--worker-tasks", type=int, default=500,
                        help="tasks counted under callgrind")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--plot", help="write a throughput plot (needs matplotlib)")
    args = parser.parse_args()
    if not harness.reachable("redis"):
        print("Redis is not reachable on 127.0.0.1:6379", file=sys.stderr)
        return 2
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: instruction counts are left out", file=sys.stderr)
    setup_django()
    print("enqueue …", flush=True)
    enqueue = bench_enqueue(args.rounds, args.per_round)
    print("worker instructions (callgrind) …", flush=True)
    worker = bench_worker_instructions(args.worker_tasks)
    print("execution …", flush=True)
    execution = {pool: bench_execution(args.tasks, args.exec_rounds, pool)
                 for pool in args.pools.split(",")}
    print("tenant lookups …", flush=True)
    lookups = bench_lookups(args.lookups)
    text = report(enqueue, worker, execution, lookups, args)
    (HERE / "RESULTS.md").write_text("# Benchmark results\n\n" + text + "\n")
    print(text)
    if args.plot:
        plot(execution, args)
    return 0


def plot(execution: dict, args) -> None:
    """Throughput as the worker gets through the queue: tasks/s so far, against tasks done
    (median over the rounds at each count), per pool, patched and bare."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = list(range(args.tasks // 20, args.tasks + 1, args.tasks // 20))
    figure, axes = plt.subplots(figsize=(6.5, 3.8))
    for pool, result in execution.items():
        for name, runs in result["runs"].items():
            medians = [statistics.median(rate_at(run["curve"], count) for run in runs)
                       for count in grid]
            axes.plot(grid, medians, marker="o", markersize=3,
                      linestyle="-" if name == "patched" else "--",
                      label=f"{POOLS[pool]}, {name}")
    axes.set_xlabel("tasks done")
    axes.set_ylabel("tasks/s so far")
    axes.set_title(f"real worker draining {args.tasks} tasks from Redis "
                   f"(median of {args.exec_rounds} rounds)", fontsize=9)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.plot)


def rate_at(curve: list, count: int) -> float:
    """The cumulative rate when ``count`` tasks were done (the first sample at or past it)."""
    for done, rate in curve:
        if done >= count:
            return rate
    return curve[-1][1]


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
