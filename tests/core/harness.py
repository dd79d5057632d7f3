"""Real brokers, real databases and real `celery worker` subprocesses for the tests.

Every run gets its own queue names, SQLite file and PostgreSQL database, so
runs on one machine cannot see each other's messages or tenants. Outside CI a
service that is not running skips the configurations that need it; under
CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

from omnitenant_patch.testing import CeleryWorker, WorkerError, wait_for

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parents[1]
RUN_ID = uuid.uuid4().hex[:8]
REDIS_DB = int(os.environ.get("OMNITENANT_TEST_REDIS_DB", "7"))
SERVICES = {
    "redis": ("127.0.0.1", 6379),
    "amqp": ("127.0.0.1", 5672),
    "postgres": ("127.0.0.1", 5432),
}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(service: str) -> bool:
    try:
        with socket.create_connection(SERVICES[service], timeout=1):
            return True
    except OSError:
        return False


def require(service: str) -> None:
    if reachable(service):
        return
    host, port = SERVICES[service]
    message = f"{service} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true needs every service", pytrace=False)
    pytest.skip(message)


def broker_url(broker: str, tmp: Path) -> str:
    if broker == "redis":
        return f"redis://127.0.0.1:6379/{REDIS_DB}"
    if broker == "amqp":
        return "amqp://guest:guest@127.0.0.1:5672//"
    if broker == "filesystem":
        return "filesystem://"
    raise ValueError(broker)


def backend_url(broker: str, tmp: Path) -> str:
    if broker == "filesystem":
        folder = tmp / "results"
        folder.mkdir(exist_ok=True)
        return f"file://{folder}"
    return f"redis://127.0.0.1:6379/{REDIS_DB}"


class Worker:
    """A `celery worker` subprocess for one configuration, and a client app that talks to it."""

    def __init__(self, name: str, *, broker: str, pool: str, db: str, tmp: Path,
                 concurrency: int = 2, extra_env: Optional[Dict[str, str]] = None,
                 broker_override: Optional[str] = None) -> None:
        self.name = name
        self.queue = f"omnitenant-{RUN_ID}-{name}"
        self.tmp = tmp
        self.log_path = tmp / f"worker-{name}.log"
        self.env = dict(os.environ)
        self.env.update({
            "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "testproj.settings",
            "OMNITENANT_TEST_DB": db,
            "OMNITENANT_TEST_BROKER": broker_override or broker_url(broker, tmp),
            "OMNITENANT_BENCH_REDIS": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "OMNITENANT_TEST_BACKEND": backend_url(broker, tmp),
            "OMNITENANT_TEST_QUEUE": self.queue,
            "OMNITENANT_TEST_CACHE_DIR": str(tmp / "django-cache"),
        })
        self.env.pop("OMNITENANT_TEST_PG_DB", None)
        if broker == "filesystem":
            folder = tmp / f"fs-{name}"
            folder.mkdir(exist_ok=True)
            (tmp / f"fs-{name}-processed").mkdir(exist_ok=True)
            self.env["OMNITENANT_TEST_FS_FOLDER"] = str(folder)
        self.env.update(extra_env or {})
        self.db_alias = "pg" if db.startswith("postgres") else "default"
        self.pool = pool
        self.concurrency = concurrency
        self.process = CeleryWorker("testproj.celery_app", queue=self.queue, pool=pool,
                                    concurrency=concurrency, env=self.env, cwd=str(ROOT),
                                    log_path=self.log_path)
        self.app = self._client_app()

    def _client_app(self):
        from celery import Celery

        transport_options = {}
        if "OMNITENANT_TEST_FS_FOLDER" in self.env:
            folder = self.env["OMNITENANT_TEST_FS_FOLDER"]
            transport_options = {"data_folder_in": folder, "data_folder_out": folder,
                                 "control_folder": folder + "-control",
                                 "store_processed": False}
        app = Celery(f"client-{self.name}", set_as_current=False)
        app.conf.update(
            broker_url=self.env["OMNITENANT_TEST_BROKER"],
            result_backend=self.env["OMNITENANT_TEST_BACKEND"],
            broker_transport_options=transport_options,
            task_default_queue=self.queue,
            accept_content=["json"],
        )
        import testproj.tasks  # noqa: F401  (registers the shared tasks on this app)

        return app

    def start(self, prefix: tuple = (), timeout: float = 60) -> Worker:
        """Start the worker and wait until it says it is ready; ``prefix`` runs it under another
        command (the benchmarks' valgrind)."""
        try:
            self.process.start(timeout=timeout, prefix=prefix)
        except WorkerError as exc:
            raise RuntimeError(f"worker {self.name}: {exc}") from None
        return self

    def stop(self) -> None:
        self.process.stop()

    def start_beat(self) -> subprocess.Popen:
        """A real `celery beat` next to the worker, publishing to the worker's queue."""
        log = open(self.tmp / f"beat-{self.name}.log", "wb")
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "testproj.celery_app", "beat", "-l", "info",
             "-s", str(self.tmp / f"beat-{self.name}.schedule"), "--max-interval", "1"],
            env=self.env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.process.log_text()

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)

    def task(self, name: str):
        return self.app.tasks[name]

    def sig(self, name: str, *args, **kwargs):
        return self.app.signature(name, args=args, kwargs=kwargs)

    def get(self, result, timeout: float = 30):
        """Wait for a result; on a timeout, fail with the worker's log."""
        from celery.exceptions import TimeoutError as CeleryTimeout

        try:
            return result.get(timeout=timeout, disable_sync_subtasks=False)
        except CeleryTimeout:
            pytest.fail(f"no result from worker {self.name} in {timeout} s:\n{self.log_tail()}",
                        pytrace=False)

    @staticmethod
    def wait_for(condition, timeout: float = 30, what: str = "condition"):
        """Poll ``condition`` until it returns something true; fail the test after ``timeout``."""
        try:
            return wait_for(condition, timeout=timeout, what=what)
        except TimeoutError as exc:
            pytest.fail(str(exc), pytrace=False)

    def __repr__(self) -> str:
        return f"Worker({self.name})"


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that a test stops and starts."""

    def __init__(self, folder: Path, persist: bool = True) -> None:
        if not shutil.which("redis-server"):
            message = "the redis-server binary is not on PATH"
            pytest.fail(message) if IN_CI else pytest.skip(message)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = folder / f"redis-{self.port}"
        self.folder.mkdir()
        self.command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                        "--dir", str(self.folder), "--save", ""]
        self.command += ["--appendonly", "yes", "--appendfsync", "always"] if persist else [
            "--appendonly", "no"]
        self.process: Optional[subprocess.Popen] = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "PrivateRedis":
        import redis

        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port)
        Worker.wait_for(lambda: _pings(client), what="redis-server to start")
        return self

    def stop(self) -> None:
        """Shut the server down (it writes its append-only file first) and wait for it."""
        import redis

        if self.process is not None and self.process.poll() is None:
            try:
                redis.Redis(port=self.port).shutdown()
            except redis.ConnectionError:
                pass
            self.process.wait(timeout=20)


def _pings(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.ConnectionError:
        return False
