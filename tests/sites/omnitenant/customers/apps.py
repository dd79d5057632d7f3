from django.apps import AppConfig
from django_omnitenant.utils import TenantScope


class CustomersConfig(AppConfig):
    name = "customers"
    default_auto_field = "django.db.models.BigAutoField"
    tenant_scope = TenantScope.MASTER  # the tenant table lives in the master database only
