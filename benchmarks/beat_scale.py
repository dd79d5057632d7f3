"""Beat stays on time at 10,000 tenants: a real ``celery beat`` whose schedule holds an entry for
every tenant and a one-second clock, and a real worker (prefork -c 2) consuming what it sends.

    python benchmarks/beat_scale.py [--tenants 10000] [--seconds 60] [--period 10]

The schedule (scale_settings.py, ``OMNITENANT_BENCH_BEAT``):

- ``every-tenant``: ``b.beat_tick`` every ``--period`` seconds with
  ``"options": {"tenants": "__all__"}``;
- ``clock``: ``b.clock`` every second.

Two schedulers, each for ``--seconds`` seconds of beat:

- ``omnitenant_patch.beat:TenantScheduler``: the every-tenant entry is one message; the
  worker's fan-out task (``omnitenant_patch.fan_out``) queues one message per tenant;
- ``scale_tasks:LoopScheduler``: tenant-schemas-celery's ``TenantAwareScheduler.apply_entry``
  ported: beat itself loops over the tenants and publishes one message per tenant.

Measured: how late each clock send is — beat's log line ``Scheduler: Sending due task clock``
against the time it was due (the previous send plus one second: Celery's interval schedule
counts from the last run); how long the fan-out of every tenant took (in the worker: the
fan-out task's ``task_prerun`` to ``task_postrun``; in beat: from its "Sending due task" line to
the last publish); and, after beat stops and the worker drains (``--check``: TenantScheduler by
default; the comparison is there for beat's lateness), that every tenant ran exactly once per
period (``b.beat_tick`` counts per period and tenant in Redis). Also the memory of the worker's
pool process that ran the fan-out, and how many child results Celery kept on its request.

Needs PostgreSQL and Redis on loopback. Writes its section of benchmarks/SCALE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from datetime import datetime

import scale_common as sc
from scale_common import PREFIX

SECTION = "beat"
SCHEDULERS = {
    "TenantScheduler": "omnitenant_patch.beat:TenantScheduler",
    "LoopScheduler": "scale_tasks:LoopScheduler",
}
LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] (.*)$", re.M)


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def beat_events(log: str):
    """(time, message) of every INFO line of beat's log."""
    return [(stamp(when), message) for when, message in LINE.findall(log)]


def run(kind: str, n: int, seconds: float, period: float, drain_timeout: float,
        check: bool) -> dict:
    label = f"{PREFIX}:beat-{kind}"
    client = sc.redis()
    settings = {"OMNITENANT_BENCH_BEAT": label, "OMNITENANT_BENCH_BEAT_PERIOD": str(period),
                "OMNITENANT_BENCH_BEAT_SCHEDULER": SCHEDULERS[kind]}
    worker = sc.make_worker(f"beat-{kind}", pool="prefork", concurrency=2, **settings)
    worker.start()
    beat = None
    try:
        beat = worker.start_beat(**settings)
        started = time.time()
        time.sleep(seconds)
        if kind == "LoopScheduler":  # stop between two fan-outs, never inside one
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                log = worker.beat_log(worker.name)
                if log.count("Sending due task every-tenant") == log.count("LoopScheduler: sent"):
                    break
                time.sleep(0.05)
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=60)
        stopped = time.time()
        events = beat_events(worker.beat_log(worker.name))
        sends = [t for t, m in events if m.startswith("Scheduler: Sending due task every-tenant")]
        expected = len(sends) * n
        print(f"  {kind}: beat sent every-tenant {len(sends)} times in {stopped - started:.0f} s;"
              + (f" draining {expected:,} tenant tasks …" if check else
                 " not drained (lateness only)"), flush=True)
        drain_began = time.monotonic()
        deadline = drain_began + (drain_timeout if check else 0)
        while int(client.get(f"{label}:total") or 0) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        if check:
            time.sleep(2.0)  # anything more than expected would show now
        drained = time.monotonic() - drain_began
        result = judge(kind, label, client, events, n, sends, started, stopped)
        result["checked"] = check
        result["drain_after_beat"] = drained
        result["worker_rate"] = result["total"] / (stopped - started + drained)
        result["log_tail"] = worker.beat_log(worker.name)[-3000:]
    finally:
        if beat is not None and beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
            beat.wait(timeout=10)
        worker.stop()
    return result


