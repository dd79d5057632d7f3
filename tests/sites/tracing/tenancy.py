"""The site's own notion of the current tenant: the built-in backend's, omnitenant_patch's
``TenantContext`` (what the notes manager filters by)."""


def current_id():
    from omnitenant_patch import TenantContext

    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id
