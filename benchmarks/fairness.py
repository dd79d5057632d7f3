"""One tenant's flood must not stall everyone else: FAIR_SHARDS off and on, side by side in one
run, on Redis and on RabbitMQ.

    python benchmarks/fairness.py [--flood 2000] [--others 10] [--per-other 3] [--task-ms 10]
                                  [--shards 8] [--repeat 3] [--extra amqp:8:1]
                                  [--plot benchmarks/fairness.png]

Each run: a real ``celery worker -P prefork -c 2`` consuming its queue (``-Q <queue>``, as
always; with ``FAIR_SHARDS`` it adds the shard queues itself at start). Tenant A queues
``--flood`` tasks of ``--task-ms`` ms (``b.fair``: a sleep), and right after that ``--others``
other tenants queue ``--per-other`` tasks each; this process publishes with the same
``FAIR_SHARDS`` as the worker. Every task records in Redis when it was published, started and
ended, the tenant it was queued for and the tenant it ran in. Measured: the other tenants'
median and max wait (start − publish), A's backlog drain (A's first publish to A's last task's
end), tasks lost (never ran) and tasks in a wrong tenant.

Configurations (``broker:shards:prefetch multiplier``, prefetch empty = Celery's default 4):
``redis:0:``, ``redis:<shards>:``, ``amqp:0:``, ``amqp:<shards>:``, and ``--extra`` ones; each
``--repeat`` times, the order reversed every other round; the report gives medians. On
RabbitMQ it also reads, with ``rabbitmqctl``, the prefetch the worker's channel and consumers
got (``global`` or per consumer).

Needs PostgreSQL, Redis and RabbitMQ on loopback. Writes benchmarks/FAIRNESS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from typing import Dict, List, Optional

import scale_common as sc
from scale_common import AMQP_URL, HERE, PREFIX

FAIRNESS_MD = HERE / "FAIRNESS.md"
FLOODER = "tenant-a"
BROKERS = {"redis": "Redis", "amqp": "RabbitMQ"}


class Config:
    def __init__(self, spec: str) -> None:
        broker, shards, prefetch = (spec.split(":") + ["", ""])[:3]
        self.broker, self.shards = broker, int(shards)
        self.prefetch: Optional[int] = int(prefetch) if prefetch else None
        self.spec = spec

    @property
    def label(self) -> str:
        text = f"{BROKERS[self.broker]}, FAIR_SHARDS = {self.shards}"
        return text + ("" if self.prefetch is None else
                       f", worker_prefetch_multiplier = {self.prefetch}")

    @property
    def short(self) -> str:
        text = "off" if not self.shards else f"FAIR_SHARDS={self.shards}"
        return text + ("" if self.prefetch is None else f", prefetch ×{self.prefetch}")


def others_ids(n: int) -> List[str]:
    return [f"tenant-{chr(ord('b') + i)}" if i < 25 else f"tenant-o{i}" for i in range(n)]


def run(config: Config, round_: int, args) -> dict:
    from django.conf import settings
    from django.test import override_settings

    key = f"{PREFIX}:fair-{config.spec}-{round_}"
    client = sc.redis()
    env = {"OMNITENANT_TEST_FAIR_SHARDS": str(config.shards)}
    if config.prefetch is not None:
        env["OMNITENANT_BENCH_PREFETCH"] = str(config.prefetch)
    name = f"fair-{config.broker}-{config.shards}-{config.prefetch or 'd'}-{round_}"
    worker = sc.make_worker(name, broker=config.broker, pool="prefork", concurrency=2, **env)
    worker.start()
    rabbit = None
    try:
        if config.broker == "amqp" and round_ == 0:
            rabbit = rabbit_qos(worker.queue)
        base = settings.OMNITENANT_CONFIG
        conf = dict(base, CELERY=dict(base.get("CELERY", {}), FAIR_SHARDS=config.shards))
        others = others_ids(args.others)
        seconds = args.task_ms / 1000.0
        expected = args.flood + args.others * args.per_other
        with override_settings(OMNITENANT_CONFIG=conf):
            task = worker.task("b.fair")
            with worker.app.producer_or_acquire() as producer:
                began = time.time()
                for _ in range(args.flood):
                    task.apply_async((key, FLOODER, time.time(), seconds), tenant_id=FLOODER,
                                     producer=producer)
                flood_queued = time.time()
                for tenant in others:
                    for _ in range(args.per_other):
                        task.apply_async((key, tenant, time.time(), seconds), tenant_id=tenant,
                                         producer=producer)
                others_queued = time.time()
        deadline = time.monotonic() + args.timeout
        while client.llen(key) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a duplicate would show now
        records = [json.loads(r) for r in client.lrange(key, 0, -1)]
    finally:
        worker.stop()
        delete_exchanges(worker, config)
        client.delete(key)
    return judge(config, records, expected, began, flood_queued, others_queued, args, rabbit)


def judge(config, records, expected, began, flood_queued, others_queued, args, rabbit) -> dict:
    from omnitenant_patch.fair import shard_index

    flood = [r for r in records if r[0] == FLOODER]
    others = [r for r in records if r[0] != FLOODER]
    shared = set()
    if config.shards:
        a_shard = shard_index(FLOODER, config.shards)
        shared = {t for t in others_ids(args.others) if shard_index(t, config.shards) == a_shard}
    waits = [r[3] - r[2] for r in others]
    apart = [r[3] - r[2] for r in others if r[0] not in shared]
    return {
        "config": config.spec, "records": len(records), "expected": expected,
        "lost": expected - len(records), "wrong": sum(1 for r in records if r[0] != r[1]),
        "others_median": sc.median(waits), "others_max": max(waits) if waits else float("nan"),
        "others_apart_median": sc.median(apart),
        "others_apart_max": max(apart, default=float("nan")),
        "shared": sorted(shared),
        "drain": max(r[4] for r in flood) - began if flood else float("nan"),
        "flood_publish": flood_queued - began, "others_publish": others_queued - flood_queued,
        "a_ends": sorted(r[4] - began for r in flood),
        "others_points": sorted((r[3] - began, r[3] - r[2], r[0] in shared) for r in others),
        "others_queued_at": flood_queued - began, "rabbit": rabbit,
    }


def delete_exchanges(worker, config: Config) -> None:
    """RabbitMQ keeps the direct exchange Celery declared for each queue: delete ours."""
    if config.broker != "amqp":
        return
    from omnitenant_patch.fair import shards_of

    with worker.app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in [worker.queue, *shards_of(worker.queue, config.shards)]:
            try:
                channel.exchange_delete(name)
            except Exception:
                channel = connection.channel()


def rabbit_qos(queue: str) -> dict:
    """The prefetch RabbitMQ applies to the worker consuming ``queue``: per consumer (a consumer's
    ``prefetch_count``) and on its channel (``global_prefetch_count``), read with rabbitmqctl."""
    def ctl(*args: str) -> List[List[str]]:
        try:
            out = subprocess.run(["rabbitmqctl", "-q", "--no-table-headers", *args],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [[f"rabbitmqctl failed: {exc}"]]
        return [line.split("\t") for line in out.stdout.splitlines() if line.strip()]

    consumers = [row for row in ctl("list_consumers", "queue_name", "channel_pid",
                                    "ack_required", "prefetch_count")
                 if row and (row[0] == queue or row[0].startswith(queue + ".shard-"))]
    channels = {row[1] for row in consumers if len(row) > 1}
    qos = [row for row in ctl("list_channels", "pid", "consumer_count", "prefetch_count",
                              "global_prefetch_count") if row and row[0] in channels]
    version = ctl("version")
    return {"consumers": consumers, "channels": qos,
            "version": version[0][0] if version and version[0] else "?"}


def amqp_qos_flag() -> dict:
    """What Celery passes to basic_qos on this RabbitMQ: ``global`` is ``not
    qos_semantics_matches_spec`` (kombu: RabbitMQ 3.3 … 3.x)."""
    from kombu import Connection

    with Connection(AMQP_URL) as connection:
        connection.connect()
        props = connection.connection.server_properties
        return {"product": props.get("product"), "version": props.get("version"),
                "per_consumer_qos": props.get("capabilities", {}).get("per_consumer_qos"),
                "global": not connection.qos_semantics_matches_spec}


# --------------------------------------------------------------------------- report

def summarize(runs: List[dict]) -> dict:
    def med(key):
        return sc.median(r[key] for r in runs)

    return {"others_median": med("others_median"), "others_max": med("others_max"),
            "others_apart_median": med("others_apart_median"), "drain": med("drain"),
            "lost": sum(r["lost"] for r in runs), "wrong": sum(r["wrong"] for r in runs),
            "runs": runs}


def report(args, configs: List[Config], results: Dict[str, dict], qos: dict) -> str:
    lines = [
        f"Tenant A queues {args.flood:,} tasks of {args.task_ms} ms, then {args.others} other "
        f"tenants queue {args.per_other} each; one real `celery worker -P prefork -c 2` "
        f"(`-Q <queue>` as always) drains them; this process publishes with the worker's "
        f"`FAIR_SHARDS`. Medians of {args.repeat} runs per configuration (the order reversed "
        f"every other round); the per-run values follow in brackets. Wait = a task's start − "
        f"its publish; A's drain = A's first publish → A's last task's end.",
        "",
        "| broker | configuration | others' median wait | others' max wait | A's drain "
        "| lost | wrong tenant |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        s = results[config.spec]
        per = s["runs"]

        def each(key, fmt="{:.2f}", per=per):
            return ", ".join(fmt.format(r[key]) for r in per)

        lines.append(
            f"| {BROKERS[config.broker]} | {config.short} | **{s['others_median']:.2f} s** "
            f"({each('others_median')}) | {s['others_max']:.2f} s ({each('others_max')}) | "
            f"**{s['drain']:.2f} s** ({each('drain')}) | {s['lost']} | {s['wrong']} |")
    shared = {c.spec: results[c.spec]["runs"][0]["shared"] for c in configs if c.shards}
    if any(shared.values()):
        lines += [
            "",
            "Other tenants whose shard is A's own (a stable hash of the tenant id; with "
            f"{args.shards} shards each tenant has a 1 in {args.shards} chance) wait behind A's "
            "flood like everybody did before: "
            + "; ".join(f"{results[spec]['runs'][0]['config']}: {', '.join(t) or 'none'}"
                        for spec, t in shared.items())
            + ". Their tasks are in the max wait. Without them, the others' median wait was "
            + ", ".join(f"{c.short} on {BROKERS[c.broker]} "
                        f"{results[c.spec]['others_apart_median']:.2f} s"
                        for c in configs if c.shards) + ".",
        ]
    lines += ["", rabbit_section(qos, results, configs), "", targets(configs, results), "",
              "![others' waits and A's progress](fairness.png)" if args.plot else "",
              "",
              f"Command: `{sc.command_line()}`. Machine: {sc.machine()}; RabbitMQ "
              f"{qos.get('version', '?')}; a shared machine (other test runs were going on)."]
    return "\n".join(lines)


def rabbit_section(qos: dict, results, configs) -> str:
    lines = [
        "**RabbitMQ and Celery's prefetch.** "
        f"This RabbitMQ ({qos.get('product')} {qos.get('version')}, per-consumer QoS capability "
        f"{qos.get('per_consumer_qos')}) makes kombu report `qos_semantics_matches_spec = "
        f"{not qos.get('global')}`, so Celery's worker calls `basic_qos(0, concurrency × "
        f"worker_prefetch_multiplier, global={qos.get('global')})`: one prefetch window shared "
        f"by every consumer on the worker's channel (RabbitMQ ≥ 3.3 semantics: `global=True` is "
        f"per channel, `global=False` per consumer). A worker with `FAIR_SHARDS` has one "
        f"consumer per queue (the plain queue and each shard) on that one channel. When the "
        f"window is full, every queue holding messages is blocked on the channel's limiter; "
        f"each ack frees a slot and the limiter resumes the blocked queues in a randomly "
        f"rotated order (`rabbit_limiter:notify_queues`: \"each queue has an equal chance of "
        f"being notified first\"), so the slots go to the non-empty queues about equally, "
        f"whatever their length: A's shard gets about one slot in k+1 while k other shards "
        f"hold messages. The other tenants' first tasks still wait for the messages of A "
        f"already prefetched (the window) to start.",
    ]
    for config in configs:
        if config.broker != "amqp":
            continue
        rabbit = results[config.spec]["runs"][0].get("rabbit") or {}
        if not rabbit:
            continue
        consumers = rabbit.get("consumers", [])
        channels = rabbit.get("channels", [])
        lines.append(
            f"- {config.short}: rabbitmqctl saw {len(consumers)} consumers of the worker "
            f"(queue and shards) with per-consumer prefetch "
            f"{', '.join(sorted({row[3] for row in consumers if len(row) > 3})) or '?'}, "
            f"on {len(channels)} channel(s): "
            + ", ".join(f"consumer_count {row[1]}, prefetch_count {row[2]}, "
                        f"global_prefetch_count {row[3]}" for row in channels if len(row) > 3)
            + ".")
    return "\n".join(lines)


def targets(configs: List[Config], results: Dict[str, dict]) -> str:
    rows = []
    for broker in BROKERS:
        off = [c for c in configs if c.broker == broker and not c.shards and c.prefetch is None]
        if not off:
            continue
        base = results[off[0].spec]
        for config in configs:
            if config.broker != broker or not config.shards:
                continue
            s = results[config.spec]
            name = f"{BROKERS[broker]}, {config.short}"
            rows += [
                (f"{name}: others' median wait ≤ 1 s", f"{s['others_median']:.2f} s",
                 s["others_median"] <= 1.0),
                (f"{name}: others' median wait ≤ 1/5 of unprotected",
                 f"{s['others_median']:.2f} / {base['others_median']:.2f} = "
                 f"{s['others_median'] / base['others_median']:.3f}",
                 s["others_median"] <= base["others_median"] / 5),
                (f"{name}: A's drain ≤ 1.10 × unprotected",
                 f"{s['drain']:.2f} / {base['drain']:.2f} = {s['drain'] / base['drain']:.3f}",
                 s["drain"] <= 1.10 * base["drain"]),
                (f"{name}: 0 lost, 0 wrong", f"{s['lost']} lost, {s['wrong']} wrong",
                 s["lost"] == 0 and s["wrong"] == 0),
            ]
    lines = ["| target | here | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in rows]
    return "\n".join(lines)


def plot(path: str, configs: List[Config], results: Dict[str, dict], args) -> None:
    """Per broker: A's tasks done over time, and each other tenant's task's wait at the time it
    started, for the median run of each configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    brokers = [b for b in BROKERS if any(c.broker == b for c in configs)]
    figure, axes = plt.subplots(len(brokers), 2, figsize=(11, 3.6 * len(brokers)), squeeze=False)
    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange"]
    for row, broker in enumerate(brokers):
        progress, waits = axes[row]
        for i, config in enumerate(c for c in configs if c.broker == broker):
            runs = results[config.spec]["runs"]
            run = sorted(runs, key=lambda r: r["others_median"])[len(runs) // 2]
            colour = colours[i % len(colours)]
            ends = run["a_ends"]
            progress.plot(ends, range(1, len(ends) + 1), color=colour, label=config.short)
            progress.axvline(run["others_queued_at"], color=colour, linestyle=":", linewidth=0.8)
            xs = [p[0] for p in run["others_points"]]
            ys = [p[1] for p in run["others_points"]]
            marks = ["x" if p[2] else "o" for p in run["others_points"]]
            for x, y, m in zip(xs, ys, marks):
                waits.scatter([x], [y], color=colour, marker=m, s=18)
            waits.scatter([], [], color=colour, marker="o", label=config.short)
        progress.set_title(f"{BROKERS[broker]}: tenant A's tasks done (dotted: others queued)",
                           fontsize=9)
        progress.set_xlabel("seconds since A's first publish")
        progress.set_ylabel("A's tasks done")
        progress.legend(fontsize=8)
        waits.set_title(f"{BROKERS[broker]}: other tenants' waits (x: shares A's shard)",
                        fontsize=9)
        waits.set_xlabel("task start, seconds since A's first publish")
        waits.set_ylabel("wait (s)")
        waits.set_yscale("log")
        waits.legend(fontsize=8)
    figure.suptitle(f"{args.flood:,} tasks of tenant A, then {args.others} tenants × "
                    f"{args.per_other}; prefork -c 2 (median run of {args.repeat})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=2000)
    parser.add_argument("--others", type=int, default=10)
    parser.add_argument("--per-other", type=int, default=3)
    parser.add_argument("--task-ms", type=int, default=10)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--brokers", default="redis,amqp")
    parser.add_argument("--extra", default="", help="more configurations: broker:shards:prefetch,…")
    parser.add_argument("--timeout", type=float, default=240.0, help="per run, for the drain")
    parser.add_argument("--plot", help="write the plot here (PNG)")
    args = parser.parse_args()
    if not sc.services_up("redis", "postgres", "amqp"):
        return 2
    specs = [f"{b}:{s}:" for b in args.brokers.split(",") for s in (0, args.shards)]
    specs += [s for s in args.extra.split(",") if s]
    configs = [Config(spec) for spec in specs]
    with sc.site(cache=True):
        from testproj.tenants.models import Tenant

        Tenant.objects.bulk_create([Tenant(tenant_id=t, name=t)
                                    for t in [FLOODER, *others_ids(args.others)]])
        qos = amqp_qos_flag() if any(c.broker == "amqp" for c in configs) else {}
        runs: Dict[str, list] = {c.spec: [] for c in configs}
        for round_ in range(args.repeat):
            order = configs if round_ % 2 == 0 else list(reversed(configs))
            for config in order:
                result = run(config, round_, args)
                runs[config.spec].append(result)
                print(f"  round {round_ + 1} {config.label}: others' median wait "
                      f"{result['others_median']:.2f} s (max {result['others_max']:.2f}), "
                      f"A's drain {result['drain']:.2f} s, lost {result['lost']}, "
                      f"wrong {result['wrong']}", flush=True)
        results = {spec: summarize(r) for spec, r in runs.items()}
        text = report(args, configs, results, qos)
        FAIRNESS_MD.write_text("# Fair share between tenants (`fairness.py`)\n\n" + text + "\n")
        print(text)
        if args.plot:
            plot(args.plot, configs, results, args)
    return 0


if __name__ == "__main__":
    sc.run_main(main)
