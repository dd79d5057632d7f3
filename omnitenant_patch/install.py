"""Install and uninstall: the patch is a table of (owner, attribute, replacement) walked both ways.

``patch_celery()`` records what each attribute held and puts the replacement there;
each replacement defers to what it displaced, so another library's wrapper installed
before ours keeps running, and one installed after ours wraps ours. ``unpatch_celery()``
gives every attribute back exactly what it held; where another library has wrapped
ours since, theirs stays and ours stays under it as a pass-through.

``celery worker`` replaces ``Task.__call__`` while it starts (its stack protection),
after settings are imported; the worker-start receivers put back what it replaced and
nothing else, so wrappers other libraries put on the other attributes are never dropped.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, List, Tuple

from celery import signals
from celery.app.base import Celery
from celery.app.task import Task

from . import publish, worker
from .celery_compat import (
    celery_call,
    check_celery_version,
    connect_last,
    detach_receiver,
    django_task_class,
    holds,
    restore_call,
)
from .conf import check_overrides, get_config
from .exceptions import ImproperlyConfigured
from .fair import consumed_with_shards
from .log import add_filter_to_handlers
from .periodic import UNPACK, UNPACK_OPTIONS, carried_problems
from .state import STATE

logger = logging.getLogger("omnitenant_patch")

DjangoTask = django_task_class()

#: (owner, attribute, replacement): everything patch_celery() assigns.
PATCHES: List[Tuple[type, str, Any]] = [
    (Task, "apply_async", publish.apply_async),
    (Task, "apply", publish.apply),
    (Task, "__call__", worker.call),
    (Celery, "send_task", publish.send_task),
]
if DjangoTask is not None:  # Celery >= 5.4
    PATCHES += [
        (DjangoTask, "apply_async_on_commit", publish.apply_async_on_commit),
        (DjangoTask, "delay_on_commit", publish.delay_on_commit),
    ]
#: What a tenancy library's own task class gets for an attribute ``TenantBackend.displaces`` names.
_TASK_REPLACEMENTS = {name: replacement for owner, name, replacement in PATCHES if owner is Task}


def adopt_beat(**_: Any) -> None:
    """django-celery-beat's ``ModelEntry`` keeps six options of an entry and drops the tenant keys:
    while the patch is installed it folds them into the headers first. Its module reads models,
    so this waits for Django's apps (Celery's ``import_modules``, sent after the Django fixup's
    ``django.setup()``, in beat and worker alike; and the app's ``ready()``)."""
    from django.apps import apps

    if not apps.ready or not apps.is_installed("django_celery_beat"):
        return
    from django_celery_beat.schedulers import ModelEntry

    with STATE.lock:
        if STATE.installed:
            _put(ModelEntry, UNPACK, UNPACK_OPTIONS)


def check_beat_schedule(sender: Any = None, **_: Any) -> None:
    """``beat_init``: every entry's tenant keys are right and still on the entry the scheduler
    made of it; else beat stops here, naming them, rather than run an entry in no tenant."""
    scheduler = getattr(sender, "scheduler", None)
    if scheduler is None or not STATE.installed:
        return
    problems = carried_problems(scheduler.app.conf.beat_schedule or {}, scheduler.schedule)
    if problems:
        logger.critical("omnitenant_patch: %s", "; ".join(problems))
        raise SystemExit("omnitenant_patch: beat refuses to start: " + "; ".join(problems))


