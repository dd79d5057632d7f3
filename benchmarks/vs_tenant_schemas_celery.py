"""Side by side with tenant-schemas-celery, on the same django-tenants site.

    python benchmarks/vs_tenant_schemas_celery.py [--tasks 4000] [--rounds 5] [--plot PNG]

Both run tests/sites/django_tenants (20 tenant schemas, each with its own rows) with the
same tasks in a real ``celery worker -P prefork -c 2`` on Redis:

- omnitenant_patch: plain Celery, ``patch_celery()`` at the end of the settings;
- tenant-schemas-celery: its ``CeleryApp`` (every task a ``TenantTask``) with its tenant
  cache on (``CELERY_TASK_TENANT_CACHE_SECONDS = 30``), and no patch.

1. Correctness: the same scenarios, each queued the implementation's own way and judged by
   the schema PostgreSQL used and the rows the task read.
2. Throughput: alternating rounds; each queues ``--tasks`` tasks spread over the 20 tenants
   (each task asks PostgreSQL for its schema and counts itself, right or wrong, in Redis),
   then starts the worker and times the drain from its first task to its last.

Needs PostgreSQL and Redis on loopback. Writes benchmarks/TENANT_SCHEMAS_CELERY.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

HERE = Path(__file__).resolve().parent
SITE = HERE.parent / "tests" / "sites" / "django_tenants"
sys.path[:0] = [str(SITE), str(SITE.parent)]

from sitekit import services  # noqa: E402

from omnitenant_patch.testing import CeleryWorker, wait_for  # noqa: E402

TENANTS = [f"t{i:02d}" for i in range(20)]
DATABASE = services.database_name("bench", "tsc")
BROKER = f"redis://127.0.0.1:6379/{services.REDIS_DB}"
OURS, THEIRS = "omnitenant_patch", "tenant-schemas-celery"
RESULTS = HERE / "TENANT_SCHEMAS_CELERY.md"


def setup_site() -> None:
    os.environ.update(SITE_DB=DATABASE, SITE_BROKER=BROKER, SITE_RESULTS=BROKER,
                      DJANGO_SETTINGS_MODULE="project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    from customers.models import Client
    from django_tenants.utils import tenant_context
    from notes.models import Note

    services.create_database(DATABASE)
    call_command("migrate_schemas", shared=True, verbosity=0, interactive=False)
    Client.objects.create(schema_name="public", name="Public")
    for schema in TENANTS:
        tenant = Client.objects.create(schema_name=schema, name=schema)
        with tenant_context(tenant):
            Note.objects.bulk_create([Note(text=f"{schema}-1"), Note(text=f"{schema}-2")])


class Implementation:
    """How one implementation queues tasks and runs its worker."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.queue = f"omnitenant-bench-{services.RUN_ID}-{'ours' if name == OURS else 'tsc'}"
        env = {"SITE_DB": DATABASE, "SITE_BROKER": BROKER, "SITE_RESULTS": BROKER,
               "SITE_QUEUE": self.queue, "SITE_CONN_MAX_AGE": "60",
               "DJANGO_SETTINGS_MODULE": "project.settings",
               "PYTHONPATH": os.pathsep.join([str(SITE), str(SITE.parent)])}
        if name == THEIRS:
            env.update(SITE_CELERY="tenant-schemas-celery", SITE_PATCH="none")
        self.worker = CeleryWorker("project.celery_app", queue=self.queue, pool="prefork",
                                   concurrency=2, env=env, cwd=str(SITE))
        if name == THEIRS:
            from tenant_schemas_celery.app import CeleryApp as App
        else:
            from celery import Celery as App
        self.app = App(f"bench-{self.queue}", set_as_current=False)
        self.app.conf.update(broker_url=BROKER, result_backend=BROKER, accept_content=["json"],
                             task_default_queue=self.queue)
        import notes.tasks  # noqa: F401  (registers the shared tasks on this app)

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """tenant-schemas-celery's producers run without this patch."""
        from omnitenant_patch import patch_celery, unpatch_celery

        if self.name == THEIRS:
            unpatch_celery()
        try:
            yield
        finally:
            if self.name == THEIRS:
                patch_celery()

    def queue_in(self, schema: Any, name: str, *args: Any, explicit: bool = False,
                 **options: Any) -> Any:
        """Queue a task inside the tenant (``tenant_context``, as a view would), or with an
        explicit ``tenant_id=`` outside any tenant."""
        from django_tenants.utils import schema_context

        task = self.app.tasks[name]
        with self.publishing():
            if explicit:
                return task.apply_async(args, tenant_id=schema, **options)
            with schema_context(schema or "public"):
                return task.apply_async(args, **options)


# ------------------------------------------------------------------ correctness

def place(schema: Any, label: Any) -> Dict[str, Any]:
    from django.db import connection

    return {"tenant": schema, "schema": schema or "public",
            "database": connection.settings_dict["NAME"],
            "rows": [f"{schema}-1", f"{schema}-2"] if schema else None, "label": label}