def judge(kind, label, client, events, n, sends, started, stopped) -> dict:
    clock = [t for t, m in events if m.startswith("Scheduler: Sending due task clock")]
    lateness = [max(0.0, b - a - 1.0) for a, b in zip(clock, clock[1:])]
    periods = sorted(p.decode() for p in client.smembers(f"{label}:periods"))
    per_period = []
    for period in periods:
        counts = {k.decode(): int(v) for k, v in client.hgetall(f"{label}:period:{period}").items()}
        per_period.append({"tenants": len(counts),
                           "once": sum(1 for v in counts.values() if v == 1),
                           "more": sum(1 for v in counts.values() if v > 1),
                           "none": counts.get("None", 0)})
    fan_out = []
    if kind == "TenantScheduler":
        begins = {k.decode(): json.loads(v) for k, v in
                  client.hgetall(f"{label}:fanout-start").items()}
        ends = {k.decode(): json.loads(v) for k, v in
                client.hgetall(f"{label}:fanout-end").items()}
        for task_id, (began, rss_before, pid) in sorted(begins.items(), key=lambda kv: kv[1][0]):
            end, queued, children, rss_after, hwm = ends.get(task_id, [None] * 5)
            fan_out.append({"seconds": None if end is None else end - began, "queued": queued,
                            "began": began, "children": children, "pid": pid,
                            "rss_before": rss_before, "rss_after": rss_after, "hwm": hwm})
        for item, sent in zip(fan_out, sends):
            item["waited"] = item["began"] - sent  # in the queue, behind earlier tenants' tasks
    else:
        done = [(t, m) for t, m in events if m.startswith("LoopScheduler: sent")]
        for sent, (end, message) in zip(sends, done):
            fan_out.append({"seconds": end - sent,
                            "queued": int(re.search(r"to (\d+) tenants", message).group(1))})
    return {
        "clock_sends": len(clock), "window": stopped - started, "lateness": lateness,
        "max": max(lateness) if lateness else float("nan"),
        "p95": sc.percentile(lateness, 0.95), "p50": sc.percentile(lateness, 0.5),
        "late_over_1s": sum(1 for x in lateness if x >= 1.0),
        "sends": len(sends), "periods": per_period, "fan_out": fan_out, "n": n,
        "total": int(client.get(f"{label}:total") or 0),
    }


