"""Row-level tenancy as an in-house layer writes it, on the built-in backend: each row names its
tenant, and the default manager reads the rows of the tenant in force (omnitenant_patch's
``TenantContext``), every row with none."""

from django.db import models


class TenantRows(models.Manager):
    def get_queryset(self):
        from omnitenant_patch import TenantContext

        rows = super().get_queryset()
        tenant = TenantContext.get_tenant()
        return rows if tenant is None else rows.filter(tenant=tenant)


class Note(models.Model):
    """A tenant table: one table, each row a tenant's, filtered by the tenant in force."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE)
    text = models.CharField(max_length=200)

    objects = TenantRows()
