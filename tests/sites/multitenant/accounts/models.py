from django.db import models
from django_multitenant.models import TenantModel


class Account(TenantModel):
    """The tenant: its tenant column is its own primary key."""

    name = models.CharField(max_length=100)

    class TenantMeta:
        tenant_field_name = "id"
