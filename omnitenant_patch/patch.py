"""The patch: a table of (owner, attribute, replacement) that install and uninstall walk.

Queueing side: ``Task.apply_async`` takes an explicit tenant out of the
options and kwargs before Celery checks the arguments; ``Celery.send_task``
(where every publish ends) and ``Task.apply`` (eager) add the implicit one.

Worker side: ``task_prerun`` looks the tenant up and enters it; ``task_postrun``
leaves it. The tracer publishes chain steps, callbacks and chord bodies between
the two, so they see the tenant too. Signal receivers cannot fail a task, so
``Task.__call__`` raises the lookup's error (``TenantNotFound``) on the call
path: the task fails and its body never runs.

``celery worker`` replaces ``Task.__call__`` while it starts
(``setup_worker_optimizations``), after settings are imported, and then calls
``task.run`` directly; so ``__call__`` is put back on ``celeryd_init``,
``worker_init`` and ``worker_process_init``. Our ``__call__`` does what
Celery's ``__protected_call__`` does for a traced execution (runs ``self.run``
itself, keeping ``self.request`` intact) and defers to Celery's own otherwise.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

from celery import signals
from celery.app import trace as celery_trace
from celery.app.base import Celery
from celery.app.task import Task
from celery.exceptions import Reject

from . import conf, context
from .celery_compat import check_celery_version, django_task_class
from .context import TenantContext, _enter, _leave
from .exceptions import (
    ImproperlyConfigured,
    InvalidTenantHeader,
    TenantNotFound,
    TenantRequired,
    TenantSignatureError,
)
from .headers import (
    OPTION,
    accepts_tenant_kwarg,
    current_scope,
    ensure_header,
    header_value,
    is_tenant_agnostic,
    take_explicit,
)
from .log import add_filter_to_handlers
from .signing import signature_header, verify
from .tenants import MAX_TENANT_ID_LENGTH, _valid_ids, is_tenant_id, lookup_tenant, tenant_id_of

_lock = threading.RLock()
_patched = False
_overrides: Dict[str, Any] = {}
_displaced: Dict[Tuple[type, str], Any] = {}  # what each patched attribute held before
_celery_call: Any = None  # Celery's own Task.__call__, behind any stack protection


# --------------------------------------------------------------------------- queueing side

# Every publish runs these. Their parameters are positional-only and the rest passes through
# as ``*args, **options``, in the shape the caller used: CPython compares every keyword that
# lands in ``**options`` with each named parameter before it gets there, and Celery hands
# send_task some twenty keywords (see benchmarks/). The explicit-tenant test is inlined, so
# the common publish (no tenant_id given) adds no call.

def _apply_async(self, /, *args, **options):
    kwargs = args[1] if len(args) > 1 else options.get("kwargs")
    if OPTION in options or (kwargs and OPTION in kwargs):
        args = take_explicit(self, args, 1, options)
    return _displaced[Task, "apply_async"](self, *args, **options)


def _send_task(self, /, *args, **options):
    kwargs = args[2] if len(args) > 2 else options.get("kwargs")
    name = args[0] if args else options.get("name")
    if OPTION in options or (kwargs and OPTION in kwargs):
        args = take_explicit(self._tasks.get(name), args, 2, options)
    ensure_header(options, None, self, name)
    return _displaced[Celery, "send_task"](self, *args, **options)


def _apply(self, /, *args, **options):
    args = take_explicit(self, args, 1, options)
    ensure_header(options, self)
    return _displaced[Task, "apply"](self, *args, **options)


def _apply_async_on_commit(self, /, *args, **options):
    # Celery's DjangoTask publishes when the transaction commits, when the request's
    # tenant may be gone: take the tenant now ("no tenant" included).
    args = take_explicit(self, args, 1, options)
    ensure_header(options, self, freeze=True)
    return _displaced[DjangoTask, "apply_async_on_commit"](self, *args, **options)


def _delay_on_commit(self, /, *args, **kwargs):
    return _apply_async_on_commit(self, args, kwargs)


# --------------------------------------------------------------------------- worker side

class _Scope:
    """A task's tenant, from its task_prerun to its task_postrun, and how to leave it.

    Opening makes it this context's ``current_scope``, so that what Celery publishes on the
    task's behalf inherits its tenant; ``error`` is the lookup's, raised on the call path.
    """

    __slots__ = ("task", "task_id", "request", "error", "token", "manager", "in_body", "outer")

    def __init__(self, task: Any, task_id: Any, request: Any) -> None:
        self.task = task
        self.task_id = task_id
        self.request = request
        self.error: Optional[BaseException] = None
        self.token: Any = None
        self.manager: Any = None
        self.in_body = False
        self.outer = current_scope.set(self)


def _open_scope(task: Any, request: Any, task_id: Any) -> _Scope:
    scope = _Scope(task, task_id, request)
    try:
        tenant = _tenant_for_request(task, request)
    except Exception as exc:  # refused on the call path, in Task.__call__
        scope.error = exc
        return scope
    if context._resolved_store is None:
        scope.token = context._current_tenant.set(tenant)
    else:
        scope.manager = _enter(tenant)
    return scope


def _close_scope(scope: _Scope) -> None:
    if scope.token is not None:
        context._current_tenant.reset(scope.token)
        scope.token = None
    elif scope.manager is not None:
        _leave(scope.manager)
        scope.manager = None
    if scope.outer is not None:
        current_scope.reset(scope.outer)
        scope.outer = None


def _tenant_for_request(task: Any, request: Any) -> Any:
    config = conf._cached or conf.get_config()
    header = config.header
    value = header_value(request, header)
    if value is None:
        if config.require_tenant and not is_tenant_agnostic(task):
            raise TenantRequired(
                f"task {task.name} arrived with no tenant and "
                f'OMNITENANT_CONFIG["CELERY"]["REQUIRE_TENANT"] is on; its body was not run'
            )
        return None
    if value.__class__ is not str or value not in _valid_ids:
        value = valid_header_value(value, header, task.name)
    if config.sign_headers:
        signature = header_value(request, signature_header(header))
        if not verify(request.id, value, signature):
            raise TenantSignatureError(
                f"header {header!r} = {value!r} on task {task.name}[{request.id}] is "
                f"{'wrongly signed' if signature else 'not signed'}; SIGN_HEADERS is on, so the "
                f"task is refused (queue it through a patched Celery with the same SECRET_KEY)"
            )
    return lookup_tenant(value, task_name=task.name)


def valid_header_value(value: Any, header: str, task_name: str) -> str:
    """A tenant header as the ORM will see it: a plain, bounded, printable string."""
    if value.__class__ is int:
        value = str(value)
    if not is_tenant_id(value):
        raise InvalidTenantHeader(
            f"header {header!r} on task {task_name} is {str(value)[:60]!r} "
            f"({type(value).__name__}); a tenant id is a non-empty printable string of at most "
            f"{MAX_TENANT_ID_LENGTH} characters"
        )
    return value


def _refuse(task: Any, request: Any, error: BaseException) -> Any:
    """The task's tenant could not be entered: fail, retry or reject, by ON_MISSING_TENANT."""
    policy = conf.get_config().on_missing_tenant
    if isinstance(error, TenantNotFound):
        if policy == "retry":
            raise task.retry(exc=error, countdown=min(2 ** (request.retries or 0), 300))
        if policy == "reject":
            raise Reject(error, requeue=False)
    raise error


