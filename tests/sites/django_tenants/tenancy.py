"""The site's own notion of the current tenant: django-tenants' connection."""


def current_id():
    from django.db import connection
    from django_tenants.utils import get_public_schema_name

    tenant = getattr(connection, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return tenant.schema_name


def leak(tenant_id):
    """Switch the connection with django-tenants' own API, and never switch back."""
    from django.db import connection
    from django_tenants.utils import get_tenant_model, schema_context

    with schema_context("public"):
        tenant = get_tenant_model().objects.get(schema_name=tenant_id)
    connection.set_tenant(tenant)
