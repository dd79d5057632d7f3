"""Tasks (and one beat scheduler) of the scale benchmarks, imported by their workers and beat
through ``CELERY_INCLUDE`` (scale_settings.py). Every task counts in Redis
(``OMNITENANT_BENCH_REDIS``, db 12) and returns nothing, except the probe.

- ``b.cache_probe``: this worker process's tenant cache size and resident memory;
- ``b.fair``: a task of ``--task-ms`` that records when it was published, started and ended, the
  tenant it was queued for and the one it ran in (fairness.py);
- ``b.beat_tick`` / ``b.clock``: beat's per-tenant entry and its one-second clock
  (beat_scale.py); ``b.beat_tick`` counts, per period, how many times each tenant ran it;
- ``LoopScheduler``: tenant-schemas-celery's ``TenantAwareScheduler`` way, for comparison: an
  entry for every tenant is fanned out inside beat's own loop, one publish per tenant.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import uuid

from celery import shared_task, signals
from celery.beat import PersistentScheduler

from omnitenant_patch import TenantContext

logger = logging.getLogger("celery.beat")
_redis = None


def bench_redis():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(os.environ["OMNITENANT_BENCH_REDIS"])
    return _redis


def seen():
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


def rss_kb(pid="self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@shared_task(name="b.cache_probe")
def cache_probe():
    from omnitenant_patch.state import STATE

    return {"cached": len(STATE.tenants), "valid_ids": len(STATE.valid_ids),
            "rss_kb": rss_kb(), "pid": os.getpid()}


@shared_task(name="b.fair", ignore_result=True)
def fair(key, expected, published_at, seconds):
    started = time.time()
    tenant = seen()
    time.sleep(seconds)
    bench_redis().rpush(key, json.dumps([expected, tenant, published_at, started, time.time()]))


@shared_task(name="b.beat_tick", bind=True, ignore_result=True)
def beat_tick(self, label):
    """One tenant's run of the every-tenant entry: counted under its period (the fan-out task
    that queued it, or the LoopScheduler's period header)."""
    headers = self.request.headers or {}
    period = headers.get("bench_period") or getattr(self.request, "bench_period", None) \
        or self.request.parent_id or "none"
    client = bench_redis()
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(f"{label}:period:{period}", str(seen()), 1)
    pipe.sadd(f"{label}:periods", period)
    pipe.incr(f"{label}:total")
    pipe.execute()


@shared_task(name="b.clock", ignore_result=True)
def clock(label):
    bench_redis().incr(f"{label}:clock")


@signals.task_prerun.connect
def _fan_out_started(sender=None, task_id=None, kwargs=None, **_):
    """The worker's fan-out task starts: when, and this pool process's memory."""
    if getattr(sender, "name", None) == "omnitenant_patch.fan_out":
        bench_redis().hset(f"{_label_of(kwargs)}:fanout-start", task_id,
                           json.dumps([time.time(), rss_kb(), os.getpid()]))


@signals.task_postrun.connect
def _fan_out_ended(sender=None, task_id=None, kwargs=None, retval=None, **_):
    """... and ends: when, how many it queued, how many child results Celery's trail kept on its
    request, and this pool process's memory (now and its peak)."""
    if getattr(sender, "name", None) == "omnitenant_patch.fan_out":
        children = getattr(sender.request, "children", None) or []
        bench_redis().hset(f"{_label_of(kwargs)}:fanout-end", task_id, json.dumps(
            [time.time(), retval if isinstance(retval, int) else None, len(children), rss_kb(),
             _hwm_kb()]))


def _hwm_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _label_of(kwargs) -> str:
    try:
        return str(kwargs["message"]["args"][0])
    except (KeyError, IndexError, TypeError):
        return "unlabelled"


class LoopScheduler(PersistentScheduler):
    """tenant-schemas-celery's ``TenantAwareScheduler.apply_entry``, ported to the test project:
    an entry naming ``tenants`` is sent once per tenant from beat's loop, each publish inside
    the tenant (``schema_context`` there, ``TenantContext.use_tenant`` here), so beat's loop
    waits for every publish. Other entries are sent as Celery's scheduler sends them."""

    def apply_entry(self, entry, producer=None):
        if "tenants" not in (entry.options or {}):
            return super().apply_entry(entry, producer=producer)
        from testproj.tenants.models import Tenant

        logger.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        options = {k: v for k, v in entry.options.items() if k not in ("tenants", "spread")}
        options["headers"] = dict(options.get("headers") or {}, bench_period=uuid.uuid4().hex)
        clone = copy.copy(entry)
        clone.options = options
        tenants = list(Tenant.objects.only("pk", "tenant_id"))
        for tenant in tenants:
            with TenantContext.use_tenant(tenant):
                try:
                    self.apply_async(clone, producer=producer, advance=False)
                except Exception as exc:  # as theirs: log and go on
                    logger.exception(exc)
        logger.info("LoopScheduler: sent %s to %d tenants", entry.name, len(tenants))
