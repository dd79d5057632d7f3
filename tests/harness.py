"""Real brokers, real databases and real `celery worker` subprocesses for the tests.

Every run gets its own queue names, SQLite file and PostgreSQL database, so
runs on one machine cannot see each other's messages or tenants. Outside CI a
service that is not running skips the configurations that need it; under
CI=true it fails them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

TESTS_DIR = Path(__file__).resolve().parent
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
            "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(TESTS_DIR.parent)]),
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
        self.process: Optional[subprocess.Popen] = None
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
        command = [
            *prefix, sys.executable, "-m", "celery", "-A", "testproj.celery_app", "worker",
            "-P", self.pool, "-Q", self.queue, "-n", f"{self.queue}@%h", "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if self.pool != "solo":
            command += ["-c", str(self.concurrency)]
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command, env=self.env, cwd=str(TESTS_DIR.parent), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited at start:\n{self.log_tail()}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"worker {self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def start_beat(self) -> subprocess.Popen:
        """A real `celery beat` next to the worker, publishing to the worker's queue."""
        log = open(self.tmp / f"beat-{self.name}.log", "wb")
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "testproj.celery_app", "beat", "-l", "info",
             "-s", str(self.tmp / f"beat-{self.name}.schedule"), "--max-interval", "1"],
            env=self.env, cwd=str(TESTS_DIR.parent), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no worker log)"
        return "\n".join(text.splitlines()[-lines:])

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
        """Poll ``condition`` until it returns something true; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        pytest.fail(f"timed out after {timeout} s waiting for {what}", pytrace=False)

    def __repr__(self) -> str:
        return f"Worker({self.name})"