def get(result: Any, timeout: float = 30) -> Any:
    return result.get(timeout=timeout, disable_sync_subtasks=False)


def scenarios(impl: Implementation) -> List[Tuple[str, Callable[[], bool]]]:
    from celery import chain, chord

    def captured() -> bool:
        return get(impl.queue_in("t01", "site.probe", "c")) == place("t01", "c")

    def explicit() -> bool:
        return get(impl.queue_in("t02", "site.probe", "e", explicit=True)) == place("t02", "e")

    def none_after_tenant() -> bool:
        order = ["t03", None, "t04", None] * 3
        results = [impl.queue_in(t, "site.probe", i) for i, t in enumerate(order)]
        return [get(r) for r in results] == [place(t, i) for i, t in enumerate(order)]

    def retry() -> bool:
        return get(impl.queue_in("t05", "site.retry", "r")) == place("t05", "r")

    def canvas() -> bool:
        from django_tenants.utils import schema_context

        with impl.publishing(), schema_context("t06"):
            steps = chain(impl.app.signature("site.step", (None, "a")),
                          impl.app.signature("site.step", ("b",))).apply_async()
            both = chord([impl.app.signature("site.probe", (i,)) for i in range(2)],
                         impl.app.signature("site.collect")).apply_async()
        return (get(steps) == [place("t06", "a"), place("t06", "b")]
                and get(both) == {"header": [place("t06", 0), place("t06", 1)],
                                  "body": place("t06", "body")})

    def child() -> bool:
        outcome = get(impl.queue_in("t07", "site.spawn"))
        return (outcome["parent"] == place("t07", "parent")
                and get(impl.app.AsyncResult(outcome["child"])) == place("t07", "child"))

    def legacy() -> bool:
        return get(impl.queue_in("t08", "site.legacy", "l")) == place("t08", "l")

    def unknown() -> bool:
        text = f"ghost-{uuid.uuid4().hex[:6]}"
        with impl.publishing():
            result = impl.app.tasks["site.write"].apply_async(
                (text,), **({"tenant_id": "ghost"} if impl.name == OURS
                            else {"headers": {"_schema_name": "ghost"}}))
        try:
            get(result)
        except Exception as exc:
            return type(exc).__name__ == "TenantNotFound"
        return False  # it ran (in public): a task for a tenant that does not exist must not

    return [
        ("queued inside `tenant_context(t)`", captured),
        ("`tenant_id=` given outside any tenant", explicit),
        ("no tenant, right after tenant tasks in the same worker", none_after_tenant),
        ("`self.retry()`", retry),
        ("chain and chord", canvas),
        ("a task queued by a task", child),
        ("a task whose fixed base class is not the library's task class", legacy),
        ("a tenant that does not exist: the task fails unrun", unknown),
    ]


def correctness(impls: List[Implementation]) -> Dict[str, Dict[str, bool]]:
    table: Dict[str, Dict[str, bool]] = {}
    for impl in impls:
        impl.worker.start()
        try:
            for label, scenario in scenarios(impl):
                try:
                    ok = scenario()
                except Exception as exc:  # a wrong answer, not a crash of the benchmark
                    print(f"  {impl.name}: {label}: {type(exc).__name__}: {exc}")
                    ok = False
                table.setdefault(label, {})[impl.name] = ok
                print(f"  {'✓' if ok else '✗'} {impl.name}: {label}")
        finally:
            impl.worker.stop()
    return table


# ------------------------------------------------------------------ throughput

def drain(impl: Implementation, n: int) -> Dict[str, Any]:
    """Queue n tasks over the tenants, start the worker, time its drain from the first task."""
    import redis
    from django_tenants.utils import schema_context

    client = redis.Redis.from_url(BROKER)
    key = f"omnitenant-bench-{uuid.uuid4().hex[:8]}"
    task = impl.app.tasks["site.schema_check"]
    with impl.publishing(), impl.app.producer_or_acquire() as producer:
        for i in range(n):
            schema = TENANTS[i % len(TENANTS)]
            if impl.name == OURS:
                task.apply_async((schema, key), tenant_id=schema, producer=producer)
            else:
                with schema_context(schema):
                    task.apply_async((schema, key), producer=producer)
    impl.worker.start()
    try:
        curve = []
        wait_for(lambda: int(client.get(f"{key}:done") or 0) > 0, timeout=60, interval=0.005,
                 what="the first task")
        started, cpu_before = time.monotonic(), impl.worker.cpu_seconds()
        while True:
            done = int(client.get(f"{key}:done") or 0)
            curve.append((time.monotonic() - started, done))
            if done >= n:
                break
            if curve[-1][0] > 600:
                raise TimeoutError(f"{impl.name}: {done} of {n} tasks after 600 s")
            time.sleep(0.02)
        elapsed = curve[-1][0]
        cpu = impl.worker.cpu_seconds() - cpu_before
        wrong = client.llen(f"{key}:wrong")
    finally:
        impl.worker.stop()
        client.delete(f"{key}:done", f"{key}:wrong")
    return {"rate": (n - 1) / elapsed, "cpu": cpu / (n - 1), "wrong": wrong, "curve": curve}


