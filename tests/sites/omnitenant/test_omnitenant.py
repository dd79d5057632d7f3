"""django-omnitenant: the scenarios every library passes, and what is particular to it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from sitekit.scenarios import *  # noqa: F401,F403

from omnitenant_patch import TenantContext, is_patched
from omnitenant_patch.testing import unpatched


def test_its_own_celery_task_class_defers_to_the_patch_and_unpatch_gives_it_back(site):
    from django_omnitenant.patches.celery import TenantAwareTask

    from omnitenant_patch import publish, worker

    TenantContext.get_tenant()  # the backend is resolved, and with it the patch table
    theirs = TenantAwareTask.__dict__["__call__"], TenantAwareTask.__dict__["apply_async"]
    assert theirs == (worker.call, publish.apply_async)
    with unpatched():
        restored = TenantAwareTask.__dict__["__call__"], TenantAwareTask.__dict__["apply_async"]
        assert restored[0] is not worker.call and restored[1] is not publish.apply_async
        assert restored[0].__module__ == "django_omnitenant.patches.celery"
    TenantContext.get_tenant()
    assert TenantAwareTask.__dict__["__call__"] is worker.call


def test_a_warm_eager_task_looks_no_tenant_up_again(site):
    from notes.tasks import probe

    tenant_id = site.tenant_ids[0]
    probe.apply(tenant_id=tenant_id).get()
    with CaptureQueriesContext(connection) as queries:
        assert probe.apply(tenant_id=tenant_id).get()["tenant"] == tenant_id
    assert not [q for q in queries.captured_queries if "customers_tenant" in q["sql"]]


def test_use_tenant_none_leaves_the_schema_and_the_database(site):
    from notes.tasks import probe

    for tenant_id in site.tenant_ids:
        with site.using(tenant_id):
            with TenantContext.use_tenant(None):
                assert probe("inside none") == site.place(None, "inside none")
                assert site.current_id() is None
            assert probe("back") == site.place(tenant_id, "back")


def test_the_patches_list_form_is_accepted_and_the_dict_form_is_reported(site):
    from django.conf import settings

    from omnitenant_patch.checks import check_patches_form
    from omnitenant_patch.conf import patches_celery

    assert patches_celery(["omnitenant_patch.patches.celery"])
    assert is_patched()
    config = dict(settings.OMNITENANT_CONFIG, PATCHES={"celery": True})
    with override_settings(OMNITENANT_CONFIG=config):
        (warning,) = check_patches_form()
    assert warning.id == "omnitenant.W004" and "omnitenant_patch.patches.celery" in warning.hint


@pytest.mark.skipif("os.environ.get('SITE_PATCH') != 'patches'")
def test_the_patches_entry_alone_installs_the_patch(site):
    from django.conf import settings

    assert "omnitenant_patch.patches.celery" in settings.OMNITENANT_CONFIG["PATCHES"]
    assert is_patched()