def consume_shards(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """``celeryd_after_setup``: a worker consuming a queue also consumes its shard queues
    (``CONSUME_SHARDS``, else ``FAIR_SHARDS``), so ``celery worker -Q default`` needs no change;
    the plain queue stays consumed."""
    config = get_config()
    shards = config.fair_shards if config.consume_shards is None else config.consume_shards
    if not shards or instance is None or not STATE.installed:
        return
    queues = instance.app.amqp.queues
    for name in consumed_with_shards(list(queues.consume_from), shards):
        queues.select_add(name)


def on_worker_start(**_: Any) -> None:
    """Put back the ``Task.__call__`` the worker's start-up replaced, and keep our task_prerun
    receiver after Celery's Django fixup (connected at worker_init)."""
    with STATE.lock:
        if STATE.installed:
            if STATE.backend is not None:
                adopt(STATE.backend)
            restore_call(worker.call)
            connect_last(signals.task_prerun, worker.on_task_prerun, _uid(worker.on_task_prerun))


#: (signal, receiver): everything patch_celery() connects.
SIGNALS: List[Tuple[Any, Any]] = [
    (signals.task_prerun, worker.on_task_prerun),
    (signals.task_postrun, worker.on_task_postrun),
    (signals.celeryd_init, on_worker_start),
    (signals.worker_init, on_worker_start),
    (signals.worker_process_init, on_worker_start),
    (signals.celeryd_after_setup, on_worker_start),
    (signals.celeryd_after_setup, consume_shards),
    (signals.worker_ready, on_worker_start),
    (signals.import_modules, adopt_beat),
    (signals.beat_init, check_beat_schedule),
    (signals.after_setup_logger, add_filter_to_handlers),
    (signals.after_setup_task_logger, add_filter_to_handlers),
]


def patch_celery(**overrides: Any) -> None:
    """Make every Celery task run in the tenant that queued it. The one line for ``settings.py``.

    Idempotent and thread-safe; settings are read lazily, so it may come before
    ``OMNITENANT_CONFIG`` in the settings module. Keyword overrides win over
    ``OMNITENANT_CONFIG``: every setting marked overridable in ``conf.SETTINGS``
    (``backend``, ``tenant_model``, ``tenant_id_field``, ``auto_capture``, ``header``,
    ``sign_headers``, ``require_tenant``, ``on_missing_tenant``).

    >>> from omnitenant_patch import patch_celery
    >>> patch_celery()  # in settings.py
    """
    with STATE.lock:
        if STATE.installed:
            if overrides and overrides != STATE.overrides:
                raise ImproperlyConfigured(
                    f"patch_celery() already ran with {STATE.overrides or 'no overrides'}; "
                    f"call unpatch_celery() before patching with {overrides}"
                )
            return
        check_celery_version()
        check_overrides(overrides)
        STATE.overrides = dict(overrides)
        STATE.forget()
        _install()
        STATE.installed = True


def unpatch_celery() -> None:
    """Undo ``patch_celery()``: every patched attribute gets back exactly what it held.

    Where another library wrapped one of ours since (sentry-sdk, ddtrace), its wrapper
    stays in place and keeps working; ours stays under it and passes every call through.
    """
    with STATE.lock:
        if not STATE.installed:
            return
        for signal, receiver in SIGNALS:
            signal.disconnect(receiver, dispatch_uid=_uid(receiver))
        for (owner, name), replacement in list(STATE.replacements.items()):
            current = owner.__dict__.get(name)
            if current is replacement:
                original = STATE.displaced.pop((owner, name))
                del STATE.replacements[owner, name]
                if original is _ABSENT:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)
            elif holds(current, replacement):
                logger.info(
                    "omnitenant_patch: %s.%s is wrapped by %s; its wrapper stays and ours passes "
                    "calls through", owner.__name__, name, getattr(current, "__module__", "?"),
                )
        for (signal_name, uid), receiver in STATE.detached.items():
            getattr(signals, signal_name).connect(receiver, weak=False, dispatch_uid=uid)
        STATE.detached.clear()
        STATE.overrides = {}
        STATE.installed = False
        STATE.adopt = None
        STATE.forget()


def is_patched() -> bool:
    """True between ``patch_celery()`` and ``unpatch_celery()``."""
    return STATE.installed


def tenant_agnostic(task: Any) -> Any:
    """Mark a task (class or instance) as running without a tenant even under REQUIRE_TENANT.

    ``@shared_task(tenant_agnostic=True)`` does the same as an option.
    """
    target = task if isinstance(task, type) else getattr(task, "__class__", task)
    setattr(target, "tenant_agnostic", True)  # noqa: B010 (no such attribute in the stubs)
    return task


_ABSENT = object()


def adopt(backend: Any) -> None:
    """Add the backend's entries to the patch table (its library's own Celery integration)."""
    with STATE.lock:
        for owner, name in backend.displaces():
            _put(owner, name, _TASK_REPLACEMENTS[name])
        for signal_name, uid in backend.displaced_receivers():
            receiver = detach_receiver(getattr(signals, signal_name), uid)
            if receiver is not None:
                STATE.detached[signal_name, uid] = receiver


def _install() -> None:
    STATE.adopt = adopt
    for owner, name, replacement in PATCHES:
        _put(owner, name, replacement)
        _look_like(replacement, STATE.displaced.get((owner, name), _ABSENT))
    STATE.celery_call = celery_call(STATE.displaced[Task, "__call__"])
    for signal, receiver in SIGNALS:
        signal.connect(receiver, weak=False, dispatch_uid=_uid(receiver))


def _put(owner: type, name: str, replacement: Any) -> None:
    current = owner.__dict__.get(name, _ABSENT)
    if current is not _ABSENT and holds(current, replacement):
        return  # in place, or still in the chain since an unpatch under another's wrapper
    STATE.displaced[owner, name] = current
    STATE.replacements[owner, name] = replacement
    setattr(owner, name, replacement)


def _look_like(replacement: Any, original: Any) -> None:
    """Make a replacement transparent, as ``functools.wraps`` would (``__wrapped__``, name,
    docstring), but keep its ``__module__``: Celery's tracer only calls a ``Task.__call__`` whose
    module is not ``celery.app.task``."""
    if original is not _ABSENT:
        functools.update_wrapper(replacement, original, assigned=("__name__", "__qualname__",
                                                                  "__doc__"), updated=())


def _uid(receiver: Any) -> str:
    return f"omnitenant_patch.{receiver.__module__}.{receiver.__name__}"
