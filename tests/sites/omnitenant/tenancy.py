"""The site's own notion of the current tenant: django-omnitenant's TenantContext."""


def current_id():
    from django_omnitenant.conf import settings
    from django_omnitenant.tenant_context import TenantContext

    tenant = TenantContext.get_tenant()
    if tenant is None or tenant.tenant_id == settings.PUBLIC_TENANT_NAME:
        return None
    return tenant.tenant_id


def leak(tenant_id):
    """Enter a tenant with django-omnitenant's own API, and never leave it."""
    from django_omnitenant.tenant_context import TenantContext
    from django_omnitenant.utils import get_tenant_model

    with TenantContext.use_master_db():
        tenant = get_tenant_model().objects.get(tenant_id=tenant_id)
    entered = TenantContext.use_tenant(tenant)
    entered.__enter__()
    _never_left.append(entered)  # else the generator is collected, and leaves


_never_left = []
