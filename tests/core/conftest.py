import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

_TMP, _SQLITE, _PG_DB = harness.TMP, harness.SQLITE, harness.PG_DB


def pytest_configure(config):
    os.environ["DJANGO_SETTINGS_MODULE"] = "testproj.settings"
    os.environ["OMNITENANT_TEST_DB"] = f"sqlite:{_SQLITE}"
    os.environ["OMNITENANT_TEST_CACHE_DIR"] = str(_TMP / "django-cache")
    if harness.reachable("postgres"):
        _create_pg_database()
        os.environ["OMNITENANT_TEST_PG_DB"] = _PG_DB
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    for alias in connections:
        call_command("migrate", database=alias, verbosity=0)
        _create_tenants(alias)
    for connection in connections.all():
        connection.close()


def pytest_unconfigure(config):
    if os.environ.get("OMNITENANT_TEST_PG_DB"):
        from django.db import connections

        for connection in connections.all():
            connection.close()
        _drop_pg_database()
    shutil.rmtree(_TMP, ignore_errors=True)  # the run's SQLite file, worker logs, beat files


def _pg_admin():
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    connection.autocommit = True
    return connection


def _create_pg_database():
    connection = _pg_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{_PG_DB}"')
    finally:
        connection.close()


def _drop_pg_database():
    connection = _pg_admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [_PG_DB],
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{_PG_DB}"')
    finally:
        connection.close()


def _create_tenants(alias):
    from testproj.tenants.models import Tenant

    for tenant_id, name in [("acme", "Acme"), ("globex", "Globex"), ("42", "Numbered")]:
        Tenant.objects.using(alias).get_or_create(tenant_id=tenant_id, defaults={"name": name})


@pytest.fixture
def app():
    from testproj.celery_app import app

    return app


@pytest.fixture
def eager(app):
    # The key as the settings module spells it: Celery 4.4 reads namespaced keys only so.
    app.conf["CELERY_TASK_ALWAYS_EAGER"] = True
    assert app.conf.task_always_eager
    yield app
    app.conf["CELERY_TASK_ALWAYS_EAGER"] = False


@pytest.fixture
def published(app):
    """Capture what send_task hands to Celery's publisher, instead of publishing it."""
    sent = []

    def fake_send_task_message(producer, name, message, **options):
        # Celery merges custom headers into the message headers while publishing.
        headers = dict(message.headers, **(options.pop("headers", None) or {}))
        sent.append({"name": name, "headers": headers, "options": options})

    original = app.amqp.send_task_message
    app.amqp.send_task_message = fake_send_task_message
    yield sent
    app.amqp.send_task_message = original


@pytest.fixture
def sent_kwargs(app, published):
    """The task kwargs each publish hands to Celery's message builder."""
    sent = []
    original = app.amqp.create_task_message

    def spy(task_id, name, args=None, kwargs=None, *rest, **more):
        sent.append(kwargs)
        return original(task_id, name, args, kwargs, *rest, **more)

    app.amqp.create_task_message = spy
    yield sent
    app.amqp.create_task_message = original


# (name, broker, pool, database, extra settings) — each runs every worker scenario.
WORKERS = [
    ("redis-prefork-sqlite", "redis", "prefork", "sqlite", {}),
    ("redis-solo-postgres", "redis", "solo", "postgres", {}),
    ("amqp-prefork-postgres", "amqp", "prefork", "postgres", {}),
    ("amqp-solo-sqlite", "amqp", "solo", "sqlite", {}),
    ("redis-threads-sqlite", "redis", "threads", "sqlite", {}),
    ("filesystem-solo-sqlite", "filesystem", "solo", "sqlite", {}),
]
# OMNITENANT_TEST_WORKERS="redis-prefork-sqlite,...": only these (the patch-off check runs two).
if os.environ.get("OMNITENANT_TEST_WORKERS"):
    WORKERS = [w for w in WORKERS if w[0] in os.environ["OMNITENANT_TEST_WORKERS"].split(",")]


@pytest.fixture(scope="session", params=WORKERS, ids=[w[0] for w in WORKERS])
def worker(request):
    started = harness.start_worker(*request.param)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def worker_no_capture():
    """AUTO_CAPTURE off and a custom header name, in worker and client alike."""
    extra = {"OMNITENANT_TEST_AUTO_CAPTURE": "0", "OMNITENANT_TEST_HEADER": "x_tenant"}
    started = harness.start_worker("redis-solo-nocapture", "redis", "solo", "sqlite", extra)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def beat_worker():
    """The worker real `celery beat` processes publish to (tests/core/test_beat.py)."""
    started = harness.start_worker("redis-prefork-beat", "redis", "prefork", "postgres", {})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def signing_worker():
    """SIGN_HEADERS on, and unknown tenants retried (ON_MISSING_TENANT = "retry")."""
    started = harness.start_worker("amqp-prefork-signed", "amqp", "prefork", "sqlite",
                            {"OMNITENANT_TEST_SIGN": "1", "OMNITENANT_TEST_ON_MISSING": "retry"})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def strict_worker():
    """REQUIRE_TENANT on, and unknown tenants rejected (ON_MISSING_TENANT = "reject")."""
    extra = {"OMNITENANT_TEST_REQUIRE": "1", "OMNITENANT_TEST_ON_MISSING": "reject"}
    started = harness.start_worker("redis-solo-strict", "redis", "solo", "sqlite", extra)
    yield started
    started.stop()


@pytest.fixture
def signing_settings(settings_override):
    return settings_override(CELERY={"SIGN_HEADERS": True, "ON_MISSING_TENANT": "retry"})


@pytest.fixture
def no_capture_settings(settings_override):
    return settings_override(CELERY={"AUTO_CAPTURE": False, "HEADER": "x_tenant"})


@pytest.fixture
def settings_override():
    """Override OMNITENANT_CONFIG keys for one test (through Django's override_settings)."""
    from django.conf import settings
    from django.test.utils import override_settings

    active = []

    def override(**keys):
        config = dict(settings.OMNITENANT_CONFIG)
        for key, value in keys.items():
            config[key] = dict(config.get(key) or {}, **value) if isinstance(value, dict) else value
        manager = override_settings(OMNITENANT_CONFIG=config)
        manager.enable()
        active.append(manager)
        return config

    yield override
    for manager in reversed(active):
        manager.disable()


@pytest.fixture
def tenants():
    from testproj.tenants.models import Tenant

    return {t.tenant_id: t for t in Tenant.objects.all()}


@pytest.fixture
def acme(tenants):
    return tenants["acme"]


@pytest.fixture
def globex(tenants):
    return tenants["globex"]


@pytest.fixture
def label(request):
    """A label no other test uses: the rows a test's tasks write are its own."""
    import uuid

    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _patch_as_the_run_says():
    """Every test starts patched — unpatched with OMNITENANT_TEST_UNPATCHED=1, to list which
    tests hold without the patch (tests/patch_off.py) — and whatever a test does to the patch
    (tests of patch_celery/unpatch_celery), the next one starts the same way."""
    from omnitenant_patch import is_patched, patch_celery, unpatch_celery
    from omnitenant_patch.state import STATE

    if os.environ.get("OMNITENANT_TEST_UNPATCHED") == "1":
        unpatch_celery()
    before = is_patched(), dict(STATE.overrides)
    yield
    if (is_patched(), STATE.overrides) != before:
        unpatch_celery()
        if before[0]:
            patch_celery(**before[1])
