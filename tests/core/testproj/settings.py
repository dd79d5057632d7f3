"""Settings of the Django project the tests (and their real workers) run.

Everything that differs between test runs comes from OMNITENANT_TEST_* variables,
so the test process and each `celery worker` subprocess read the same file.
"""

import os

from omnitenant_patch import patch_celery

if os.environ.get("OMNITENANT_TEST_UNPATCHED") != "1":  # proves no test passes unpatched
    patch_celery()  # the one line, before the rest of the settings exist

SECRET_KEY = "omnitenant-tests-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "omnitenant_patch", "testproj.tenants"]
try:  # beat's database scheduler (tests/core/test_beat.py); every test environment installs it
    import django_celery_beat  # noqa: F401

    INSTALLED_APPS.append("django_celery_beat")
except ImportError:
    pass
MIDDLEWARE = ["omnitenant_patch.middleware.TenantMiddleware"]
ROOT_URLCONF = "testproj.urls"
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"


def _database(spec):
    kind, _, name = spec.partition(":")
    if kind == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "TEST": {"NAME": name}}
    if kind == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": 5432,
            "TEST": {"NAME": name},
        }
    raise ValueError(f"OMNITENANT_TEST_DB={spec!r}: expected sqlite:PATH or postgres:NAME")


DATABASES = {"default": _database(os.environ.get("OMNITENANT_TEST_DB", "sqlite::memory:"))}
if os.environ.get("OMNITENANT_TEST_PG_DB"):
    DATABASES["pg"] = _database("postgres:" + os.environ["OMNITENANT_TEST_PG_DB"])

OMNITENANT_CONFIG = {
    "TENANT_MODEL": "tenants.Tenant",
    "TENANT_ID_FIELD": "tenant_id",
    # The test site stands behind a proxy that sets X-Tenant-ID (and overwrites a client's).
    "MIDDLEWARE": {"RESOLVER": "header", "TRUSTED_HEADER": "X-Tenant-ID"},
    # README's custom backend (tests/core/test_custom_backend.py), in a worker of its own.
    **({"BACKEND": os.environ["OMNITENANT_TEST_BACKEND_PATH"]}
       if os.environ.get("OMNITENANT_TEST_BACKEND_PATH") else {}),
    "CELERY": {
        "AUTO_CAPTURE": os.environ.get("OMNITENANT_TEST_AUTO_CAPTURE", "1") == "1",
        "HEADER": os.environ.get("OMNITENANT_TEST_HEADER", "tenant_id"),
        "SIGN_HEADERS": os.environ.get("OMNITENANT_TEST_SIGN") == "1",
        "ON_MISSING_TENANT": os.environ.get("OMNITENANT_TEST_ON_MISSING", "raise"),
        "REQUIRE_TENANT": os.environ.get("OMNITENANT_TEST_REQUIRE") == "1",
        "FAIR_SHARDS": int(os.environ.get("OMNITENANT_TEST_FAIR_SHARDS", "0")),
    },
}

# A cache the test process and its workers share, so a tenant deleted in one is gone in all:
# a folder, or (OMNITENANT_TEST_CACHE_URL, Django >= 4.0) a Redis server the fault tests stop.
if os.environ.get("OMNITENANT_TEST_CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["OMNITENANT_TEST_CACHE_URL"]}}
elif os.environ.get("OMNITENANT_TEST_CACHE_DIR"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": os.environ["OMNITENANT_TEST_CACHE_DIR"]}}

CELERY_WORKER_TASK_LOG_FORMAT = "%(task_name)s[%(task_id)s] tenant=%(tenant_id)s: %(message)s"
if os.environ.get("OMNITENANT_TEST_BEAT"):  # its value labels this beat's observations
    _label = os.environ["OMNITENANT_TEST_BEAT"]
    CELERY_BEAT_SCHEDULE = {
        "observe-as-acme": {"task": "t.observe", "schedule": 1.0, "args": (f"{_label}:acme",),
                            "options": {"tenant_id": "acme"}},
        "fan-out": {"task": "t.fan_out", "schedule": 1.0, "args": (f"{_label}:fan-out",)},
        "every-tenant": {"task": "t.observe", "schedule": 1.0, "args": (f"{_label}:every",),
                         "options": {"tenants": "__all__", "spread": 2}},
        "listed": {"task": "t.observe", "schedule": 1.0, "args": (f"{_label}:listed",),
                   "options": {"tenants": ["globex", "42"]}},
        "ready": {"task": "t.observe", "schedule": 1.0, "args": (f"{_label}:ready",),
                  "options": {"tenants": "testproj.tasks.ready_tenants"}},
    }
    if os.environ.get("OMNITENANT_TEST_BEAT_SCHEDULER", "").startswith("omnitenant_patch."):
        CELERY_BEAT_SCHEDULE["tenant-schemas-celery"] = {  # its key, read by ours only
            "task": "t.observe", "schedule": 1.0, "args": (f"{_label}:tenant_schemas",),
            "tenant_schemas": ["acme"]}
    if os.environ.get("OMNITENANT_TEST_BEAT_WRONG"):
        CELERY_BEAT_SCHEDULE["wrong-entry"] = {
            "task": "t.observe", "schedule": 1.0, "args": (f"{_label}:wrong",),
            "options": {"tenants": os.environ["OMNITENANT_TEST_BEAT_WRONG"]}}
    if os.environ.get("OMNITENANT_TEST_BEAT_SCHEDULER"):
        CELERY_BEAT_SCHEDULER = os.environ["OMNITENANT_TEST_BEAT_SCHEDULER"]

CELERY_BROKER_URL = os.environ.get("OMNITENANT_TEST_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("OMNITENANT_TEST_BACKEND", "cache+memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    _folder = os.environ["OMNITENANT_TEST_FS_FOLDER"]
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _folder,
        "data_folder_out": _folder,
        "processed_folder": _folder + "-processed",
        "control_folder": _folder + "-control",
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("OMNITENANT_TEST_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
