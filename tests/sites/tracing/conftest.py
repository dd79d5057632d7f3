"""The tracing site: one integration (SITE_TRACING = "<sentry|otel|ddtrace>-<before|after>"),
initialised in settings before or after the one line; tenants acme and globex, each with its own
notes rows in one table (row-level, read through the notes manager)."""

import os

import pytest
from sitekit import services
from sitekit.site import Place, Site, started

HERE = services.SITES / "tracing"
DATABASE = services.database_name("tracing", "site")
TRACING = os.environ.get("SITE_TRACING", "sentry-after")
TELEMETRY = []  # test plumbing: the run's telemetry file, in its own temporary folder


def pytest_configure(config):
    if not TRACING.endswith(("-before", "-after")):
        raise pytest.UsageError(f"SITE_TRACING={TRACING}: the tracing site traces the client too, "
                                f"so its integration is set up in settings (-before or -after)")
    TELEMETRY.append(str(services.run_dir() / f"telemetry-{TRACING}.jsonl"))
    services.setup_django(SITE_DB=DATABASE, SITE_TRACING=TRACING, SITE_TELEMETRY_FILE=TELEMETRY[0])


def pytest_unconfigure(config):
    services.remove_run_dir()  # the telemetry file and the workers' logs


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    import tenancy
    from django.core.management import call_command
    from notes.models import Note
    from tenants.models import Tenant

    from omnitenant_patch import TenantContext

    services.create_database(DATABASE)
    call_command("migrate", verbosity=0)
    places, every_row = {}, []
    for tenant_id in ("acme", "globex"):
        tenant = Tenant.objects.create(tenant_id=tenant_id, name=tenant_id.title())
        rows = [f"{tenant_id}-1", f"{tenant_id}-2"]
        Note.objects.bulk_create([Note(tenant=tenant, text=text) for text in rows])
        places[tenant_id] = Place("public", DATABASE, rows)
        every_row += rows
    places = {None: Place("public", DATABASE, sorted(every_row)), **places}

    def tenant(tenant_id):
        return Tenant.objects.get(tenant_id=tenant_id)

    return Site(
        name=f"tracing-{TRACING}", directory=HERE, places=places, tenant=tenant,
        using=lambda tenant_id: TenantContext.use_tenant(tenant(tenant_id)),
        current_id=tenancy.current_id, tasks="probes.tasks",
        host=lambda tenant_id: f"{tenant_id}.example.test",
        env={"SITE_DB": DATABASE, "SITE_TRACING": TRACING, "SITE_TELEMETRY_FILE": TELEMETRY[0],
             "DJANGO_SETTINGS_MODULE": "project.settings"},
    )


@pytest.fixture(scope="session", params=[("prefork", "0")], ids=["prefork"])
def worker(site, request):
    """The real prefork worker the integrations are proven in."""
    with started(site, *request.param) as running:
        yield running
