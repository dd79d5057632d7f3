from django.apps import AppConfig


class OmnitenantPatchConfig(AppConfig):
    """``"omnitenant_patch"`` in ``INSTALLED_APPS``: system checks, tenant-cache invalidation,
    and the patch itself when ``OMNITENANT_CONFIG["PATCHES"]["celery"]`` is true."""

    name = "omnitenant_patch"
    verbose_name = "omnitenant patch"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import get_config
        from .exceptions import ImproperlyConfigured
        from .patch import patch_celery
        from .tenants import _connect_invalidation

        if get_config().patch_on_ready:
            patch_celery()
        try:
            _connect_invalidation()
        except ImproperlyConfigured:
            pass  # reported by check omnitenant.E001
