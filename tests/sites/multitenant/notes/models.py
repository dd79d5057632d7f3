from django.db import models
from django_multitenant.models import TenantModel


class Note(TenantModel):
    """A tenant table: one table, each row an account's, filtered by the current account."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE)
    text = models.CharField(max_length=200)

    class TenantMeta:
        tenant_field_name = "account_id"
