"""What scale.py, beat_scale.py and fairness.py share: a PostgreSQL database of this run's own,
the test project's settings with the benchmarks' additions (scale_settings.py), real workers of
the tests' harness running them, tenants made in bulk, and cleaning up after themselves (the
database, this run's Redis keys in db 12, the queues)."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, List

from common import HERE, REDIS_URL, ROOT, TMP, harness

RUN = os.environ.setdefault("OMNITENANT_SCALE_RUN", harness.RUN_ID)  # children share it
PG_DB = f"omnitenant_scale_{RUN}"
PREFIX = f"omnitenant-scale-{RUN}"  # every Redis key of this run starts with it
PYTHONPATH = os.pathsep.join([str(ROOT / "tests" / "core"), str(ROOT), str(HERE)])
SCALE_MD = HERE / "SCALE.md"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


def environment(cache: bool = True) -> None:
    """This process's (and so every worker's) settings: scale_settings on this run's database,
    Redis db 12 as the shared Django cache under this run's key prefix."""
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "scale_settings",
        "OMNITENANT_TEST_DB": f"postgres:{PG_DB}",
        "OMNITENANT_BENCH_REDIS": REDIS_URL,
        "OMNITENANT_TEST_BROKER": "memory://",
        "OMNITENANT_TEST_BACKEND": "cache+memory://",
        "OMNITENANT_BENCH_CACHE_PREFIX": PREFIX,
        "PYTHONHASHSEED": "0",
    })
    if cache:
        os.environ["OMNITENANT_TEST_CACHE_URL"] = REDIS_URL
    os.environ.pop("OMNITENANT_TEST_PG_DB", None)


def _pg_admin():
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    connection.autocommit = True
    return connection


def create_database() -> None:
    connection = _pg_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{PG_DB}"')
    finally:
        connection.close()


def drop_database() -> None:
    try:
        from django.db import connections

        for connection in connections.all():
            connection.close()
    except Exception:
        pass
    connection = _pg_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", [PG_DB])
            cursor.execute(f'DROP DATABASE IF EXISTS "{PG_DB}"')
    finally:
        connection.close()


def setup(cache: bool = True) -> None:
    """Environment, database, Django, migrations."""
    environment(cache)
    create_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connections

    for connection in connections.all():
        connection.close()


@contextlib.contextmanager
def site(cache: bool = True) -> Iterator[None]:
    """``setup()``; at the end, this run's database and Redis keys are gone."""
    setup(cache)
    try:
        yield
    finally:
        drop_database()
        delete_run_keys()


def services_up(*services: str) -> bool:
    """Whether every service named is reachable (says which is not)."""
    for service in services:
        if not harness.reachable(service):
            print(f"{service} is not reachable", file=sys.stderr)
            return False
    return True


def run_main(main: Callable[[], int]) -> None:
    """A benchmark's entry point: its exit status, and this process's scratch removed."""
    try:
        sys.exit(main())
    finally:
        remove_scratch()


def tenant_ids(n: int, start: int = 0) -> List[str]:
    return [f"t{i:06d}" for i in range(start, start + n)]


def create_tenants(n: int, start: int = 0, batch: int = 10_000) -> float:
    """``n`` tenants ``t<start>``… in bulk; the seconds it took."""
    from testproj.tenants.models import Tenant

    began = time.monotonic()
    ids = tenant_ids(n, start)
    for i in range(0, n, batch):
        Tenant.objects.bulk_create([Tenant(tenant_id=t, name=f"Tenant {t}")
                                    for t in ids[i:i + batch]])
    return time.monotonic() - began


def delete_tenants() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tenants_tenant RESTART IDENTITY")


def make_worker(name: str, broker: str = "redis", pool: str = "solo", concurrency: int = 2,
                **env: str) -> harness.Worker:
    """A real ``celery worker`` of the test project (not started) with the benchmarks' settings
    and tasks; ``env``: more settings (OMNITENANT_TEST_* / OMNITENANT_BENCH_*)."""
    import scale_tasks  # noqa: F401  (registers the benchmarks' shared tasks on the client app)

    extra = {"PYTHONPATH": PYTHONPATH, "DJANGO_SETTINGS_MODULE": "scale_settings"}
    extra.update(env)
    return harness.Worker(f"scale{RUN}-{name}", broker=broker, pool=pool,
                          db=os.environ["OMNITENANT_TEST_DB"], tmp=TMP, concurrency=concurrency,
                          extra_env=extra)


def redis():
    import redis as redis_module

    return redis_module.Redis.from_url(REDIS_URL)


def delete_run_keys() -> int:
    """Delete every Redis key of this run (db 12 only: keys starting with PREFIX)."""
    client = redis()
    deleted = 0
    for pattern in (f"{PREFIX}*", f"_kombu.binding*scale{RUN}-*"):  # kombu's tables of our queues
        for key in client.scan_iter(match=pattern, count=1000):
            deleted += client.delete(key)
    return deleted


def rss_kb(pid) -> int:
    return _status_kb(pid, "VmRSS")


def hwm_kb(pid) -> int:
    return _status_kb(pid, "VmHWM")


def _status_kb(pid, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def wait_count(client, key: str, n: int, what: str, worker=None, timeout: float = 600,
               poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while int(client.get(key) or 0) < n:
        if time.monotonic() > deadline:
            tail = worker.log_tail() if worker is not None else ""
            raise RuntimeError(f"{what}: {int(client.get(key) or 0)} of {n} after {timeout} s\n"
                               f"{tail}")
        time.sleep(poll)


def percentile(values: Iterable[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    import platform

    import celery
    import django
    import kombu

    return (f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
            f"Celery {celery.__version__}, kombu {kombu.__version__}, Django {django.__version__}")


def write_section(path: Path, name: str, text: str, title: str) -> None:
    """Put ``text`` between this section's markers in ``path`` (other sections kept)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text() if path.exists() else f"# {title}\n"
    if start in old and end in old:
        before, rest = old.split(start, 1)
        after = rest.split(end, 1)[1]
        new = before + block + after
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


def remove_scratch() -> None:
    """This process's scratch folders (the benchmarks' and the harness's)."""
    import shutil

    shutil.rmtree(TMP, ignore_errors=True)
    shutil.rmtree(harness.TMP, ignore_errors=True)


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])