# The receivers name every keyword Celery sends them, so that none takes CPython's slow path
# into ``**_`` (see the queueing side); ``**_`` is for keywords a later Celery may add.

def _on_task_prerun(signal=None, sender=None, task_id=None, task=None, args=None, kwargs=None,
                    **_):
    task = task or sender
    if task is not None:
        _open_scope(task, task.request, task_id)


def _on_task_postrun(signal=None, sender=None, task_id=None, task=None, args=None, kwargs=None,
                     retval=None, state=None, **_):
    scope = current_scope.get()
    if scope is not None and scope.task_id == task_id:
        _close_scope(scope)


def _call(self, /, *args, **kwargs):
    scope = current_scope.get()
    if scope is not None and scope.task is self:
        request = scope.request
        if not request._protected and not request.called_directly:
            # The tracer calling the task whose task_prerun just opened this scope.
            request._protected = 1
            return _run_in_scope(self, scope, args, kwargs)
    request = _traced_request(self)
    if request is not None and not request._protected and not request.called_directly:
        request._protected = 1
        scope = _open_scope(self, request, request.id)  # no task_prerun ran
        try:
            return _run_in_scope(self, scope, args, kwargs)
        finally:
            _close_scope(scope)
    if kwargs and OPTION in kwargs:
        return _call_in_tenant(self, args, kwargs)
    return _celery_call(self, *args, **kwargs)


def _traced_request(task: Any) -> Any:
    """The request the tracer pushed, as Celery's own stack protection finds it."""
    stack = task.request_stack
    return stack.top if len(stack) == 1 else None


def _run_in_scope(task: Any, scope: _Scope, args: tuple, kwargs: dict) -> Any:
    """Run the body of a traced task, as Celery's ``__protected_call__`` does, in its scope."""
    if scope.error is not None:
        _refuse(task, scope.request, scope.error)
    if OPTION in kwargs and not accepts_tenant_kwarg(task):
        kwargs = {k: v for k, v in kwargs.items() if k != OPTION}
    scope.in_body = True
    try:
        return task.run(*args, **kwargs)
    finally:
        scope.in_body = False


