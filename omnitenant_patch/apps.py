from django.apps import AppConfig


class OmnitenantPatchConfig(AppConfig):
    """``"omnitenant_patch"`` in ``INSTALLED_APPS``: system checks, tenant-cache invalidation,
    and the patch itself when ``OMNITENANT_CONFIG["PATCHES"]`` asks for it."""

    name = "omnitenant_patch"
    verbose_name = "omnitenant patch"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import get_config, patches_celery
        from .exceptions import ImproperlyConfigured
        from .install import adopt_beat, patch_celery
        from .lookup import watch_tenant_model

        try:
            if patches_celery(get_config().patches):
                patch_celery()
            adopt_beat()
            watch_tenant_model()
        except ImproperlyConfigured:
            pass  # reported by the system checks, with a hint

