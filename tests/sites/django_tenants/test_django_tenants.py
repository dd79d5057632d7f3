"""django-tenants: the scenarios every library passes, and the way in from tenant-schemas-celery."""

import os
from contextlib import nullcontext

import pytest
from celery import signals
from sitekit.scenarios import *  # noqa: F401,F403

from omnitenant_patch import TenantNotFound
from omnitenant_patch.testing import unpatched


@pytest.fixture
def old_producer(worker):
    """A web process still on tenant-schemas-celery, without this patch: its CeleryApp writes
    the connection's schema into the ``_schema_name`` header."""
    CeleryApp = pytest.importorskip("tenant_schemas_celery.app").CeleryApp

    app = CeleryApp("old-web", set_as_current=False)
    app.conf.update(broker_url=worker.app.conf.broker_url,
                    result_backend=worker.app.conf.result_backend,
                    task_default_queue=worker.queue)
    with unpatched():  # patched again after, unless SITE_PATCH=none
        yield app


def test_messages_tenant_schemas_celery_queued_run_in_their_schema(site, worker, old_producer):
    results = {}
    for tenant_id in [*site.tenant_ids, None]:
        with site.using(tenant_id) if tenant_id else nullcontext():
            results[tenant_id] = old_producer.send_task("site.probe", ("queued before",))
    for tenant_id, result in results.items():
        assert worker.get(result) == site.place(tenant_id, "queued before")


def test_a_schema_tenant_schemas_celery_names_that_does_not_exist_fails_unrun(site, worker,
                                                                             old_producer):
    result = old_producer.send_task("site.write", ("ghost row",), headers={"_schema_name": "ghost"})
    with pytest.raises(Exception) as failure:
        worker.get(result)
    assert type(failure.value).__name__ == TenantNotFound.__name__
    assert "'ghost'" in str(failure.value) and "'_schema_name'" in str(failure.value)
    assert all("ghost row" not in site.rows(t) for t in site.tenant_ids)


@pytest.mark.skipif(os.environ.get("SITE_CELERY") != "tenant-schemas-celery",
                    reason="tenant-schemas-celery's receivers are connected by its CeleryApp")
def test_tenant_schemas_celerys_own_receivers_are_set_aside_while_patched(site):
    from omnitenant_patch import TenantContext

    def uids(signal):
        return {key[0] for key, _ in signal.receivers}

    TenantContext.get_tenant()  # the backend is resolved, and with it the patch table
    assert "tenant_schemas_switch_schema" not in uids(signals.task_prerun)
    assert "tenant_schemas_restore_schema" not in uids(signals.task_postrun)
    with unpatched():
        assert "tenant_schemas_switch_schema" in uids(signals.task_prerun)
        assert "tenant_schemas_restore_schema" in uids(signals.task_postrun)


def test_a_task_naming_its_aliases_switches_those_only(site, worker):
    """tenant-schemas-celery's ``tenant_databases`` on a task class, and its Celery setting
    ``task_tenant_databases``: the aliases named enter the tenant, the others stay public."""
    from django.conf import settings

    if "replica" not in settings.DATABASES:
        pytest.skip("the site has no read replica (SITE_REPLICA=1)")
    tenant_id = site.tenant_ids[0]
    place, public = site.places[tenant_id], site.places[None]
    expected = {"default": {"schema": public.schema, "rows": None},
                "replica": {"schema": place.schema, "rows": place.rows}}
    answer = worker.run("site.replica_only", "named", tenant_id=tenant_id)
    assert answer["aliases"] == expected
    from notes.tasks import aliases

    app = aliases.app
    app.conf.task_tenant_databases = ("replica",)
    try:
        assert aliases.apply(("setting",), tenant_id=tenant_id).get()["aliases"] == expected
    finally:
        app.conf.task_tenant_databases = None  # unset: every alias
    assert aliases.apply(("all",), tenant_id=tenant_id).get()["aliases"]["default"] == {
        "schema": place.schema, "rows": place.rows}
