"""System checks (``manage.py check``), with stable ids:

- ``omnitenant.E001`` ``TENANT_MODEL`` unset or not an installed model
- ``omnitenant.E002`` the tenant model has no ``TENANT_ID_FIELD`` field
- ``omnitenant.E003`` the installed Celery is outside the supported range
- ``omnitenant.W001`` ``AUTO_CAPTURE`` is on but nothing sets a request tenant
- ``omnitenant.W002`` a task class overrides ``apply_async``/``__call__`` without ``super()``
- ``omnitenant.W003`` the app is installed but Celery is not patched
"""

from __future__ import annotations

from typing import Any, List

from django.core import checks

from .conf import get_config
from .exceptions import ImproperlyConfigured, UnsupportedCeleryVersion

MIDDLEWARE_PATHS = (
    "omnitenant_patch.middleware.TenantMiddleware",
    "django_omnitenant.middleware.TenantMiddleware",
)
ESCAPES = {
    "__call__": "a task for an unknown tenant is not refused",
    "apply_async": "the tenant is not taken when its tasks are queued",
}
GUARDED = tuple(ESCAPES)


@checks.register()
def check_tenant_model(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from .tenants import get_tenant_model

    try:
        model = get_tenant_model()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="omnitenant.E001",
                             hint='Set OMNITENANT_CONFIG["TENANT_MODEL"] = "app_label.Model".')]
    field = get_config().tenant_id_field
    try:
        model._meta.get_field(field)
    except Exception:
        return [checks.Error(
            f"tenant model {model._meta.label} has no field {field!r}",
            id="omnitenant.E002",
            hint='Set OMNITENANT_CONFIG["TENANT_ID_FIELD"] to the field tenant ids are stored in.',
        )]
    return []


@checks.register()
def check_celery(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from .celery_compat import check_celery_version
    from .patch import is_patched

    try:
        check_celery_version()
    except UnsupportedCeleryVersion as exc:
        return [checks.Error(str(exc), id="omnitenant.E003")]
    if not is_patched():
        return [checks.Warning(
            "omnitenant_patch is installed but Celery is not patched: tasks run in no tenant",
            id="omnitenant.W003",
            hint='Call patch_celery() in settings.py or set '
                 'OMNITENANT_CONFIG["PATCHES"]["celery"] = True.',
        )]
    return []


@checks.register()
def check_request_tenant(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from django.conf import settings
    from django.utils.module_loading import import_string

    from .middleware import TenantMiddleware

    if not get_config().auto_capture:
        return []
    for path in getattr(settings, "MIDDLEWARE", None) or []:
        if path in MIDDLEWARE_PATHS:
            return []
        try:
            if issubclass(import_string(path), TenantMiddleware):
                return []
        except Exception:
            continue
    return [checks.Warning(
        "AUTO_CAPTURE is on but no middleware sets a request tenant, so tasks queued from "
        "views carry none unless they pass tenant_id=",
        id="omnitenant.W001",
        hint='Add "omnitenant_patch.middleware.TenantMiddleware" to MIDDLEWARE, or set '
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
            for name in GUARDED:
                method = cls.__dict__.get(name)
                if method is not None and not calls_super(method):
                    messages.append(checks.Warning(
                        f"{cls.__module__}.{cls.__qualname__}.{name} does not call super(): "
                        f"its tasks escape omnitenant_patch ({ESCAPES[name]})",
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
