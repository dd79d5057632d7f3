"""Real brokers, real databases and real `celery worker` subprocesses for the tests.

Every run gets its own queue names, SQLite file and PostgreSQL database, so
runs on one machine cannot see each other's messages or tenants. Outside CI a
service that is not running skips the configurations that need it; under
CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Dict, Optional

import pytest

from omnitenant_patch.fair import shards_of
from omnitenant_patch.testing import CeleryWorker, WorkerError, delete_queue, wait_for

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parents[1]
RUN_ID = uuid.uuid4().hex[:8]
REDIS_DB = int(os.environ.get("OMNITENANT_TEST_REDIS_DB", "7"))
SERVICES = {
    "redis": ("127.0.0.1", 6379),
    "amqp": ("127.0.0.1", 5672),
    "postgres": ("127.0.0.1", 5432),
}
#: Server programs the fault tests start privately (a broker to stop and start), and the Debian
#: package each comes in: under CI=true a missing one fails the run, so CI must install them
#: (tests/core/test_compat_matrix.py checks the GitHub workflow does).
PROGRAMS = {
    "redis-server": "redis-server",
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TMP = Path(tempfile.mkdtemp(prefix=f"omnitenant-{RUN_ID}-"))  # this run's files
SQLITE = TMP / "tenants.sqlite3"
PG_DB = f"omnitenant_{RUN_ID}"


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
        shards = int(self.env.get("OMNITENANT_TEST_FAIR_SHARDS", "0"))
        for queue in [self.queue, *shards_of(self.queue, shards)]:
            delete_queue(self.app, queue)

    def start_beat(self, **env: str) -> subprocess.Popen:
        """A real `celery beat` next to the worker, publishing to the worker's queue; ``env``:
        more settings (OMNITENANT_TEST_BEAT, OMNITENANT_TEST_BEAT_SCHEDULER)."""
        name = env.get("OMNITENANT_TEST_BEAT", self.name)
        log = open(self.tmp / f"beat-{name}.log", "wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "testproj.celery_app", "beat", "-l",
                 "info", "-s", str(self.tmp / f"beat-{name}.schedule"), "--max-interval", "1"],
                env=dict(self.env, **env), cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def stop_beat(self, beat: subprocess.Popen, name: str, timeout: float = 20) -> None:
        """Stop a beat as its service manager would (SIGTERM); one still running ``timeout``
        seconds later writes its threads' stacks to its log (SIGUSR2: testproj.celery_app), is
        killed, and the test fails."""
        if beat.poll() is not None:
            return
        os.killpg(beat.pid, signal.SIGTERM)
        try:
            beat.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(beat.pid, signal.SIGUSR2)
            try:
                beat.wait(timeout=2)
            except subprocess.TimeoutExpired:
                os.killpg(beat.pid, signal.SIGKILL)
                beat.wait(timeout=30)
            pytest.fail(f"beat did not stop within {timeout:.0f} s of SIGTERM; its log:\n"
                        f"{self.beat_log(name)[-6000:]}", pytrace=False)

    def beat_log(self, name: str) -> str:
        return (self.tmp / f"beat-{name}.log").read_text(errors="replace")

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

    def start(self) -> PrivateRedis:
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


def start_worker(name: str, broker: str, pool: str, database: str,
                 extra_env: Dict[str, str]) -> Worker:
    """A started worker of the test project: broker, pool, and the run's SQLite or PostgreSQL."""
    if broker != "filesystem":
        require(broker)
        require("redis")  # the result backend of redis and amqp runs
    if database == "postgres":
        require("postgres")
        db = f"postgres:{PG_DB}"
    else:
        db = f"sqlite:{SQLITE}"
    return Worker(name, broker=broker, pool=pool, db=db, tmp=TMP,
                          extra_env=extra_env).start()


class PrivateRabbitMQ:
    """A RabbitMQ node of the test's own (ports, data, cookie), that a test stops and starts.

    Debian's /usr/sbin/rabbitmq-server drops to the rabbitmq user, who cannot write here, and
    /etc/rabbitmq names the system node's port: run the real script as this user, with
    config and env files of its own, in the foreground, stopped by SIGTERM (a clean stop).
    """

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # in PROGRAMS

    def __init__(self, folder: Path) -> None:
        if not os.path.exists(self.SERVER):
            message = f"{self.SERVER} is not installed"
            pytest.fail(message) if IN_CI else pytest.skip(message)
        self.port, self.dist_port = _free_low_port(), _free_low_port()
        self.base = folder / f"rabbitmq-{self.port}"
        for sub in ("mnesia", "log", "home"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
            "disk_free_limit.absolute = 10MB\nlog.console = false\n")
        (self.base / "rabbitmq-env.conf").write_text("# keeps /etc/rabbitmq's out\n")
        (self.base / "enabled_plugins").write_text("[].\n")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("RABBITMQ_", "ERL_")) and k != "NOTIFY_SOCKET"}
        b = self.base
        self.env.update({
            "HOME": str(b / "home"), "RABBITMQ_NODENAME": f"omnitest{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(b / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(b / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(b / "mnesia"), "RABBITMQ_LOG_BASE": str(b / "log"),
            "RABBITMQ_PID_FILE": str(b / "rabbit.pid"),
            "ERL_CRASH_DUMP": str(b / "log" / "erl_crash.dump"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        self.process: Optional[subprocess.Popen] = None

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 90) -> PrivateRabbitMQ:
        from kombu import Connection

        with open(self.base / "log" / "console.log", "ab") as console:
            self.process = subprocess.Popen(
                [self.SERVER], env=self.env, cwd=str(self.base), stdin=subprocess.DEVNULL,
                stdout=console, stderr=subprocess.STDOUT, start_new_session=True)

        def accepts_connections() -> bool:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"rabbitmq-server exited at start; see {self.base / 'log'}")
            try:
                with Connection(self.url(), connect_timeout=1) as connection:
                    connection.ensure_connection(max_retries=1)
                return True
            except Exception:
                return False

        Worker.wait_for(accepts_connections, timeout=timeout, what="the private RabbitMQ")
        return self

    def stop(self) -> None:
        """A clean stop (SIGTERM: queues and the message store are flushed), then wait."""
        process = self.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, 15)
            try:
                process.wait(timeout=60)
            finally:
                try:
                    os.killpg(process.pid, 9)  # whatever of the Erlang VM is left
                except ProcessLookupError:
                    pass


def _free_low_port() -> int:
    """A free port below the kernel's ephemeral range, so no client socket takes it while the
    node is down between a stop and a start."""
    import random

    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in (25672, 35672):
            return port
