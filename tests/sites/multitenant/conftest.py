"""The django-multitenant site: accounts ``acme`` and ``globex`` in one database, each with its
own notes rows; a tenant is an account, and its id its primary key."""

import os

import pytest
from sitekit import services
from sitekit.site import Place, Site

HERE = services.SITES / "multitenant"
DATABASE = services.database_name("mt", "site")


def pytest_configure(config):
    services.setup_django(SITE_DB=DATABASE)


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    import tenancy
    from accounts.models import Account
    from django.core.management import call_command
    from django_multitenant.utils import set_current_tenant, unset_current_tenant
    from notes.models import Note

    services.create_database(DATABASE)
    call_command("migrate", verbosity=0)
    places, every_row = {}, []
    for name in ("acme", "globex"):
        account = Account.objects.create(name=name)
        rows = [f"{name}-1", f"{name}-2"]
        Note.objects.bulk_create([Note(account=account, text=text) for text in rows])
        places[str(account.pk)] = Place("public", DATABASE, rows)
        every_row += rows
    places = {None: Place("public", DATABASE, sorted(every_row)), **places}

    class using:
        """django-multitenant's own way in: set the current account, unset it after."""

        def __init__(self, tenant_id):
            self.account = Account._base_manager.get(pk=tenant_id)

        def __enter__(self):
            set_current_tenant(self.account)

        def __exit__(self, *exc):
            unset_current_tenant()

    return Site(
        name="multitenant", directory=HERE, places=places,
        tenant=lambda tenant_id: Account._base_manager.get(pk=tenant_id),
        using=using, current_id=tenancy.current_id,
        host=lambda tenant_id: f"{Account._base_manager.get(pk=tenant_id).name}.localhost",
        env={"SITE_DB": DATABASE, "DJANGO_SETTINGS_MODULE": "project.settings",
             "SITE_MULTITENANT_APP": os.environ.get("SITE_MULTITENANT_APP", "0")},
    )
