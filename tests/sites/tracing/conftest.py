"""The tracing site: one integration (SITE_TRACING = "<sentry|otel|ddtrace>-<before|after>"),
initialised in settings before or after the one line; tenants acme and globex."""

import os

import pytest
from sitekit import services
from sitekit.site import Place, Site, started

from omnitenant_patch.testing import in_tenant

HERE = services.SITES / "tracing"
DATABASE = services.database_name("tracing", "site")
TRACING = os.environ.get("SITE_TRACING", "sentry-after")
TELEMETRY = str(services.SITES.parents[1] / f".telemetry-{services.RUN_ID}-{TRACING}.jsonl")


def pytest_configure(config):
    if not TRACING.endswith(("-before", "-after")):
        raise pytest.UsageError(f"SITE_TRACING={TRACING}: the tracing site traces the client too, "
                                f"so its integration is set up in settings (-before or -after)")
    services.setup_django(SITE_DB=DATABASE, SITE_TRACING=TRACING, SITE_TELEMETRY_FILE=TELEMETRY)


def pytest_unconfigure(config):
    if os.path.exists(TELEMETRY):
        os.remove(TELEMETRY)


@pytest.fixture(scope="session")
def site():
    services.require("postgres", "redis")
    from django.core.management import call_command
    from tenants.models import Tenant

    services.create_database(DATABASE)
    call_command("migrate", verbosity=0)
    for tenant_id in ("acme", "globex"):
        Tenant.objects.create(tenant_id=tenant_id, name=tenant_id.title())
    return Site(
        name=f"tracing-{TRACING}", directory=HERE, places={None: Place("public", DATABASE, None)},
        tenant=lambda tenant_id: Tenant.objects.get(tenant_id=tenant_id), using=in_tenant,
        current_id=lambda: None, tasks="probes.tasks",
        env={"SITE_DB": DATABASE, "SITE_TRACING": TRACING, "SITE_TELEMETRY_FILE": TELEMETRY,
             "DJANGO_SETTINGS_MODULE": "project.settings"},
    )


@pytest.fixture(scope="session", params=[("prefork", "0")], ids=["prefork"])
def worker(site, request):
    """The real prefork worker the integrations are proven in."""
    with started(site, *request.param) as running:
        yield running
