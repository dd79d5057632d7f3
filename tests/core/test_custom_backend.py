"""README's custom backend for an in-house tenancy layer, run as README shows it: in this process,
and behind ``TenantMiddleware`` with real requests queueing for a real worker."""

import re
import sys
from pathlib import Path

import harness
import pytest
from django.core import checks
from django.test import Client

from omnitenant_patch import TenantContext, TenantNotFound

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def tenancy_dir(tmp_path_factory):
    """README's ``tenancy.py``, written as a project would have it, next to a ``customers`` app
    whose ``Customer`` is the test project's."""
    folder = tmp_path_factory.mktemp("inhouse")
    code = re.search(r"```python\n(# tenancy\.py.*?)```", README.read_text(), re.S).group(1)
    (folder / "tenancy.py").write_text(code)
    (folder / "customers").mkdir()
    (folder / "customers" / "__init__.py").write_text("")
    (folder / "customers" / "models.py").write_text(
        "from testproj.tenants.models import Customer  # noqa: F401\n")
    return folder


@pytest.fixture
def inhouse(tenancy_dir, settings_override):
    """The README backend selected by ``BACKEND``; yields its ``tenancy`` module."""
    import importlib

    sys.path.insert(0, str(tenancy_dir))
    try:
        tenancy = importlib.import_module("tenancy")
        settings_override(BACKEND="tenancy.CustomerBackend")
        yield tenancy
    finally:
        sys.path.remove(str(tenancy_dir))
        for name in ("customers", "customers.models", "tenancy"):
            sys.modules.pop(name, None)


@pytest.fixture
def customers():
    from testproj.tenants.models import Customer, Order

    made = [Customer.objects.create(slug=slug, name=slug.title())
            for slug in ("initrode", "hooli")]
    for customer in made:
        Order.objects.bulk_create([Order(customer=customer, text=f"{customer.slug}-{i}")
                                   for i in (1, 2)])
    yield {c.slug: c for c in made}
    Customer.objects.filter(pk__in=[c.pk for c in made]).delete()


@pytest.fixture(scope="module")
def customer_worker(tenancy_dir):
    """A real prefork worker whose settings select README's backend."""
    path = [str(tenancy_dir), str(harness.TESTS_DIR), str(harness.ROOT)]
    started = harness.start_worker(
        "redis-prefork-custom-backend", "redis", "prefork", "sqlite",
        {"OMNITENANT_TEST_BACKEND_PATH": "tenancy.CustomerBackend",
         "PYTHONPATH": ":".join(path)})
    yield started
    started.stop()


def test_the_readme_backend_is_the_current_tenant_of_tenant_context(inhouse, customers):
    with TenantContext.use_tenant(customers["hooli"]):
        assert inhouse.current_customer() == customers["hooli"]
        assert TenantContext.get_tenant() == customers["hooli"]
    assert inhouse.current_customer() is None


def test_tasks_queued_and_run_eagerly_use_the_readme_backend(inhouse, customers, app, published):
    with TenantContext.use_tenant(customers["initrode"]):
        app.tasks["t.whoami"].delay()
    assert published[0]["headers"]["tenant_id"] == "initrode"
    seen = app.tasks["t.customer"].apply(tenant_id="hooli").get()
    assert seen == "hooli"
    assert inhouse.current_customer() is None


def test_an_unknown_customer_fails_the_task_with_tenant_not_found(inhouse, customers, app):
    result = app.tasks["t.customer"].apply(tenant_id="globex")  # a Tenant, not a Customer
    assert isinstance(result.result, TenantNotFound)
    assert "'globex'" in str(result.result) and "t.customer" in str(result.result)


# ------------------------------------------------------------------ behind TenantMiddleware

def _orders_of(slug):
    return {"customer": slug, "label": "http", "orders": [f"{slug}-1", f"{slug}-2"]}


def _queue(worker, **request):
    """A request to the view that queues the orders task to ``worker``; the task's answer."""
    response = Client().get("/customer-orders/", {"queue": worker.queue,
                                                  "broker": worker.env["OMNITENANT_TEST_BROKER"]},
                            **request)
    assert response.status_code == 200, response.content[:300]
    return worker.get(worker.app.AsyncResult(response.json()["task_id"]))


def member_of(request, customer):
    """The site's AUTHORIZE hook: which users belong to which customer."""
    return customer.slug in {"carol": {"initrode"}}.get(request.headers.get("X-User", ""), set())


@pytest.mark.worker
def test_the_subdomain_resolver_finds_the_customer_and_the_worker_reads_its_rows(
        inhouse, customers, customer_worker, settings_override):
    settings_override(MIDDLEWARE={"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "example.test"})
    for slug in customers:
        assert _queue(customer_worker, HTTP_HOST=f"{slug}.example.test") == _orders_of(slug)
    assert _queue(customer_worker, HTTP_HOST="example.test") == {
        "customer": None, "label": "http", "orders": []}
    assert Client().get("/customer-orders/", HTTP_HOST="ghost.example.test").status_code == 404


@pytest.mark.worker
def test_only_the_trusted_header_names_the_customer(inhouse, customers, customer_worker,
                                                     settings_override):
    settings_override(MIDDLEWARE={"RESOLVER": "header", "TRUSTED_HEADER": "X-Customer"})
    assert _queue(customer_worker, HTTP_X_CUSTOMER="hooli") == _orders_of("hooli")
    assert _queue(customer_worker, HTTP_X_TENANT_ID="hooli")["customer"] is None
    settings_override(MIDDLEWARE={"RESOLVER": "header", "TRUSTED_HEADER": None})
    assert _queue(customer_worker, HTTP_X_CUSTOMER="hooli")["customer"] is None


@pytest.mark.worker
def test_the_authorize_hook_admits_members_only(inhouse, customers, customer_worker,
                                                 settings_override):
    from testproj.tenants.models import Order

    settings_override(MIDDLEWARE={"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "example.test",
                                  "AUTHORIZE": "test_custom_backend.member_of"})
    before = Order.objects.count()
    refused = Client().get("/customer-orders/", {"queue": customer_worker.queue, "broker": "x"},
                           HTTP_HOST="hooli.example.test", HTTP_X_USER="carol")
    assert refused.status_code == 403
    assert _queue(customer_worker, HTTP_HOST="initrode.example.test",
                  HTTP_X_USER="carol") == _orders_of("initrode")
    assert Order.objects.count() == before


def test_the_checks_ask_the_backend_whether_tenant_middleware_resolves(inhouse,
                                                                       settings_override):
    from django.conf import settings
    from django.test.utils import override_settings

    config = {k: v for k, v in settings.OMNITENANT_CONFIG.items() if k != "MIDDLEWARE"}
    with override_settings(OMNITENANT_CONFIG=config):  # TenantMiddleware resolves: set nothing
        assert "omnitenant.W005" in {m.id for m in checks.run_checks()}
    settings_override(MIDDLEWARE={"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "example.test"})
    found = {m.id for m in checks.run_checks()}
    assert not found & {"omnitenant.W005", "omnitenant.W007"}
