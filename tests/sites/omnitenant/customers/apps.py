from django.apps import AppConfig
from django_omnitenant.utils import TenantScope


class CustomersConfig(AppConfig):
    name = "customers"
    default_auto_field = "django.db.models.BigAutoField"
    # NOT in django-omnitenant docs (no page names TenantScope): its TenantRouter (routers.py)
    # routes every app under BASE_DIR to the tenants unless tenant_scope is MASTER, and
    # allow_migrate then refuses the master database, so Tenant and Domain would never be made
    # where its middleware and createtenant read them.
    tenant_scope = TenantScope.MASTER
