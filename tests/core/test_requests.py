"""The request side: TenantMiddleware never lets a client choose its tenant unless the site says
a proxy it trusts sets the header, authorises every request into its tenant, and a view queues
its tasks in the request's tenant. The test site stands behind such a proxy (X-Tenant-ID)."""

import asyncio

import django
import pytest
from django.core import checks
from django.test import AsyncClient, Client

from omnitenant_patch import TenantContext, TenantNotFound


def check_ids(**options):
    return {message.id for message in checks.run_checks(**options)}


# ------------------------------------------------------------------ trusted header

def test_the_trusted_header_names_the_tenant_and_views_queue_in_it(published):
    response = Client().get("/whoami/", HTTP_X_TENANT_ID="acme")
    assert response.status_code == 200
    assert response.json()["tenant"] == "acme" and response.json()["request_tenant"] == "acme"
    assert published[0]["headers"]["tenant_id"] == "acme"
    assert TenantContext.get_tenant() is None


def test_a_request_without_a_tenant_runs_with_none(published):
    assert Client().get("/whoami/").json()["tenant"] is None
    assert "tenant_id" not in published[0]["headers"]


def test_an_unknown_tenant_gets_404_and_queues_nothing(published):
    assert Client().get("/whoami/", HTTP_X_TENANT_ID="ghost").status_code == 404
    assert published == []


def test_tenant_not_found_can_propagate(settings_override):
    settings_override(MIDDLEWARE={"ON_UNKNOWN": "raise"})
    with pytest.raises(TenantNotFound, match="ghost"):
        Client().get("/whoami/", HTTP_X_TENANT_ID="ghost")


def test_without_a_trusted_header_no_header_names_a_tenant(settings_override, published):
    settings_override(MIDDLEWARE={"RESOLVER": "header", "TRUSTED_HEADER": None})
    assert Client().get("/whoami/", HTTP_X_TENANT_ID="globex").json()["tenant"] is None
    assert "tenant_id" not in published[0]["headers"]
    assert "omnitenant.W005" in check_ids()


def test_by_default_no_client_chooses_its_tenant(settings_override, published):
    from django.conf import settings
    from django.test.utils import override_settings

    config = dict(settings.OMNITENANT_CONFIG)
    config.pop("MIDDLEWARE")
    with override_settings(OMNITENANT_CONFIG=config):
        assert Client().get("/whoami/", HTTP_X_TENANT_ID="globex").json()["tenant"] is None
        (warning,) = [m for m in checks.run_checks() if m.id == "omnitenant.W005"]
    assert "TRUSTED_HEADER" in warning.hint and '"RESOLVER": "header"' in warning.hint
    assert "tenant_id" not in published[0]["headers"]


def test_check_deploy_warns_that_the_trusted_header_must_come_from_the_proxy():
    assert "omnitenant.W006" not in check_ids()
    assert "omnitenant.W006" in check_ids(include_deployment_checks=True)


def test_a_setting_earlier_releases_read_is_named_with_its_replacement(settings_override):
    settings_override(MIDDLEWARE={"HEADER": "X-Tenant-ID"})
    (warning,) = [m for m in checks.run_checks() if m.id == "omnitenant.W009"]
    assert "MIDDLEWARE.HEADER" in warning.msg and "TRUSTED_HEADER" in warning.hint


# ------------------------------------------------------------------ subdomain, custom

def test_the_subdomain_resolver_reads_one_label_under_its_base_only(settings_override):
    settings_override(MIDDLEWARE={"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "saas.example.com"})
    hosts = {"acme.saas.example.com": "acme", "GLOBEX.saas.example.com:8000": "globex",
             "saas.example.com": None, "x.acme.saas.example.com": None,
             "acme.evil.example.com": None, "acme.saas.example.com.evil.net": None}
    seen = {host: Client().get("/whoami/", HTTP_HOST=host).json()["tenant"] for host in hosts}
    assert seen == hosts


def test_the_subdomain_resolver_reads_nothing_without_a_base(settings_override):
    settings_override(MIDDLEWARE={"RESOLVER": "subdomain", "SUBDOMAIN_BASE": None})
    assert Client().get("/whoami/", HTTP_HOST="acme.example.com").json()["tenant"] is None
    assert "omnitenant.W005" in check_ids()


def test_a_resolver_of_the_sites_own_by_dotted_path(settings_override):
    settings_override(MIDDLEWARE={"RESOLVER": "test_requests.resolve_from_query"})
    assert Client().get("/whoami/?t=globex").json()["tenant"] == "globex"


def resolve_from_query(request):
    return request.GET.get("t")


# ------------------------------------------------------------------ authorisation

MEMBERS = {"alice": {"acme"}, "bob": {"acme", "globex"}}


def member_of(request, tenant):
    """As a site would: is the requesting user a member of this tenant?"""
    return tenant.tenant_id in MEMBERS.get(request.headers.get("X-User", ""), set())


def test_a_request_the_authorize_hook_refuses_gets_403_and_runs_nothing(settings_override,
                                                                      published):
    settings_override(MIDDLEWARE={"AUTHORIZE": "test_requests.member_of"})
    refused = Client().get("/whoami/", HTTP_X_TENANT_ID="globex", HTTP_X_USER="alice")
    assert refused.status_code == 403
    assert published == []
    allowed = Client().get("/whoami/", HTTP_X_TENANT_ID="globex", HTTP_X_USER="bob")
    assert allowed.json()["tenant"] == "globex"
    assert [m["headers"]["tenant_id"] for m in published] == ["globex"]


def test_async_views_run_in_the_tenant_and_are_authorised(settings_override):
    settings_override(MIDDLEWARE={"AUTHORIZE": "test_requests.member_of"})

    def headers(**values):
        # AsyncClient takes headers= from Django 4.2, header-named extras before.
        return {"headers": values} if django.VERSION >= (4, 2) else {
            key.replace("_", "-").lower(): v for key, v in values.items()}

    async def call(**values):
        return await AsyncClient().get("/async/", **headers(**values))

    assert asyncio.run(call(**{"X-Tenant-ID": "acme", "X-User": "alice"})).json() == {
        "tenant": "acme"}
    assert asyncio.run(call(**{"X-Tenant-ID": "globex", "X-User": "alice"})).status_code == 403
