"""Django integration: middleware, app config, system checks, tenant cache, logging, fan-out,
on-commit capture, beat and the demo."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from omnitenant_patch import (
    TenantContext,
    TenantFilter,
    TenantNotFound,
    for_each_tenant,
    is_patched,
    patch_celery,
    unpatch_celery,
)
from omnitenant_patch.celery_compat import django_task_class
from omnitenant_patch.lookup import lookup_tenant
from omnitenant_patch.testing import unpatched

# ------------------------------------------------------------------ app config and checks

def test_app_config_patches_when_the_setting_asks(settings_override):
    from django.apps import apps

    unpatch_celery()
    try:
        apps.get_app_config("omnitenant_patch").ready()
        assert not is_patched()
        settings_override(PATCHES={"celery": True})
        apps.get_app_config("omnitenant_patch").ready()
        assert is_patched()
        patch_celery()  # the settings line as well: still one install
        assert is_patched()
    finally:
        patch_celery()


def check_ids():
    from django.core import checks

    return {message.id for message in checks.run_checks()}


def test_checks_pass_on_a_correct_project():
    assert not {i for i in check_ids() if i.startswith("omnitenant.")}


def test_check_reports_a_missing_tenant_model_and_field(settings_override):
    settings_override(TENANT_MODEL=None)
    assert "omnitenant.E001" in check_ids()
    settings_override(TENANT_MODEL="tenants.Tenant", TENANT_ID_FIELD="slug")
    assert "omnitenant.E002" in check_ids()


def test_check_reports_auto_capture_without_a_request_tenant():
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=[]):
        assert "omnitenant.W001" in check_ids()


def test_check_reports_an_unpatched_celery():
    with unpatched():
        assert "omnitenant.W003" in check_ids()


def test_check_reports_a_task_class_that_skips_super(app):
    from celery import Task

    class Rogue(Task):
        def apply_async(self, args=None, kwargs=None, **options):
            return self.app.send_task(self.name, args, kwargs)

    class Polite(Task):
        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **kwargs)

    def noop():
        return None

    rogue = app.task(name="t.rogue", base=Rogue)(noop)
    polite = app.task(name="t.polite", base=Polite)(noop)
    try:
        from django.core import checks

        flagged = [m for m in checks.run_checks() if m.id == "omnitenant.W002"]
        assert [m.obj for m in flagged] == [Rogue]
        assert "apply_async does not call super()" in flagged[0].msg
    finally:
        app.tasks.unregister(rogue.name)
        app.tasks.unregister(polite.name)


# ------------------------------------------------------------------ tenant cache

def test_a_warm_lookup_runs_no_query_and_a_saved_tenant_is_read_again():
    lookup_tenant("acme")
    with CaptureQueriesContext(connection) as warm:
        tenant = lookup_tenant("acme")
    assert len(warm) == 0
    tenant.name = "Acme renamed"
    tenant.save()
    with CaptureQueriesContext(connection) as after_save:
        assert lookup_tenant("acme").name == "Acme renamed"
    assert len(after_save) == 1


def test_a_deleted_tenant_fails_closed_at_once():
    from testproj.tenants.models import Tenant

    Tenant.objects.create(tenant_id="doomed", name="Doomed")
    lookup_tenant("doomed")
    Tenant.objects.filter(tenant_id="doomed").get().delete()
    with pytest.raises(TenantNotFound):
        lookup_tenant("doomed")


def test_cached_tenants_are_dropped_when_the_id_field_changes(settings_override):
    from testproj.tenants.models import Tenant

    Tenant.objects.get_or_create(tenant_id="initech", defaults={"name": "Initech Ltd"})
    lookup_tenant("initech")
    settings_override(TENANT_ID_FIELD="name")
    with pytest.raises(TenantNotFound):
        lookup_tenant("initech")  # no tenant is *named* so: the cached one must not answer
    assert lookup_tenant("Initech Ltd").tenant_id == "initech"


def test_ttl_zero_looks_up_every_time(settings_override):
    settings_override(CACHE={"TTL": 0})
    lookup_tenant("acme")
    with CaptureQueriesContext(connection) as queries:
        lookup_tenant("acme")
    assert len(queries) == 1


# ------------------------------------------------------------------ logging

def test_tenant_filter_adds_the_tenant_id(acme):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    TenantFilter().filter(record)
    assert record.tenant_id == "-"
    with TenantContext.use_tenant(acme):
        TenantFilter().filter(record)
    assert record.tenant_id == "acme"


# ------------------------------------------------------------------ fan-out and on-commit

def test_for_each_tenant_queues_one_message_per_tenant(app, published):
    from testproj.tenants.models import Tenant

    queued = for_each_tenant(app.signature("t.whoami", ("fan",)))
    assert queued == Tenant.objects.count()
    assert sorted(m["headers"]["tenant_id"] for m in published) == sorted(
        Tenant.objects.values_list("tenant_id", flat=True))


@pytest.mark.skipif(django_task_class() is None,
                    reason="delay_on_commit does not exist before Celery 5.4")
def test_delay_on_commit_captures_the_tenant_when_called(app, published, acme, globex):
    task = app.tasks["t.whoami"]
    with transaction.atomic():
        with TenantContext.use_tenant(acme):
            task.delay_on_commit("on-commit")
            task.apply_async_on_commit(("explicit",), tenant_id="globex")
        with TenantContext.use_tenant(globex):
            task.delay_on_commit("no-tenant", tenant_id=None)
        assert published == []  # nothing before the commit
        with TenantContext.use_tenant(globex):
            pass
    assert [m["headers"].get("tenant_id") for m in published] == ["acme", "globex", None]


# ------------------------------------------------------------------ the demo

def test_demo_runs_on_a_fresh_site_and_every_row_is_right():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMNITENANT_TEST", "DJANGO_SETTINGS"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-m", "omnitenant_patch", "demo", "--pool", "solo"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 of 8 rows right" in done.stdout
    assert "✗" not in done.stdout


# ------------------------------------------------------------------ backends

def test_the_builtin_backend_is_chosen_without_a_tenancy_library():
    from omnitenant_patch.backends import active_backend
    from omnitenant_patch.backends.builtin import BuiltinBackend

    assert type(active_backend()) is BuiltinBackend


def test_a_backend_path_that_names_no_backend_is_a_clear_error(settings_override):
    from omnitenant_patch import ImproperlyConfigured

    settings_override(BACKEND="no.such.Backend")
    with pytest.raises(ImproperlyConfigured, match="no.such.Backend"):
        TenantContext.get_tenant()
    assert "omnitenant.E005" in check_ids()


# ------------------------------------------------------------------ the cache is best effort

@pytest.fixture
def cache_down_from_the_start(settings_override, caplog):
    """The Django cache on a Redis nothing listens on (Django's RedisCache: Django >= 4.0)."""
    import django
    from django.test.utils import override_settings

    if django.VERSION < (4, 0):
        pytest.skip("django.core.cache.backends.redis exists from Django 4.0")
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}
    with override_settings(CACHES=caches), caplog.at_level("WARNING", "omnitenant_patch"):
        yield caplog