def _call_in_tenant(task: Any, args: tuple, kwargs: dict) -> Any:
    """A plain call ``task(..., tenant_id=...)``: run in that tenant, then restore the caller's."""
    tenant_id = tenant_id_of(kwargs[OPTION])
    if not accepts_tenant_kwarg(task):
        kwargs = {k: v for k, v in kwargs.items() if k != OPTION}
    tenant = None if tenant_id is None else lookup_tenant(tenant_id, task_name=task.name)
    with TenantContext.use_tenant(tenant):
        return _celery_call(task, *args, **kwargs)


def _on_worker_start(**_):
    """Put ``Task.__call__`` back after the worker's start-up replaced it."""
    with _lock:
        if _patched:
            for owner, name, replacement in PATCHES:
                if owner.__dict__.get(name) is not replacement:
                    setattr(owner, name, replacement)


# --------------------------------------------------------------------------- install / uninstall

DjangoTask = django_task_class()

PATCHES: List[Tuple[type, str, Any]] = [
    (Task, "apply_async", _apply_async),
    (Task, "apply", _apply),
    (Task, "__call__", _call),
    (Celery, "send_task", _send_task),
]
if DjangoTask is not None:  # Celery >= 5.4
    PATCHES += [
        (DjangoTask, "apply_async_on_commit", _apply_async_on_commit),
        (DjangoTask, "delay_on_commit", _delay_on_commit),
    ]

SIGNALS = [
    (signals.task_prerun, _on_task_prerun),
    (signals.task_postrun, _on_task_postrun),
    (signals.celeryd_init, _on_worker_start),
    (signals.worker_init, _on_worker_start),
    (signals.worker_process_init, _on_worker_start),
    (signals.after_setup_logger, add_filter_to_handlers),
    (signals.after_setup_task_logger, add_filter_to_handlers),
]


def patch_celery(**overrides: Any) -> None:
    """Make every Celery task run in the tenant that queued it. The one line for ``settings.py``.

    Idempotent and thread-safe; settings are read lazily, so it may come
    before ``OMNITENANT_CONFIG`` in the settings module. Keyword overrides win
    over ``OMNITENANT_CONFIG``: ``tenant_model``, ``tenant_id_field``,
    ``auto_capture``, ``header``.

    >>> from omnitenant_patch import patch_celery
    >>> patch_celery()  # in settings.py
    """
    global _patched
    with _lock:
        if _patched:
            if overrides and overrides != _overrides:
                raise ImproperlyConfigured(
                    f"patch_celery() already ran with {_overrides or 'no overrides'}; "
                    f"call unpatch_celery() before patching with {overrides}"
                )
            return
        check_celery_version()
        conf.set_overrides(overrides)
        _overrides.clear()
        _overrides.update(overrides)
        _install()
        _patched = True


def unpatch_celery() -> None:
    """Undo ``patch_celery()``: every patched attribute gets back exactly what it held."""
    global _patched
    with _lock:
        if not _patched:
            return
        for signal, receiver in SIGNALS:
            signal.disconnect(receiver, dispatch_uid=_uid(receiver))
        for owner, name, _ in PATCHES:
            original = _displaced.pop((owner, name))
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _overrides.clear()
        conf.set_overrides({})
        _patched = False


def tenant_agnostic(task: Any) -> Any:
    """Mark a task (class or instance) as running without a tenant even under REQUIRE_TENANT.

    ``@shared_task(tenant_agnostic=True)`` does the same as an option.
    """
    target = task if isinstance(task, type) else getattr(task, "__class__", task)
    target.tenant_agnostic = True
    return task


def is_patched() -> bool:
    """True between ``patch_celery()`` and ``unpatch_celery()``."""
    return _patched


_ABSENT = object()


def _install() -> None:
    global _celery_call
    _celery_call = _find_celery_call()
    for owner, name, _ in PATCHES:
        _displaced[owner, name] = owner.__dict__.get(name, _ABSENT)
    for owner, name, replacement in PATCHES:
        setattr(owner, name, replacement)
    for signal, receiver in SIGNALS:
        signal.connect(receiver, weak=False, dispatch_uid=_uid(receiver))


def _find_celery_call() -> Any:
    """Celery's own ``Task.__call__``, even under a worker's stack protection."""
    current = Task.__dict__["__call__"]
    if getattr(Task, "_stackprotected", False):
        protected = celery_trace._patched.get("BaseTask.__call__")
        if protected is not None and protected is not _call:
            return protected
    if current is _call:
        raise RuntimeError("omnitenant_patch: Task.__call__ is already patched")  # pragma: no cover
    return current


def _uid(receiver: Any) -> str:
    return f"omnitenant_patch.{receiver.__name__}"
