"""The django-tenants site: the shared apps in public, tenants ``acme`` and ``globex`` made as its
docs say (saving a Client creates and migrates its schema), each with its own notes rows.
``SITE_CELERY=tenant-schemas-celery`` runs it on tenant-schemas-celery's CeleryApp."""

import os

import pytest
from sitekit import services
from sitekit.site import Place, Site

HERE = services.SITES / "django_tenants"
CELERY = os.environ.get("SITE_CELERY", "celery")
DATABASE = services.database_name("dt", "site")


def pytest_configure(config):
    services.setup_django(SITE_DB=DATABASE)


def pytest_unconfigure(config):
    services.remove_run_dir()  # the workers' logs


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    import tenancy
    from customers.models import Client, Domain
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context
    from notes.models import Note

    services.create_database(DATABASE)
    call_command("migrate_schemas", shared=True, verbosity=0, interactive=False)
    public = Client.objects.create(schema_name="public", name="Public")
    Domain.objects.create(domain="localhost", tenant=public, is_primary=True)
    places = {None: Place("public", DATABASE, None)}
    for tenant_id in ("acme", "globex"):
        tenant = Client.objects.create(schema_name=tenant_id, name=tenant_id.title())
        Domain.objects.create(domain=f"{tenant_id}.localhost", tenant=tenant, is_primary=True)
        rows = [f"{tenant_id}-1", f"{tenant_id}-2"]
        with tenant_context(tenant):
            Note.objects.bulk_create([Note(text=text) for text in rows])
        places[tenant_id] = Place(tenant_id, DATABASE, rows)

    def tenant(tenant_id):
        return Client.objects.get(schema_name=tenant_id)

    return Site(
        name=f"django-tenants-{CELERY}", directory=HERE, places=places, tenant=tenant,
        using=lambda tenant_id: tenant_context(tenant(tenant_id)),
        current_id=tenancy.current_id,
        host=lambda tenant_id: f"{tenant_id}.localhost",
        # not in django-tenants docs: its middleware never resets the schema, so the connection
        # stays on the last request's tenant
        after_requests=lambda: connection.set_schema_to_public(),
        env={"SITE_DB": DATABASE, "SITE_CELERY": CELERY,
             "DJANGO_SETTINGS_MODULE": "project.settings"},
        add_tenant=lambda tenant_id: Client.objects.create(schema_name=tenant_id,
                                                            name=tenant_id.title()),
        drop_tenant=lambda tenant_id: Client.objects.filter(schema_name=tenant_id).delete(),
    )
