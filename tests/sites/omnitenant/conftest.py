"""The django-omnitenant site: a master database, tenants made by its ``createtenant``
command, isolated by schema, by database, or mixed (``SITE_ISOLATION``)."""

import os
from unittest import mock

import pytest
from sitekit import services
from sitekit.site import Place, Site

HERE = services.SITES / "omnitenant"
ISOLATION = os.environ.get("SITE_ISOLATION", "mixed")
PATCH = os.environ.get("SITE_PATCH", "line")
KINDS = {
    "schema": {"acme": "schema", "globex": "schema"},
    "database": {"acme": "database", "globex": "database"},
    "mixed": {"acme": "schema", "globex": "database", "initech": "schema"},
}[ISOLATION]
MASTER = services.database_name("omnitenant", "master")


def pytest_configure(config):
    services.setup_django(SITE_DB=MASTER, SITE_PATCH=PATCH)


def pytest_unconfigure(config):
    services.remove_run_dir()  # the workers' logs


def _create_tenant(tenant_id, kind):
    """``manage.py createtenant``, answering its questions as a user would."""
    from django.core.management import call_command

    answers = [tenant_id, tenant_id.title(), kind, "y"]
    if kind == "database":
        answers += ["y", services.database_name("omnitenant", tenant_id), "postgres", "",
                    "127.0.0.1", "5432"]
    with mock.patch("builtins.input", side_effect=answers):
        call_command("createtenant", stdout=open(os.devnull, "w"))


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    import tenancy
    from customers.models import Domain, Tenant
    from django.core.management import call_command
    from django_omnitenant.tenant_context import TenantContext
    from notes.models import Note

    services.create_database(MASTER)
    call_command("migrate", verbosity=0)
    places = {None: Place("public", MASTER, None)}
    for tenant_id, kind in KINDS.items():
        _create_tenant(tenant_id, kind)
        Domain.objects.create(tenant=Tenant.objects.get(tenant_id=tenant_id),
                              domain=f"{tenant_id}.localhost")
        rows = [f"{tenant_id}-1", f"{tenant_id}-2"]
        with TenantContext.use_tenant(Tenant.objects.get(tenant_id=tenant_id)):
            Note.objects.bulk_create([Note(text=text) for text in rows])
        places[tenant_id] = (Place(tenant_id, MASTER, rows) if kind == "schema" else
                             Place("public", services.database_name("omnitenant", tenant_id),
                                   rows))

    def tenant(tenant_id):
        return Tenant.objects.get(tenant_id=tenant_id)

    return Site(
        name=f"omnitenant-{ISOLATION}-{PATCH}", directory=HERE, places=places, tenant=tenant,
        using=lambda tenant_id: TenantContext.use_tenant(tenant(tenant_id)),
        current_id=tenancy.current_id, host=lambda tenant_id: f"{tenant_id}.localhost",
        env={"SITE_DB": MASTER, "SITE_PATCH": PATCH, "DJANGO_SETTINGS_MODULE": "project.settings"},
        add_tenant=lambda tenant_id: _create_tenant(tenant_id, "schema"),
        drop_tenant=lambda tenant_id: Tenant.objects.filter(tenant_id=tenant_id).delete(),
    )
