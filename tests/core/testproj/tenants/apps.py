from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "testproj.tenants"
    label = "tenants"
