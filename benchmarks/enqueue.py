"""Part 1 of bench.py, enqueue (``apply_async``, in-memory broker): Python function calls, CPU
time and, in a child process under callgrind, machine instructions per enqueue, patched against
bare Celery given the tenant header by hand."""

from __future__ import annotations

import gc
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

from common import CALLGRIND, HERE, REDIS_URL, TMP, ratio


def setup_django() -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "testproj.settings",
        "OMNITENANT_TEST_DB": f"sqlite:{TMP / 'bench.sqlite3'}",
        "OMNITENANT_TEST_BROKER": "memory://",
        "OMNITENANT_TEST_BACKEND": "cache+memory://",
        "OMNITENANT_BENCH_REDIS": REDIS_URL,
    })
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from testproj.tenants.models import Tenant

    for tenant_id in ("acme", "globex"):
        Tenant.objects.get_or_create(tenant_id=tenant_id, defaults={"name": tenant_id})


def purge(app) -> None:
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)


# --------------------------------------------------------------------------- enqueue

BARE = "bare + header by hand"
BARE_IN_TENANT = "bare in the tenant + header by hand"


def enqueue_variants(task, acme):
    """(name, patched?, function, the bare variant it is compared with)."""
    from omnitenant_patch import TenantContext

    def bare():
        task.apply_async(("k",), headers={"tenant_id": "acme"})

    def explicit():
        task.apply_async(("k",), tenant_id="acme")

    # Captured: the request's tenant is active. Bare Celery in the same with-block,
    # given the header by hand, is its floor, so the block costs both the same.
    def bare_in_tenant():
        with TenantContext.use_tenant(acme):
            task.apply_async(("k",), headers={"tenant_id": "acme"})

    def captured():
        with TenantContext.use_tenant(acme):
            task.apply_async(("k",))

    return [
        (BARE, False, bare, None),
        ("patched, tenant_id=", True, explicit, BARE),
        (BARE_IN_TENANT, False, bare_in_tenant, None),
        ("patched, captured from the tenant", True, captured, BARE_IN_TENANT),
    ]


def bench_task():
    from testproj.celery_app import app
    from testproj.tenants.models import Tenant

    return app, app.tasks["t.tick"], Tenant.objects.get(tenant_id="acme")


def count_calls(function) -> int:
    """Python function calls (and calls into C) one run of ``function`` makes, warm."""
    function()
    calls = 0

    def profiler(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profiler)
    try:
        function()
    finally:
        sys.setprofile(None)
    return calls


def cpu_per_call(function, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        function()
    return (time.process_time() - started) / n


def bench_enqueue(rounds: int, per_round: int) -> dict:
    """Per variant: calls, instructions and median CPU per enqueue; against its floor, the
    median of the per-round CPU ratios. Every timed slot starts alike: warmed up after the
    patch was switched (which resets CPython's attribute caches), the queue empty and the
    garbage collected (messages pile up in the in-memory broker otherwise)."""
    from omnitenant_patch import patch_celery, unpatch_celery

    app, task, acme = bench_task()
    variants = enqueue_variants(task, acme)

    def prepared(patched, function):
        if patched:
            patch_celery()
        else:
            unpatch_celery()
        for _ in range(50):
            function()
        purge(app)
        gc.collect()
        return function

    calls = {name: count_calls(prepared(patched, fn)) for name, patched, fn, _ in variants}
    times: dict = {name: [] for name, *_ in variants}
    for round_ in range(rounds):
        for name, patched, fn, _ in variants[:: 1 if round_ % 2 == 0 else -1]:
            times[name].append(cpu_per_call(prepared(patched, fn), per_round))
    patch_celery()
    purge(app)
    results = {}
    for name, patched, _, floor in variants:
        row = {"calls": calls[name], "cpu": statistics.median(times[name]),
               "instructions": enqueue_instructions(name, patched)}
        if floor is not None:
            row["floor"] = floor
            row["calls_ratio"] = calls[name] / calls[floor]
            row["cpu_ratio"] = statistics.median(
                mine / theirs for mine, theirs in zip(times[name], times[floor]))
        results[name] = row
    for row in results.values():
        if "floor" in row:
            row["instructions_ratio"] = ratio(row["instructions"],
                                              results[row["floor"]]["instructions"])
    return results


# --------------------------------------------------------------------------- instructions

# Enqueue: only what runs inside itertools.accumulate's C step function is counted; the
# measured loop runs there, so Django's start-up and the warm-up are not. The cyclic GC is
# paused in the loop: a full collection landing inside it or not would swamp the difference.
COUNTED = 200


def counted_loop(function, n: int) -> None:
    gc.collect()
    gc.disable()
    try:
        for _ in itertools.accumulate(range(n + 1), lambda _total, _i: function()):
            pass
    finally:
        gc.enable()


def enqueue_instructions(variant: str, patched: bool):
    """Machine instructions per enqueue, in a child process under callgrind; ``None`` without
    valgrind."""
    if shutil.which("valgrind") is None:
        return None
    env = dict(os.environ, PYTHONHASHSEED="0",
               OMNITENANT_TEST_UNPATCHED="0" if patched else "1")
    done = subprocess.run(
        [*CALLGRIND, "--collect-atstart=no", "--toggle-collect=accumulate_next",
         "--callgrind-out-file=/dev/null", sys.executable, str(HERE / "bench.py"), "--child",
         variant, str(COUNTED)],
        env=env, capture_output=True, text=True, check=False,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found or int(found.group(1)) == 0:
        raise RuntimeError(f"callgrind run of {variant!r} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1)) / COUNTED


def child(variant: str, n: int) -> None:
    """Inside the child process: the measured enqueue loop, under callgrind."""
    setup_django()
    _, task, acme = bench_task()
    (function,) = [fn for name, _, fn, _ in enqueue_variants(task, acme) if name == variant]
    for _ in range(50):
        function()
    counted_loop(function, n)
