"""Thousands of tenants: the built-in tenant store on PostgreSQL, Redis (db 12) as the shared
Django cache, real ``celery worker -P solo`` processes.

    python benchmarks/scale.py [--tenants 20000] [--bounded 1000] [--every 1000]
                               [--warm 200] [--query-tasks 4000] [--save-rate 20]
                               [--fan-out 10000,100000]

a. Memory: ``--tenants`` tenants (bulk_create); one solo worker runs a task for each of them,
   each tenant once, ``--every`` at a time, its resident memory (``/proc/<pid>/status`` VmRSS)
   read after each batch; once with ``CACHE["MAX_TENANTS"] = --bounded``, once with it at
   ``--tenants`` (nothing is ever dropped). The difference at the end, divided by the number of
   extra tenants kept, is the memory of one cached tenant.
b. Queries per task: ``--warm`` tenants looked up once, then ``--query-tasks`` tasks over them;
   tenant-table queries counted in the worker (tests/core/testproj/query_counter.py). Once with
   nothing else going on, once while another process saves *other* tenants ``--save-rate``
   times a second (each save writes that tenant's generation to the shared cache).
c. Fan-out: ``for_each_tenant(signature)`` over ``--fan-out`` tenants (rows in PostgreSQL),
   publishing to a Redis queue nothing consumes (deleted after), in a child process of its own:
   tenants per second, the growth of its peak resident memory (VmHWM after the fan-out minus
   VmRSS before it), and the tenant-table queries. Twice per count: ``t.tick`` (a task that
   ignores its result) and ``t.whoami`` (one that stores it, Celery's default; with a Redis
   result backend, a publisher outside a worker subscribes to each such message's result).
   With ``--tracemalloc N`` also the peak of Python allocations, in a third, traced run.

Needs PostgreSQL and Redis on loopback. Writes its section of benchmarks/SCALE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import scale_common as sc
from scale_common import PREFIX

SECTION = "scale"


# --------------------------------------------------------------------------- a. memory

def memory_run(n: int, max_tenants: int, every: int) -> dict:
    """One solo worker runs a task for each of ``n`` tenants, published as it goes: its RSS each
    time ``every`` more are done, its cache size at the end, and its rate."""
    client = sc.redis()
    worker = sc.make_worker(f"memory-{max_tenants}", pool="solo",
                            OMNITENANT_BENCH_MAX_TENANTS=str(max_tenants))
    counter = f"{PREFIX}:memory-{max_tenants}"
    worker.start()
    try:
        pid = worker.process.pid
        time.sleep(1.0)
        samples = [(0, sc.rss_kb(pid))]
        task = worker.task("t.tick")
        ids = sc.tenant_ids(n)

        def publish() -> None:
            with worker.app.producer_or_acquire() as producer:
                for tenant_id in ids:
                    task.apply_async((counter,), tenant_id=tenant_id, producer=producer)

        publisher = threading.Thread(target=publish, daemon=True)
        began = time.monotonic()
        publisher.start()  # the worker runs them as they come; RSS read as the count passes
        for mark in range(every, n + every, every):
            mark = min(mark, n)
            sc.wait_count(client, counter, mark, "memory run", worker, poll=0.005)
            samples.append((mark, sc.rss_kb(pid)))
            if mark % (5 * every) == 0 or mark == n:
                print(f"    MAX_TENANTS={max_tenants}: {mark:6d} tasks, "
                      f"RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
        publisher.join()
        elapsed = time.monotonic() - began
        result = worker.task("b.cache_probe").apply_async()
        probe = worker.get(result, timeout=60)
        result.forget()
        assert probe["pid"] == pid, probe
    finally:
        worker.stop()
        client.delete(counter)
    return {"samples": samples, "probe": probe, "rate": n / elapsed}


def rss_at(samples, count: int) -> float:
    return dict(samples)[count] * 1024.0


# --------------------------------------------------------------------------- b. queries per task

def query_run(warm: int, tasks: int, save_rate: float, others_from: int, others: int) -> dict:
    client = sc.redis()
    worker = sc.make_worker("queries", pool="solo", OMNITENANT_TEST_COUNT_QUERIES="1")
    counter = f"{PREFIX}:queries"
    saves_key = f"{PREFIX}:saves"
    worker.start()
    phases = {}
    try:
        tick, probe = worker.task("t.tick"), worker.task("t.tenant_queries")
        ids = sc.tenant_ids(warm)

        def queries() -> int:
            result = probe.apply_async()
            value = worker.get(result, timeout=60)
            result.forget()
            return value

        def run(n: int, base: int) -> float:
            began = time.monotonic()
            with worker.app.producer_or_acquire() as producer:
                for i in range(n):
                    tick.apply_async((counter,), tenant_id=ids[i % warm], producer=producer)
            sc.wait_count(client, counter, base + n, "queries run", worker)
            return n / (time.monotonic() - began)

        run(warm, 0)  # every tenant looked up once: warm
        done = warm
        for phase in ("no saves", "saves"):
            saver = None
            if phase == "saves":
                saver = subprocess.Popen(
                    [sys.executable, __file__, "--child-saver", str(save_rate), str(others_from),
                     str(others), saves_key], env=dict(os.environ))
                sc.wait_count(client, saves_key, int(save_rate), "the saver's first second")
            saves_before = int(client.get(saves_key) or 0)
            before = queries()
            began = time.monotonic()
            rate = run(tasks, done)
            after = queries()
            seconds = time.monotonic() - began
            saves = int(client.get(saves_key) or 0) - saves_before
            done += tasks
            if saver is not None:
                saver.terminate()
                saver.wait(timeout=30)
            phases[phase] = {"per_task": (after - before) / tasks, "queries": after - before,
                             "rate": rate, "saves": saves, "seconds": seconds,
                             "saves_per_s": saves / seconds}
            print(f"    {phase}: {after - before} tenant queries for {tasks} tasks, "
                  f"{saves} saves of other tenants in {seconds:.1f} s", flush=True)
        generations = sum(1 for _ in client.scan_iter(match=f"{PREFIX}:*omnitenant_patch:tenant:*",
                                                      count=1000))
        phases["generation_keys"] = generations
    finally:
        worker.stop()
        client.delete(counter, saves_key)
    return phases


def child_saver(rate: float, first: int, count: int, key: str) -> None:
    """Save other tenants (``first`` … ``first + count``), ``rate`` times a second, until
    terminated; each save counted in Redis."""
    import signal

    import django

    django.setup()
    from testproj.tenants.models import Tenant

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    client = sc.redis()
    ids = sc.tenant_ids(count, first)
    interval, next_at, i = 1.0 / rate, time.monotonic(), 0
    while not stop:
        tenant = Tenant.objects.get(tenant_id=ids[i % count])
        tenant.name = f"Tenant {tenant.tenant_id} saved {i}"
        tenant.save()
        client.incr(key)
        i += 1
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)


# --------------------------------------------------------------------------- c. fan-out

def fan_out_run(n: int, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-fan-out", str(n), mode],
                         env=dict(os.environ), capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"fan-out child failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_fan_out(n: int, mode: str) -> None:
    """In a process of its own: ``for_each_tenant`` over every tenant (``n`` of them) to a Redis
    queue nothing consumes. ``mode``: ``plain`` (``t.tick``, which ignores its result);
    ``traced`` (the same, tracemalloc on); ``stores_result`` (``t.whoami``, which does not)."""
    trace = mode == "traced"
    import tracemalloc

    import django

    django.setup()
    from testproj import query_counter

    from omnitenant_patch import for_each_tenant
    from omnitenant_patch.testing import delete_queue

    query_counter.install()
    worker = sc.make_worker(f"fanout-{n}-{mode}", broker="redis")  # never started
    client = sc.redis()
    signature = worker.app.signature("t.tick", args=(f"{PREFIX}:never",))
    if mode == "stores_result":
        signature = worker.app.signature("t.whoami", args=("never run",))
    try:
        for_each_tenant(signature, tenants=["t000000"])  # connection, imports: warm
        client.delete(worker.queue)
        from testproj.tenants.models import Tenant

        assert Tenant.objects.count() == n, Tenant.objects.count()
        if trace:
            tracemalloc.start()
        rss_before = sc.rss_kb("self")
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # VmHWM := VmRSS
        queries_before = query_counter.count
        began = time.perf_counter()
        queued = for_each_tenant(signature)
        elapsed = time.perf_counter() - began
        peak = sc.hwm_kb("self")
        traced = tracemalloc.get_traced_memory()[1] if trace else None
        result = {"n": n, "queued": queued, "seconds": elapsed, "rate": queued / elapsed,
                  "rss_before_kb": rss_before, "peak_growth_kb": peak - rss_before,
                  "rss_after_kb": sc.rss_kb("self"), "traced_peak": traced,
                  "queries": query_counter.count - queries_before,
                  "in_queue": client.llen(worker.queue)}
    finally:
        delete_queue(worker.app, worker.queue)
    result["left_in_queue"] = client.llen(worker.queue)
    print(json.dumps(result))


# --------------------------------------------------------------------------- report

def grow_text(fan: dict, mode: str) -> str:
    return ", ".join(f"{r[mode]['peak_growth_kb'] * 1024 / n:,.0f} B per tenant at {n:,}"
                     for n, r in fan.items() if mode in r)


def mib(value: float) -> str:
    return f"{value / 1024 / 1024:.1f} MiB"


def report(args, created: float, memory: dict, queries: dict, fan: dict) -> str:
    n, bounded = args.tenants, args.bounded
    marks = [m for m in (0, 1000, 5000, 10000, n) if m <= n]
    marks = sorted(set(marks))
    head = "| worker RSS after … tasks (distinct tenants) | " + " | ".join(
        "start" if m == 0 else f"{m:,}" for m in marks) + " | cached at the end | tasks/s |"
    lines = [
        f"### a. Memory: one solo worker, {n:,} distinct tenants",
        "",
        f"{n:,} tenants made with `bulk_create` in {created:.1f} s. Each task is `t.tick` "
        f"(a Redis `INCR`) for a tenant not seen before, so every task looks its tenant up in "
        f"PostgreSQL once; RSS is `VmRSS` of the solo worker (the process running the tasks), "
        f"read after every {args.every:,} tasks.",
        "",
        head,
        "|---|" + "---|" * (len(marks) + 2),
    ]
    for label, run in memory.items():
        cells = " | ".join(mib(rss_at(run["samples"], m)) for m in marks)
        lines.append(f"| {label} | {cells} | {run['probe']['cached']:,} tenants "
                     f"({run['probe']['valid_ids']:,} ids in the id memo) | {run['rate']:.0f} |")
    small, big = memory[f"MAX_TENANTS = {bounded:,}"], memory[f"MAX_TENANTS = {n:,}"]
    kept = big["probe"]["cached"] - small["probe"]["cached"]
    per_tenant = (rss_at(big["samples"], n) - rss_at(small["samples"], n)) / kept
    lo = min(m for m in marks if m >= max(bounded, 1))
    slope_big = (rss_at(big["samples"], n) - rss_at(big["samples"], lo)) / (n - lo)
    slope_small = (rss_at(small["samples"], n) - rss_at(small["samples"], lo)) / (n - lo)
    flat = rss_at(small["samples"], n) - rss_at(small["samples"], lo)
    lines += [
        "",
        f"- **Bytes per cached tenant: {per_tenant:,.0f}** — (RSS at {n:,} with "
        f"MAX_TENANTS = {n:,} − RSS at {n:,} with MAX_TENANTS = {bounded:,}) / {kept:,} more "
        f"tenants kept. Growth per task from {lo:,} to {n:,} tasks: {slope_big:,.0f} B "
        f"unbounded, {slope_small:,.0f} B bounded.",
        f"- **Flat memory with the bound:** from {lo:,} to {n:,} tasks the bounded worker's RSS "
        f"moved by {flat / 1024 / 1024:+.1f} MiB while it kept {small['probe']['cached']:,} "
        f"tenants.",
        "",
        f"### b. Tenant-table queries per task: {args.warm} warm tenants, "
        f"{args.query_tasks:,} tasks",
        "",
        "| phase | tenant queries | per task | other tenants saved meanwhile | tasks/s |",
        "|---|---|---|---|---|",
    ]
    for phase in ("no saves", "saves"):
        row = queries[phase]
        saved = "—" if phase == "no saves" else (
            f"{row['saves']} in {row['seconds']:.1f} s ({row['saves_per_s']:.1f}/s)")
        lines.append(f"| {phase} | {row['queries']} | **{row['per_task']:.3f}** | {saved} "
                     f"| {row['rate']:.0f} |")
    lines += [
        "",
        f"The saver is a separate process saving tenants outside the warm {args.warm} "
        f"(`t{args.tenants // 2:06d}` onwards), each save writing that tenant's generation to "
        f"the shared cache: {queries['generation_keys']:,} per-tenant generation keys were in "
        f"Redis at the end.",
        "",
        "### c. `for_each_tenant(signature)`, to a Redis queue nothing consumes",
        "",
        "| tenants (rows in PostgreSQL) | signature | published | seconds | tenants/s "
        "| peak RSS growth | tenant-table queries |",
        "|---|---|---|---|---|---|---|",
    ]
    traced = None
    for n_fan, runs in fan.items():
        for mode, label in (("plain", "`t.tick.s(...)`, ignores its result"),
                            ("stores_result", "`t.whoami.s(...)`, stores its result")):
            if mode not in runs:
                continue
            run = runs[mode]
            lines.append(
                f"| {n_fan:,} | {label} | {run['queued']:,} | {run['seconds']:.1f} | "
                f"{run['rate']:,.0f} | {run['peak_growth_kb'] / 1024:.1f} MiB | "
                f"{run['queries']} |")
        if "traced" in runs:
            traced = (n_fan, runs["traced"])
    lines += [
        "",
        "Each fan-out runs in a child process of its own, after one warm-up publish; its peak "
        "RSS growth is VmHWM after the fan-out minus VmRSS before it (VmHWM reset first). "
        "Every published message was in the queue before it was deleted "
        f"({', '.join(str(r['plain']['in_queue']) for r in fan.values())})."
        + ("" if traced is None else
           f" With tracemalloc on ({traced[0]:,} tenants, a separate run, "
           f"{traced[1]['rate']:,.0f} tenants/s under tracing), Python's allocations peaked at "
           f"**{traced[1]['traced_peak'] / 1024 / 1024:.2f} MiB**."),
        "",
        "The publishing app has a Redis result backend (the harness's client app, as most "
        "projects have one). For a task that stores its result (Celery's default), Celery "
        "subscribes to each message's result channel when it is published outside a worker, "
        "as it does for `apply_async`: a `SUBSCRIBE` and an `UNSUBSCRIBE` beside each `LPUSH`, "
        "and redis-py keeps every channel name (`PubSub.channels`, "
        "`pending_unsubscribe_channels`) until it reads the replies, which a process that never "
        "waits for a result never does. That is the growth of the `t.whoami` rows "
        f"({grow_text(fan, 'stores_result')}). For a task that ignores its result, "
        "`for_each_tenant` now passes `ignore_result` on, as the task's own `apply_async` "
        f"would, and nothing is subscribed ({grow_text(fan, 'plain')}). Inside a worker "
        "(beat's fan-out task) Celery never subscribes.",
        "",
        targets(args, memory, queries, fan, per_tenant),
        "",
        f"Command: `{sc.command_line()}`. Machine: {sc.machine()}, PostgreSQL and Redis on "
        f"loopback; a shared machine (other test runs were going on).",
    ]
    return "\n".join(lines)


def targets(args, memory, queries, fan, per_tenant) -> str:
    small = memory[f"MAX_TENANTS = {args.bounded:,}"]
    rows = [
        ("cache holds at most MAX_TENANTS", f"{small['probe']['cached']:,} of "
         f"{args.bounded:,}", small["probe"]["cached"] <= args.bounded),
        ("~0 tenant queries per warm task, no saves",
         f"{queries['no saves']['per_task']:.3f}", queries["no saves"]["per_task"] < 0.01),
        ("~0 tenant queries per warm task while other tenants are saved (1.00 before)",
         f"{queries['saves']['per_task']:.3f}", queries["saves"]["per_task"] < 0.01),
        ("fan-out reads tenants in chunks of 1000",
         ", ".join(f"{n:,}: {r['plain']['queries']} queries" for n, r in fan.items()),
         all(r["plain"]["queries"] <= n // 1000 + 1 for n, r in fan.items())),
        ("every tenant published once",
         ", ".join(f"{r['plain']['queued']:,}/{n:,}" for n, r in fan.items()),
         all(r["plain"]["queued"] == n == r["plain"]["in_queue"] for n, r in fan.items())),
    ]
    if len(fan) > 1:
        low, high = min(fan), max(fan)
        for mode, label in (("plain", ", `t.tick` (ignores its result)"),
                            ("stores_result", ", `t.whoami` (stores its result)")):
            if mode in fan[low] and mode in fan[high]:
                a, b = fan[low][mode]["peak_growth_kb"], fan[high][mode]["peak_growth_kb"]
                rows.append((f"fan-out memory flat{label}: peak RSS growth at {high:,} within "
                             f"2 MiB of that at {low:,}", f"{b / 1024:.1f} vs {a / 1024:.1f} MiB",
                             b - a <= 2048))
    lines = ["| target | here | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in rows]
    return "\n".join(lines)


def main() -> int:
    if sys.argv[1:2] == ["--child-saver"]:
        rate, first, count, key = sys.argv[2:6]
        child_saver(float(rate), int(first), int(count), key)
        return 0
    if sys.argv[1:2] == ["--child-fan-out"]:
        child_fan_out(int(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=20_000)
    parser.add_argument("--bounded", type=int, default=1000, help="MAX_TENANTS of the flat run")
    parser.add_argument("--every", type=int, default=1000, help="tasks between RSS samples")
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--query-tasks", type=int, default=4000)
    parser.add_argument("--save-rate", type=float, default=20.0)
    parser.add_argument("--fan-out", default="10000,100000", help="tenant counts, ascending")
    parser.add_argument("--tracemalloc", type=int, default=0,
                        help="also run the fan-out of this many tenants under tracemalloc "
                             "(one of --fan-out; about 5 times slower)")
    parser.add_argument("--skip", default="", help="parts to leave out: a,b,c (development)")
    args = parser.parse_args()
    if not sc.services_up("redis", "postgres"):
        return 2
    with sc.site():
        created = sc.create_tenants(args.tenants)
        memory, queries, fan = {}, {}, {}
        if "a" not in args.skip:
            print("a. memory …", flush=True)
            for max_tenants in (args.bounded, args.tenants):
                memory[f"MAX_TENANTS = {max_tenants:,}"] = memory_run(
                    args.tenants, max_tenants, args.every)
        if "b" not in args.skip:
            print("b. queries per task …", flush=True)
            queries = query_run(args.warm, args.query_tasks, args.save_rate,
                                args.tenants // 2, args.tenants - args.tenants // 2)
        if "c" not in args.skip:
            print("c. fan-out …", flush=True)
            have = args.tenants
            for n in [int(x) for x in args.fan_out.split(",")]:
                if n < have:
                    sc.delete_tenants()
                    have = 0
                sc.create_tenants(n - have, start=have)
                have = n
                fan[n] = {"plain": fan_out_run(n, "plain"),
                          "stores_result": fan_out_run(n, "stores_result")}
                if n == args.tracemalloc:
                    fan[n]["traced"] = fan_out_run(n, "traced")
                print(f"    {n:,} tenants: {fan[n]['plain']['rate']:,.0f} tenants/s, "
                      f"{fan[n]['plain']['queries']} queries", flush=True)
        if args.skip:
            print(json.dumps({"memory": memory, "queries": queries, "fan": fan}, default=str))
            return 0
        text = report(args, created, memory, queries, fan)
        sc.write_section(sc.SCALE_MD, SECTION, "## Thousands of tenants (`scale.py`)\n\n" + text,
                         "Scale benchmarks")
        print(text)
    return 0


if __name__ == "__main__":
    sc.run_main(main)