def throughput(impls: List[Implementation], n: int, rounds: int) -> Dict[str, Any]:
    rates: Dict[str, List[float]] = {impl.name: [] for impl in impls}
    cpus: Dict[str, List[float]] = {impl.name: [] for impl in impls}
    wrong = {impl.name: 0 for impl in impls}
    ratios, cpu_ratios, curves = [], [], {}
    for r in range(rounds):
        measured = {}
        for impl in (impls if r % 2 == 0 else impls[::-1]):
            outcome = measured[impl.name] = drain(impl, n)
            wrong[impl.name] += outcome["wrong"]
            curves[impl.name] = outcome["curve"]
            rates[impl.name].append(outcome["rate"])
            cpus[impl.name].append(outcome["cpu"])
            print(f"  round {r + 1}: {impl.name}: {outcome['rate']:.0f} tasks/s, "
                  f"{outcome['cpu'] * 1e6:.0f} µs CPU per task, "
                  f"{outcome['wrong']} in a wrong schema")
        ratios.append(measured[OURS]["rate"] / measured[THEIRS]["rate"])
        cpu_ratios.append(measured[THEIRS]["cpu"] / measured[OURS]["cpu"])
    return {"rates": rates, "cpus": cpus, "ratios": ratios, "cpu_ratios": cpu_ratios,
            "wrong": wrong, "curves": curves}


# ------------------------------------------------------------------ report

def report(table: Dict[str, Dict[str, bool]], speed: Dict[str, Any], args: Any) -> str:
    from importlib.metadata import version

    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    versions = ", ".join(f"{name} {version(name)}" for name in (
        "celery", "django", "django-tenants", "tenant-schemas-celery")) + (
        f", Python {sys.version.split()[0]}")
    lines = [
        "# omnitenant_patch and tenant-schemas-celery, side by side",
        "",
        f"`python benchmarks/vs_tenant_schemas_celery.py --tasks {args.tasks} --rounds "
        f"{args.rounds}` on the django-tenants site of tests/sites/django_tenants: "
        f"{len(TENANTS)} tenant schemas, a real `celery worker -P prefork -c 2`, Redis; "
        f"{versions}.",
        "",
        "| scenario (each judged by the schema PostgreSQL used and the rows read) | "
        "omnitenant_patch | tenant-schemas-celery |",
        "|---|---|---|",
    ]
    for label, results in table.items():
        lines.append(f"| {label} | {mark(results[OURS])} | {mark(results[THEIRS])} |")
    passed = {name: sum(r[name] for r in table.values()) for name in (OURS, THEIRS)}
    lines += [f"| **passed** | **{passed[OURS]} / {len(table)}** | "
              f"**{passed[THEIRS]} / {len(table)}** |", ""]
    rates = speed["rates"]
    lines += [
        f"| throughput, {args.tasks} tasks per round, {args.rounds} alternating rounds | "
        "median tasks/s | range | worker CPU µs per task (median) | tasks in a wrong schema |",
        "|---|---|---|---|---|",
    ]
    for name in (OURS, THEIRS):
        lines.append(f"| {name} | {statistics.median(rates[name]):.0f} | "
                     f"{min(rates[name]):.0f}–{max(rates[name]):.0f} | "
                     f"{statistics.median(speed['cpus'][name]) * 1e6:.0f} | "
                     f"{speed['wrong'][name]} |")
    ratio, cpu = statistics.median(speed["ratios"]), statistics.median(speed["cpu_ratios"])
    lines += ["", f"Throughput ratio, omnitenant_patch ÷ tenant-schemas-celery, median of the "
                  f"per-round ratios: wall clock **{ratio:.2f}** (range "
                  f"{min(speed['ratios']):.2f}–{max(speed['ratios']):.2f}), worker CPU per task "
                  f"(theirs ÷ ours) **{cpu:.2f}** (range {min(speed['cpu_ratios']):.2f}–"
                  f"{max(speed['cpu_ratios']):.2f}); target ≥ 1.0.", ""]
    return "\n".join(lines)


def plot(speed: Dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.6))
    for name, curve in speed["curves"].items():
        axis.plot([t for t, _ in curve], [d for _, d in curve], label=name)
    axis.set_xlabel("seconds since the first task finished")
    axis.set_ylabel("tasks done")
    axis.set_title("Draining one round's tasks (last round), prefork -c 2")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plot", help="write the drain curves to this PNG")
    args = parser.parse_args()
    setup_site()
    try:
        impls = [Implementation(OURS), Implementation(THEIRS)]
        print("correctness")
        table = correctness(impls)
        print("throughput")
        speed = throughput(impls, args.tasks, args.rounds)
    finally:
        from django.db import connections

        for connection in connections.all():
            connection.close()
        services.drop_databases(services.DATABASE_PREFIX)
    text = report(table, speed, args)
    RESULTS.write_text(text)
    print(text)
    if args.plot:
        plot(speed, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