def report(args, results: dict, created: float) -> str:
    lines = [
        f"{args.tenants:,} tenants (`bulk_create`, {created:.1f} s) in PostgreSQL; a real "
        f"`celery beat` (`--max-interval 1`) with two entries: `every-tenant` (`b.beat_tick`, "
        f"every {args.period:g} s, `\"options\": {{\"tenants\": \"__all__\"}}`) and `clock` "
        f"(`b.clock`, every 1 s); a real `celery worker -P prefork -c 2` on Redis consuming "
        f"everything; {args.seconds:g} s of beat per scheduler. Lateness of a clock send = its "
        f"log line's time − (the previous send's + 1 s), the time Celery's interval schedule "
        f"made it due.",
        "",
        "| scheduler | clock sends in the window | clock lateness p50 | **p95** | **max** "
        "| sends ≥ 1 s late | every-tenant sent | fan-out of all tenants took | where |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        took = [f["seconds"] for f in r["fan_out"] if f["seconds"] is not None]
        took_text = ("—" if not took else
                     f"{sc.median(took):.1f} s median ({min(took):.1f}–{max(took):.1f})")
        where = "worker (fan-out task)" if kind == "TenantScheduler" else "beat's loop"
        lines.append(
            f"| `{kind}` | {r['clock_sends']} in {r['window']:.0f} s | {r['p50'] * 1000:.0f} ms "
            f"| **{r['p95'] * 1000:.0f} ms** | **{r['max'] * 1000:.0f} ms** | "
            f"{r['late_over_1s']} | {r['sends']} | {took_text} | {where} |")
    lines += [
        "",
        "| scheduler | periods seen by the worker | tenants per period | ran exactly once "
        "| ran more than once | ran with no tenant | tenant tasks run / expected | drained after "
        "beat stopped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        if not r["checked"]:
            lines.append(f"| `{kind}` | not drained: compared for lateness only "
                         f"(`--check {kind}` drains and checks it too) | | | | | "
                         f"{r['total']:,} run when beat stopped | |")
            continue
        per = r["periods"]
        tenants = ", ".join(format(p["tenants"], ",") for p in per) or "—"
        once = ", ".join(format(p["once"], ",") for p in per) or "—"
        lines.append(
            f"| `{kind}` | {len(per)} | {tenants} | {once} | "
            f"{sum(p['more'] for p in per)} | {sum(p['none'] for p in per)} | "
            f"{r['total']:,} / {r['sends'] * r['n']:,} | {r['drain_after_beat']:.0f} s |")
    ours = results.get("TenantScheduler")
    if ours and ours["fan_out"]:
        waited = [f.get("waited") for f in ours["fan_out"] if f.get("waited") is not None]
        lines += [
            "",
            "TenantScheduler's fan-out tasks, in the worker: "
            + "; ".join(f"{f['queued'] if f['queued'] is not None else '?'} tenants in "
                        f"{f['seconds']:.1f} s" for f in ours["fan_out"]
                        if f["seconds"] is not None)
            + (f". They waited {min(waited):.1f}–{max(waited):.1f} s in the queue before "
               f"starting, behind earlier periods' tenant tasks: the schedule asks for "
               f"{args.tenants / args.period:,.0f} tenant tasks per second and this worker ran "
               f"about {ours['worker_rate']:,.0f} per second." if waited else "."),
            "",
            "The fan-out task's pool process, each run: "
            + "; ".join(
                f"pid {f['pid']}: RSS {f['rss_before'] / 1024:.1f} → {f['rss_after'] / 1024:.1f} "
                f"MiB (peak {f['hwm'] / 1024:.1f}), {f['children']:,} child results on the "
                f"task's request (Celery's `trail`)"
                for f in ours["fan_out"] if f.get("rss_after") is not None) + ".",
        ]
    lines += ["", targets(results), "",
              f"Command: `{sc.command_line()}`. Machine: {sc.machine()}; a shared machine "
              f"(other test runs were going on)."]
    return "\n".join(lines)


def targets(results: dict) -> str:
    rows = []
    ours = results.get("TenantScheduler")
    if ours:
        rows.append(("clock lateness < 1 s with TenantScheduler (max)",
                     f"{ours['max'] * 1000:.0f} ms", ours["max"] < 1.0))
    for kind, r in results.items():
        if not r["checked"]:
            continue
        per = r["periods"]
        ok = (len(per) == r["sends"] and all(p["tenants"] == r["n"] == p["once"]
                                             and p["none"] == 0 for p in per)
              and r["total"] == r["sends"] * r["n"])
        rows.append((f"{kind}: every tenant exactly one task per period",
                     f"{len(per)} periods, {r['total']:,} tasks for {r['sends']} sends", ok))
    lines = ["| target | here | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="beat's run per scheduler")
    parser.add_argument("--period", type=float, default=10.0, help="the every-tenant entry's")
    parser.add_argument("--drain-timeout", type=float, default=420.0)
    parser.add_argument("--schedulers", default="TenantScheduler,LoopScheduler")
    parser.add_argument("--check", default="TenantScheduler",
                        help="schedulers whose tenant tasks are drained and counted after beat")
    args = parser.parse_args()
    if not sc.services_up("redis", "postgres"):
        return 2
    with sc.site():
        created = sc.create_tenants(args.tenants)
        results = {}
        for kind in args.schedulers.split(","):
            print(f"{kind} …", flush=True)
            results[kind] = run(kind, args.tenants, args.seconds, args.period,
                                args.drain_timeout, kind in args.check.split(","))
        text = report(args, results, created)
        sc.write_section(sc.SCALE_MD, SECTION,
                         "## Beat stays on time at 10,000 tenants (`beat_scale.py`)\n\n" + text,
                         "Scale benchmarks")
        print(text)
        for kind, r in results.items():
            if r["late_over_1s"] or not r["periods"]:
                print(f"\n--- {kind}: tail of beat's log ---\n{r['log_tail']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sc.run_main(main)
