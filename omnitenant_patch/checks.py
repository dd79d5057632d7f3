"""System checks (``manage.py check``), with stable ids:

- ``omnitenant.E001`` the built-in backend has no (installed) ``TENANT_MODEL``
- ``omnitenant.E002`` its tenant model has no ``TENANT_ID_FIELD`` field
- ``omnitenant.E003`` the installed Celery is outside the supported range
- ``omnitenant.E004`` a setting holds a value it may not (one message per setting)
- ``omnitenant.E005`` ``BACKEND`` names no usable backend
- ``omnitenant.W001`` ``AUTO_CAPTURE`` is on but nothing puts a request's tenant in force
- ``omnitenant.W002`` a task class overrides ``apply_async``/``__call__`` without ``super()``
- ``omnitenant.W003`` the app is installed but Celery is not patched
- ``omnitenant.W004`` ``PATCHES`` in the dict form where django-omnitenant needs the list form

Backends add their own (``TenantBackend.check``).
"""

from __future__ import annotations

from typing import Any, List

from django.core import checks

from .apps import PATCH_MODULE
from .conf import get_config, problems, user_settings
from .exceptions import ImproperlyConfigured, UnsupportedCeleryVersion

MIDDLEWARE = "omnitenant_patch.middleware.TenantMiddleware"
ESCAPES = {
    "__call__": "a task for an unknown tenant is not refused",
    "apply_async": "the tenant is not taken when its tasks are queued",
}


@checks.register()
def check_settings(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from .state import STATE

    try:
        found = problems(user_settings(), STATE.overrides)
    except ImproperlyConfigured as exc:
        found = [str(exc)]
    return [checks.Error(message, id="omnitenant.E004",
                         hint="See the settings table in omnitenant_patch's README.")
            for message in found]


@checks.register()
def check_backend(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from .backends import active_backend

    try:
        return active_backend().check()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="omnitenant.E005")]


@checks.register()
def check_celery(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from .celery_compat import check_celery_version
    from .install import is_patched

    try:
        check_celery_version()
    except UnsupportedCeleryVersion as exc:
        return [checks.Error(str(exc), id="omnitenant.E003")]
    if not is_patched():
        return [checks.Warning(
            "omnitenant_patch is installed but Celery is not patched: tasks run in no tenant",
            id="omnitenant.W003",
            hint=f'Call patch_celery() in settings.py, or list "{PATCH_MODULE}" in '
                 f'OMNITENANT_CONFIG["PATCHES"].',
        )]
    return []


@checks.register()
def check_patches_form(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from django.apps import apps

    patches = user_settings().get("PATCHES")
    if isinstance(patches, dict) and apps.is_installed("django_omnitenant"):
        return [checks.Warning(
            'OMNITENANT_CONFIG["PATCHES"] is a dict, but django-omnitenant reads that key as a '
            "list of patch modules and fails on a dict",
            id="omnitenant.W004",
            hint=f'Write OMNITENANT_CONFIG["PATCHES"] = ["{PATCH_MODULE}"].',
        )]
    return []


@checks.register()
def check_request_tenant(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from django.conf import settings
    from django.utils.module_loading import import_string

    from .backends import active_backend
    from .middleware import TenantMiddleware

    try:
        library_middleware = active_backend().middleware
        if not get_config().auto_capture or library_middleware is None:
            return []
    except ImproperlyConfigured:
        return []  # reported by check_settings / check_backend
    known = {MIDDLEWARE, *library_middleware}
    for path in getattr(settings, "MIDDLEWARE", None) or []:
        if path in known:
            return []
        try:
            if issubclass(import_string(path), TenantMiddleware):
                return []
        except Exception:
            continue
    return [checks.Warning(
        "AUTO_CAPTURE is on but no middleware puts a request's tenant in force, so tasks queued "
        "from views carry none unless they pass tenant_id=",
        id="omnitenant.W001",
        hint=f'Add "{MIDDLEWARE}" (or your tenancy library\'s middleware) to MIDDLEWARE, or set '
             'OMNITENANT_CONFIG["CELERY"]["AUTO_CAPTURE"] = False if every call passes tenant_id.',
    )]


@checks.register()
def check_task_classes(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from celery import current_app

    messages = []
    seen = set()
    for task in list(current_app.tasks.values()):
        for cls in type(task).__mro__:
            if cls in seen or cls.__module__.startswith(("celery.", "omnitenant_patch.")):
                continue
            seen.add(cls)
            for name, escape in ESCAPES.items():
                method = cls.__dict__.get(name)
                ours = getattr(method, "__module__", "").startswith("omnitenant_patch.")
                if method is not None and not ours and not calls_super(method):
                    messages.append(checks.Warning(
                        f"{cls.__module__}.{cls.__qualname__}.{name} does not call super(): "
                        f"its tasks escape omnitenant_patch ({escape})",
                        obj=cls, id="omnitenant.W002",
                        hint=f"Call super().{name}(...) from the override.",
                    ))
    return messages


def calls_super(function: Any) -> bool:
    """True when ``function``'s code mentions ``super`` (a zero-argument or explicit call)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return True  # not plain Python: nothing to tell
    return "super" in code.co_names or "__class__" in code.co_freevars
