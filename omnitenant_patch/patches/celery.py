"""``OMNITENANT_CONFIG["PATCHES"] = ["omnitenant_patch.patches.celery"]``: importing this module
installs the patch (django-omnitenant imports it in web processes and workers alike)."""

from ..install import patch_celery

patch_celery()