def _closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # bound, never listened on, now closed


def test_saving_and_deleting_a_tenant_never_fail_because_the_cache_is_down(
        cache_down_from_the_start):
    from testproj.tenants.models import Tenant

    tenant = Tenant.objects.create(tenant_id="cache-down", name="Cache Down")
    tenant.name = "Renamed"
    tenant.save()
    tenant.delete()
    assert not Tenant.objects.filter(tenant_id="cache-down").exists()


def test_tasks_run_from_the_database_while_the_cache_is_down_and_it_is_logged_once(
        cache_down_from_the_start, app):
    from testproj.tenants.models import Tenant

    results = [app.tasks["t.whoami"].apply(tenant_id=t).get()["tenant"]
               for t in ("acme", "globex") * 5]
    assert results == ["acme", "globex"] * 5
    Tenant.objects.create(tenant_id="born-while-down", name="New")
    try:
        assert app.tasks["t.whoami"].apply(tenant_id="born-while-down").get()["tenant"] \
            == "born-while-down"
    finally:
        Tenant.objects.filter(tenant_id="born-while-down").delete()
    failures = [r for r in cache_down_from_the_start.records if "failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]


# ------------------------------------------------------------------ thousands of tenants

def test_the_cache_keeps_at_most_max_tenants_the_least_recently_used_out_first(settings_override,
                                                                               tenants):
    from omnitenant_patch.state import STATE

    settings_override(CACHE={"MAX_TENANTS": 2})
    for tenant_id in ("acme", "globex", "acme", "42"):
        lookup_tenant(tenant_id)
    assert list(STATE.tenants) == ["acme", "42"]
    with CaptureQueriesContext(connection) as queries:
        lookup_tenant("acme")
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        lookup_tenant("globex")  # was dropped
    assert len(queries) == 1 and list(STATE.tenants) == ["acme", "globex"]


def test_saving_one_tenant_drops_that_tenant_only(tenants):
    from testproj.tenants.models import Tenant

    for tenant_id in ("acme", "globex"):
        lookup_tenant(tenant_id)
    Tenant.objects.get(tenant_id="globex").save()
    with CaptureQueriesContext(connection) as queries:
        lookup_tenant("acme")
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        lookup_tenant("globex")
    assert len(queries) == 1


def test_a_tenant_saved_under_a_new_id_is_gone_under_the_old_one():
    from testproj.tenants.models import Tenant

    tenant = Tenant.objects.create(tenant_id="before-rename", name="Renamed")
    try:
        lookup_tenant("before-rename")
        tenant = Tenant.objects.get(pk=tenant.pk)
        tenant.tenant_id = "after-rename"
        tenant.save()
        with pytest.raises(TenantNotFound):
            lookup_tenant("before-rename")
        assert lookup_tenant("after-rename").pk == tenant.pk
    finally:
        Tenant.objects.filter(pk=tenant.pk).delete()
