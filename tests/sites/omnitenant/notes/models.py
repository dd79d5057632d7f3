from django.db import models
from django_omnitenant.models import TenantQuerySetManager


class Note(models.Model):
    """A tenant table: each tenant's schema or database holds its own rows."""

    text = models.CharField(max_length=200)

    # django-omnitenant docs: README › Accessing Tenant Data › In Models ("Use the tenant-aware
    # manager")
    objects = TenantQuerySetManager()
