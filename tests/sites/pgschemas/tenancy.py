"""The site's own notion of the current tenant: django-pgschemas' active schema."""


def current_id():
    from django_pgschemas.schema import get_current_schema

    name = get_current_schema().schema_name
    return None if name == "public" else name


def leak(tenant_id):
    """Activate a schema with django-pgschemas' own (sticky) API, and never deactivate it."""
    from django_pgschemas.schema import Schema, activate
    from tenants.models import Tenant

    activate(Schema.create(tenant_id) if tenant_id == "www"
             else Tenant.objects.get(schema_name=tenant_id))
