"""Services and PostgreSQL databases for a site run (each run has its own names)."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import List, Optional

import pytest

SITES = Path(__file__).resolve().parents[1]
RUN_ID = os.environ.get("OMNITENANT_SITE_RUN") or uuid.uuid4().hex[:8]
REDIS_DB = int(os.environ.get("OMNITENANT_TEST_REDIS_DB", "7"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SERVICES = {"redis": ("127.0.0.1", 6379), "postgres": ("127.0.0.1", 5432),
            "rabbitmq": ("127.0.0.1", 5672)}
#: The workers' broker: SITE_TRANSPORT=rabbitmq or redis (the default). Results are in Redis.
TRANSPORT = os.environ.get("SITE_TRANSPORT", "redis")


_RUN_DIR: List[Path] = []  # test plumbing: at most one, made by this process


def run_dir() -> Path:
    """This run's folder for files its processes write (the workers' logs, the tracing site's
    telemetry), made on first use; ``remove_run_dir()`` (each site's ``pytest_unconfigure``, and
    at exit in case a site's conftest does not) deletes it: a run leaves nothing in /tmp."""
    if not _RUN_DIR:
        _RUN_DIR.append(Path(tempfile.mkdtemp(prefix=f"omnitenant-site-{RUN_ID}-")))
        atexit.register(remove_run_dir, os.getpid())
    return _RUN_DIR[0]


def remove_run_dir(owner: Optional[int] = None) -> None:
    """Delete this run's folder (never from a forked child of the process that made it)."""
    if _RUN_DIR and (owner is None or owner == os.getpid()):
        shutil.rmtree(_RUN_DIR[0], ignore_errors=True)


def require(*services: str) -> None:
    """Skip (fail under CI=true) when one of ``services``, or the run's broker, is not
    reachable."""
    for service in (*services, TRANSPORT):
        try:
            with socket.create_connection(SERVICES[service], timeout=1):
                continue
        except OSError:
            pass
        host, port = SERVICES[service]
        message = f"{service} is not reachable on {host}:{port}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true needs every service", pytrace=False)
        pytest.skip(message)


def setup_django(**env: str) -> None:
    """Configure Django with the site's settings (``project.settings``) and the SITE_*
    variables ``env``, and import its Celery app (the one shared tasks bind to here)."""
    os.environ.update(env, DJANGO_SETTINGS_MODULE="project.settings", SITE_BROKER=BROKER,
                      SITE_RESULTS=RESULTS)
    import django

    django.setup()
    import project.celery_app  # noqa: F401


#: The broker and result backend of every site's workers, and of the site's own app here.
RESULTS = f"redis://127.0.0.1:6379/{REDIS_DB}"
BROKER = {"redis": RESULTS, "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}[TRANSPORT]

#: Every database this run makes starts so; drop_databases(DATABASE_PREFIX) removes them all.
DATABASE_PREFIX = f"ot_{RUN_ID}_"


def database_name(site: str, what: str) -> str:
    return f"{DATABASE_PREFIX}{site}_{what}"


def _admin():
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    connection.autocommit = True
    return connection


def create_database(name: str) -> None:
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def drop_databases(prefix: str) -> None:
    """Drop every database whose name starts with ``prefix`` (the run's own)."""
    connection = _admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
            for (name,) in cursor.fetchall():
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s", [name])
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        connection.close()
