"""A real ``celery worker`` subprocess: started, waited for, and stopped by its own pid."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence


class WorkerError(RuntimeError):
    """The worker exited at start, or was not ready in time (the message ends with its log)."""


class CeleryWorker:
    """``celery -A <app> worker`` in its own process group, consuming ``queue``.

    >>> worker = CeleryWorker("proj", queue="test-1234", pool="solo").start()
    >>> worker.stop()

    ``pool`` and ``concurrency`` are the worker's ``-P``/``-c``; ``env`` is added to
    this process's environment; the log goes to ``log_path`` (by default a temporary file,
    deleted at ``stop()``; ``log_text()`` still answers), and the worker's temporary files to a
    folder of its own, removed at ``stop()``. ``stop()`` sends SIGTERM to the
    worker's own process group (its pid, never a name), then SIGKILL if it has not exited
    after ``grace`` seconds.
    """

    def __init__(self, app: str, *, queue: str, pool: str = "prefork", concurrency: int = 2,
                 env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                 log_path: Optional[Path] = None, loglevel: str = "info",
                 queues: Sequence[str] = (), grace: float = 20) -> None:
        self.app = app
        self.queue = queue
        self.queues = [queue, *queues]
        self.pool = pool
        self.concurrency = concurrency
        self.env = dict(os.environ, **(env or {}))
        self.cwd = cwd
        self._own_log = log_path is None
        self._final_log: Optional[str] = None  # what the deleted temporary log held
        if log_path is None:
            descriptor, name = tempfile.mkstemp(prefix=f"celery-worker-{queue}-", suffix=".log")
            os.close(descriptor)
            log_path = Path(name)
        self.log_path = Path(log_path)
        self._tmp: Optional[str] = None  # the worker's TMPDIR, removed at stop()
        self.loglevel = loglevel
        self.grace = grace
        self.process: Optional[subprocess.Popen] = None

    def command(self) -> list:
        """The worker's command line."""
        command = [sys.executable, "-m", "celery", "-A", self.app, "worker", "-P", self.pool,
                   "-Q", ",".join(self.queues), "-n", f"{self.queue}@%h", "-l", self.loglevel,
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if self.pool != "solo":
            command += ["-c", str(self.concurrency)]
        return command

    def start(self, timeout: float = 60, prefix: Sequence[str] = ()) -> CeleryWorker:
        """Start the worker and wait until it logs that it is ready; ``prefix`` runs it under
        another command (valgrind, say)."""
        self._final_log = None
        # Its own temporary folder: what a killed worker leaves there (billiard's pymp-*) goes
        # with it at stop().
        self._tmp = tempfile.mkdtemp(prefix="celery-worker-tmp-")
        log = open(self.log_path, "wb")
        try:
            self.process = subprocess.Popen(
                [*prefix, *self.command()], env=dict(self.env, TMPDIR=self._tmp), cwd=self.cwd,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()  # its temporary folder
                raise WorkerError(f"celery worker ({self.app}) exited at start:\n{self.log_tail()}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        self.stop()
        raise WorkerError(f"celery worker ({self.app}) not ready after {timeout} s:\n"
                          f"{self.log_tail()}")

    def stop(self) -> None:
        """Stop the worker (warm shutdown, then kill): its process group, by pid. A temporary
        log of its own is read and deleted."""
        process = self.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._own_log and self._final_log is None:
            self._final_log = self.log_text()
            self.log_path.unlink(missing_ok=True)

    @property
    def pid(self) -> Optional[int]:
        return None if self.process is None else self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker and its pool processes so far (Linux ``/proc``)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[2]) == self.pid:  # its process group
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no worker log)"

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"CeleryWorker({self.app!r}, queue={self.queue!r}, pool={self.pool!r})"


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition",
             interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something true, and return it; ``TimeoutError``
    naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def declared_shards(queue: str) -> list:
    """The shard queues a patched worker consuming ``queue`` declares (``FAIR_SHARDS`` /
    ``CONSUME_SHARDS`` of this process's settings), to delete them with it."""
    from ..conf import get_config
    from ..fair import shards_of

    config = get_config()
    shards = config.fair_shards if config.consume_shards is None else config.consume_shards
    return shards_of(queue, shards) if shards else []


def delete_queue(app: Any, queue: str) -> None:
    """Delete ``queue`` and what it still holds from ``app``'s broker, once nothing consumes it:
    RabbitMQ keeps a durable queue after its last worker stops, Redis its list. A broker that
    cannot be reached (a test stopped it) keeps it, with a warning in the log."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            channel.queue_delete(queue)
            if connection.transport.driver_type != "amqp":  # kombu's virtual transports
                channel.queue_purge(queue)  # deletes only the bindings this process declared
    except Exception as exc:  # the broker is gone: there is nothing to delete it from
        logging.getLogger(__name__).warning("queue %r is left on the broker: %s", queue, exc)
