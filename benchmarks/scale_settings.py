"""Settings of the scale benchmarks (scale.py, beat_scale.py, fairness.py): the test project's
settings (tests/core/testproj/settings.py, every OMNITENANT_TEST_* variable still read), and
what those benchmarks need that the tests have no variable for:

- database connections kept between tasks (``CELERY_DB_REUSE_MAX``);
- ``OMNITENANT_BENCH_MAX_TENANTS``: ``OMNITENANT_CONFIG["CACHE"]["MAX_TENANTS"]``;
- ``OMNITENANT_BENCH_CACHE_PREFIX``: the Redis cache's ``KEY_PREFIX`` (one run's keys only);
- ``OMNITENANT_BENCH_PREFETCH``: ``CELERY_WORKER_PREFETCH_MULTIPLIER``;
- ``OMNITENANT_BENCH_BEAT``: a beat schedule of two entries: ``every-tenant`` (``b.beat_tick``
  for every tenant, every ``OMNITENANT_BENCH_BEAT_PERIOD`` seconds) and ``clock`` (``b.clock``
  every second); ``OMNITENANT_BENCH_BEAT_SCHEDULER`` names beat's scheduler;
- the benchmarks' own tasks (``scale_tasks``), imported by every worker and beat.
"""

import os

import testproj.settings as _base
from testproj.settings import *  # noqa: F401,F403

_CONFIG = _base.OMNITENANT_CONFIG
_CACHES = getattr(_base, "CACHES", {})

OMNITENANT_CONFIG = dict(_CONFIG)
_cache = {}
if os.environ.get("OMNITENANT_BENCH_MAX_TENANTS"):
    _cache["MAX_TENANTS"] = int(os.environ["OMNITENANT_BENCH_MAX_TENANTS"])
if _cache:
    OMNITENANT_CONFIG["CACHE"] = _cache

if _CACHES:
    CACHES = {alias: dict(value) for alias, value in _CACHES.items()}
if _CACHES and os.environ.get("OMNITENANT_BENCH_CACHE_PREFIX"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["OMNITENANT_BENCH_CACHE_PREFIX"]

# Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set: a worker meeting a new tenant would open a PostgreSQL connection
# for each lookup (about 10 ms here), which would swamp what these benchmarks measure.
CELERY_DB_REUSE_MAX = 1000

if os.environ.get("OMNITENANT_BENCH_PREFETCH"):
    CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ["OMNITENANT_BENCH_PREFETCH"])

# testproj.celery_app sets ``imports``; ``include`` is Celery's other list of modules to import.
CELERY_INCLUDE = ["scale_tasks"]

if os.environ.get("OMNITENANT_BENCH_BEAT"):
    _label = os.environ["OMNITENANT_BENCH_BEAT"]
    CELERY_BEAT_SCHEDULE = {
        "every-tenant": {"task": "b.beat_tick", "args": (_label,),
                         "schedule": float(os.environ.get("OMNITENANT_BENCH_BEAT_PERIOD", "10")),
                         "options": {"tenants": "__all__"}},
        "clock": {"task": "b.clock", "args": (_label,), "schedule": 1.0},
    }
    CELERY_BEAT_SCHEDULER = os.environ.get("OMNITENANT_BENCH_BEAT_SCHEDULER",
                                           "omnitenant_patch.beat:TenantScheduler")
