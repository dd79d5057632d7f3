"""The django-pgschemas site: public, the static tenant ``www`` and dynamic tenants ``acme`` and
``globex`` made as its docs say (saving a Tenant creates and migrates its schema), each with its
own notes rows."""


import pytest
from sitekit import services
from sitekit.site import Place, Site

HERE = services.SITES / "pgschemas"
DATABASE = services.database_name("pgs", "site")


def pytest_configure(config):
    services.setup_django(SITE_DB=DATABASE)


def pytest_unconfigure(config):
    services.remove_run_dir()  # the workers' logs


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    import tenancy
    from django.core.management import call_command
    from django_pgschemas.schema import Schema, deactivate
    from notes.models import Note
    from tenants.models import Domain, Tenant

    services.create_database(DATABASE)
    call_command("migrate", schemas=["public"], verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)
    places = {None: Place("public", DATABASE, None)}
    for tenant_id in ("acme", "globex", "www"):
        if tenant_id == "www":
            schema = Schema.create("www")
        else:
            schema = Tenant.objects.create(schema_name=tenant_id, name=tenant_id.title())
            # not in django-pgschemas docs: Tenant.save leaves the new schema active
            deactivate()
            Domain.objects.create(tenant=schema, domain=f"{tenant_id}.example.test")
        rows = [f"{tenant_id}-1", f"{tenant_id}-2"]
        with schema:
            Note.objects.bulk_create([Note(text=text) for text in rows])
        places[tenant_id] = Place(tenant_id, DATABASE, rows)

    def tenant(tenant_id):
        if tenant_id == "www":
            return Schema.create("www")
        return Tenant.objects.get(schema_name=tenant_id)

    return Site(
        name="pgschemas", directory=HERE, places=places, tenant=tenant,
        using=lambda tenant_id: tenant(tenant_id), current_id=tenancy.current_id,
        env={"SITE_DB": DATABASE, "DJANGO_SETTINGS_MODULE": "project.settings"},
        static=["www"], host=lambda tenant_id: f"{tenant_id}.example.test",
    )
