"""README's custom backend for an in-house tenancy layer, run as README shows it."""

import re
import sys
import types
from pathlib import Path

import pytest

from omnitenant_patch import TenantContext, TenantNotFound

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def inhouse(settings_override):
    """README's ``tenancy.py``, importable as ``tenancy``, over a ``customers.models`` module."""
    from testproj.tenants.models import Customer

    code = re.search(r"```python\n(# tenancy\.py.*?)```", README.read_text(), re.S).group(1)
    models = types.ModuleType("customers.models")
    models.Customer = Customer
    tenancy = types.ModuleType("tenancy")
    sys.modules.update({"customers": types.ModuleType("customers"), "customers.models": models,
                        "tenancy": tenancy})
    try:
        exec(compile(code, "README.md:tenancy.py", "exec"), tenancy.__dict__)
        settings_override(BACKEND="tenancy.CustomerBackend")
        yield tenancy
    finally:
        for name in ("customers", "customers.models", "tenancy"):
            sys.modules.pop(name, None)


@pytest.fixture
def customers():
    from testproj.tenants.models import Customer

    made = [Customer.objects.create(slug=slug, name=slug.title())
            for slug in ("initrode", "hooli")]
    yield {c.slug: c for c in made}
    Customer.objects.filter(pk__in=[c.pk for c in made]).delete()


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
