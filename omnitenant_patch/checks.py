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
- ``omnitenant.W005`` ``TenantMiddleware`` resolves requests itself but reads no tenant from them
  (the header resolver is no longer the default; it needs ``TRUSTED_HEADER``)
- ``omnitenant.W006`` (``--deploy``) the header resolver trusts ``TRUSTED_HEADER``: only behind a
  proxy that overwrites it
- ``omnitenant.W007`` ``RESOLVER`` is set, but a tenancy library resolves requests itself
- ``omnitenant.W008`` ``TenantMiddleware`` comes before the tenancy library's middleware
- ``omnitenant.W009`` a setting earlier releases read, and what replaced it
- ``omnitenant.W010`` workers consume fewer shards (``CONSUME_SHARDS``) than publishers use
  (``FAIR_SHARDS``): tasks in the others would wait for a worker that never comes
- ``omnitenant.E006`` a beat entry's tenant keys (``tenant_id``, ``tenants``, ``spread``,
  ``tenant_schemas``) hold a value they may not
- ``omnitenant.E007`` a beat entry uses tenant-schemas-celery's ``tenant_schemas`` key, which the
  configured scheduler cannot read (only ``omnitenant_patch.beat``'s schedulers do)

Backends add their own (``TenantBackend.check``).
"""

from __future__ import annotations

from typing import Any, List

from django.core import checks

from .conf import OBSOLETE, PATCH_MODULE, get_config, given_keys, problems, user_settings
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

    messages: List[checks.CheckMessage] = []
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


@checks.register()
def check_request_resolution(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from django.conf import settings

    from .backends import active_backend

    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        return []
    try:
        config, backend = get_config(), active_backend()
    except ImproperlyConfigured:
        return []
    given = given_keys(user_settings())
    if backend.resolves_requests:
        messages: List[checks.CheckMessage] = []
        if "MIDDLEWARE.RESOLVER" in given and config.resolver != "auto":
            messages.append(checks.Warning(
                f'OMNITENANT_CONFIG["MIDDLEWARE"]["RESOLVER"] = {config.resolver!r} is ignored: '
                f"{backend.name} resolves the request's tenant, and TenantMiddleware defers to it",
                id="omnitenant.W007", hint='Remove it, or set it to "auto".'))
        library = [i for i, path in enumerate(middleware) if path in (backend.middleware or ())]
        if library and middleware.index(MIDDLEWARE) < library[0]:
            messages.append(checks.Warning(
                f"{MIDDLEWARE} comes before {middleware[library[0]]}, so it sees no tenant",
                id="omnitenant.W008", hint=f"Move it after {middleware[library[0]]}."))
        return messages
    hint = ('Behind a proxy you trust to set it: OMNITENANT_CONFIG["MIDDLEWARE"] = '
            '{"RESOLVER": "header", "TRUSTED_HEADER": "X-Tenant-ID"}; or {"RESOLVER": '
            '"subdomain", "SUBDOMAIN_BASE": "example.com"}; or "RESOLVER": "auto" if another '
            "middleware sets request.tenant.")
    if "MIDDLEWARE.RESOLVER" not in given:
        return [checks.Warning(
            "TenantMiddleware resolves no tenant from requests: the header resolver is no longer "
            "the default (any client could name any tenant), and RESOLVER is not set",
            id="omnitenant.W005", hint=hint)]
    if config.resolver == "header" and not config.trusted_header:
        return [checks.Warning(
            'RESOLVER is "header" but TRUSTED_HEADER names no header, so none is read: a client '
            "could send any", id="omnitenant.W005", hint=hint)]
    if config.resolver == "subdomain" and not config.subdomain_base:
        return [checks.Warning(
            'RESOLVER is "subdomain" but SUBDOMAIN_BASE is not set, so no host has a tenant',
            id="omnitenant.W005", hint=hint)]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_trusted_header(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    try:
        config = get_config()
    except ImproperlyConfigured:
        return []
    if config.resolver == "header" and config.trusted_header:
        return [checks.Warning(
            f"TenantMiddleware takes the tenant from the {config.trusted_header} header: any "
            f"request that reaches Django without your proxy can name any tenant",
            id="omnitenant.W006",
            hint=f"Make the proxy overwrite (or drop) a client's {config.trusted_header}, and let "
                 f"no request reach Django past it; or resolve by subdomain.")]
    return []


@checks.register()
def check_obsolete_settings(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    return [checks.Warning(f'OMNITENANT_CONFIG key {key!r} is no longer read', id="omnitenant.W009",
                           hint=OBSOLETE[key])
            for key in given_keys(user_settings()) if key in OBSOLETE]


#: The schedulers that read tenant-schemas-celery's top-level ``tenant_schemas`` entry key.
TENANT_SCHEDULERS = ("omnitenant_patch.beat:TenantScheduler",
                     "omnitenant_patch.beat.TenantScheduler",
                     "omnitenant_patch.beat:TenantDatabaseScheduler",
                     "omnitenant_patch.beat.TenantDatabaseScheduler")


@checks.register()
def check_beat_schedule(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    from celery import current_app

    from .periodic import TENANT_SCHEMAS, entry_problems

    conf = current_app.conf
    schedule = conf.beat_schedule or {}
    messages: List[checks.CheckMessage] = [
        checks.Error(problem, id="omnitenant.E006",
                     hint='tenants: "__all__", a list of tenant ids, or a dotted path to a '
                          "callable returning the tenants; spread: seconds >= 0")
        for problem in entry_problems(schedule)]
    scheduler = conf.beat_scheduler
    name = scheduler if isinstance(scheduler, str) else (
        f"{scheduler.__module__}:{scheduler.__qualname__}")
    reads_it = name in TENANT_SCHEDULERS or (
        not isinstance(scheduler, str) and getattr(scheduler, "__module__", "").startswith(
            "omnitenant_patch."))
    for entry, fields in schedule.items():
        if isinstance(fields, dict) and TENANT_SCHEMAS in fields and not reads_it:
            messages.append(checks.Error(
                f"beat entry {entry!r} uses tenant-schemas-celery's {TENANT_SCHEMAS!r} key, but "
                f"the beat scheduler is {name}, which fails on it",
                id="omnitenant.E007",
                hint='Set CELERY_BEAT_SCHEDULER = "omnitenant_patch.beat:TenantScheduler" (or '
                     ':TenantDatabaseScheduler), or write "options": {"tenants": [...]}.'))
    return messages


@checks.register()
def check_fair_shards(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    try:
        config = get_config()
    except ImproperlyConfigured:
        return []
    if config.consume_shards is not None and config.consume_shards < config.fair_shards:
        return [checks.Warning(
            f"publishers send tasks to {config.fair_shards} shard queues of each queue "
            f"(FAIR_SHARDS), but workers consume only {config.consume_shards} (CONSUME_SHARDS): "
            f"tasks in the others are never run",
            id="omnitenant.W010",
            hint="Deploy workers that consume at least FAIR_SHARDS shards first (CONSUME_SHARDS "
                 "= FAIR_SHARDS, or leave it None), then raise FAIR_SHARDS on publishers. To turn "
                 "sharding off, set FAIR_SHARDS = 0 on publishers and keep CONSUME_SHARDS until "
                 "the shards are empty.")]
    return []
