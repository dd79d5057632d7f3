from django.apps import AppConfig


class OmnitenantPatchConfig(AppConfig):
    """``"omnitenant_patch"`` in ``INSTALLED_APPS``: system checks, tenant-cache invalidation,
    and the patch itself when ``OMNITENANT_CONFIG["PATCHES"]`` asks for it."""

    name = "omnitenant_patch"
    verbose_name = "omnitenant patch"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import get_config
        from .exceptions import ImproperlyConfigured
        from .install import patch_celery
        from .lookup import watch_tenant_model

        try:
            if patches_celery(get_config().patches):
                patch_celery()
            watch_tenant_model()
        except ImproperlyConfigured:
            pass  # reported by the system checks, with a hint


#: The ``PATCHES`` entry that patches Celery, in django-omnitenant's list form.
PATCH_MODULE = "omnitenant_patch.patches.celery"


def patches_celery(patches: object) -> bool:
    """True when ``OMNITENANT_CONFIG["PATCHES"]`` asks for the patch, in either form."""
    if isinstance(patches, dict):
        return bool(patches.get("celery"))
    return isinstance(patches, (list, tuple)) and PATCH_MODULE in patches
