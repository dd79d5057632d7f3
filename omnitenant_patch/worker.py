"""The worker side: a task's tenant is looked up and entered around it, and left afterwards.

``task_prerun`` opens the task's scope: it reads the tenant header, looks the
tenant up in the shared store and enters it through the backend; ``task_postrun``
leaves it. The tracer publishes chain steps, callbacks and chord bodies between the
two, so they inherit the tenant (``publish`` reads ``scope.current_scope``). The prerun
receiver runs after Celery's Django fixup, which closes the database connections
in its own (``celery_compat.connect_last``), so the tenant is entered on the
connection the body will use.

Signal receivers cannot fail a task, so a tenant that could not be entered
(unknown, invalid, unsigned) is raised from ``Task.__call__``: the task fails,
retries or is rejected by ``ON_MISSING_TENANT``, and its body never runs.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from celery.exceptions import Reject

from .backends import active_backend
from .celery_compat import claim_traced_call, header_value, traced_request
from .conf import get_config
from .exceptions import TenantNotFound, TenantRequired, TenantSignatureError
from .ids import OPTION, takes_tenant_kwarg, tenant_id_of, valid_header_value, without_option
from .lookup import lookup_tenant
from .scope import Scope, current_scope, is_tenant_agnostic
from .signing import signature_header, verify
from .state import STATE
from .telemetry import tag_tenant


def open_scope(task: Any, request: Any, task_id: Any) -> Scope:
    """Enter the tenant of ``request`` (no tenant when it names none); keep a failure to raise
    it on the call path."""
    scope = Scope(task, task_id, request)
    try:
        tenant_id, header = tenant_id_for(task, request)
        scope.tenant_id = tenant_id  # before the lookup: a retry (ON_MISSING_TENANT) carries it
        tenant = None if tenant_id is None else lookup_tenant(tenant_id, task_name=task.name,
                                                             header=header)
    except Exception as exc:  # refused on the call path, in Task.__call__
        scope.error = exc
        return scope
    backend = scope.backend = STATE.backend or active_backend()
    scope.token = backend.enter_for(task, tenant)
    scope.entered = True
    return scope


def close_scope(scope: Scope) -> None:
    """Leave what ``open_scope`` entered; idempotent."""
    if scope.entered:
        scope.entered = False
        scope.backend.leave(scope.token)
    if scope.outer is not None:
        current_scope.reset(scope.outer)
        scope.outer = None


def tenant_id_for(task: Any, request: Any) -> Tuple[Optional[str], str]:
    """The tenant id a task request carries, checked (``None`` when it carries none), and the
    header it came in."""
    config = STATE.config or get_config()
    header = config.header
    value = header_value(request, header)
    if value is None:
        value, header = _foreign_tenant_id(request, header)
    if value is None:
        if config.require_tenant and not is_tenant_agnostic(task):
            raise TenantRequired(
                f"task {task.name} arrived with no tenant and "
                f'OMNITENANT_CONFIG["CELERY"]["REQUIRE_TENANT"] is on; its body was not run'
            )
        return None, header
    if value.__class__ is not str or value not in STATE.valid_ids:
        value = valid_header_value(value, header, task.name)
    if config.sign_headers:
        signature = header_value(request, signature_header(config.header))
        if not verify(request.id, value, signature):
            raise TenantSignatureError(
                f"header {header!r} = {value!r} on task {task.name}[{request.id}] is "
                f"{'wrongly signed' if signature else 'not signed'}; SIGN_HEADERS is on, so the "
                f"task is refused (queue it through a patched Celery with the same SECRET_KEY)"
            )
    return value, header


def _foreign_tenant_id(request: Any, header: str) -> Any:
    """A tenant another library's producer wrote (tenant-schemas-celery's ``_schema_name``)."""
    backend = STATE.backend or active_backend()
    for foreign in backend.foreign_headers:
        value = header_value(request, foreign)
        if value is not None:
            return backend.foreign_tenant_id(foreign, value), foreign
    return None, header


def refuse(task: Any, request: Any, error: BaseException) -> Any:
    """The task's tenant could not be entered: fail, retry or reject, by ON_MISSING_TENANT."""
    policy = get_config().on_missing_tenant
    if isinstance(error, TenantNotFound):
        if policy == "retry":
            raise task.retry(exc=error, countdown=min(2 ** (request.retries or 0), 300))
        if policy == "reject":
            raise Reject(error, requeue=False)
    raise error


# The receivers name every keyword Celery sends them, so that none takes CPython's slow path
# into ``**_``; ``**_`` is for keywords a later Celery may add.

def on_task_prerun(signal=None, sender=None, task_id=None, task=None, args=None, kwargs=None,
                   **_):
    task = task or sender
    if task is not None:
        open_scope(task, task.request, task_id)


def on_task_postrun(signal=None, sender=None, task_id=None, task=None, args=None, kwargs=None,
                    retval=None, state=None, **_):
    scope = current_scope.get()
    if scope is not None and scope.task_id == task_id:
        close_scope(scope)


def call(self, /, *args, **kwargs):
    """``Task.__call__``: the traced body runs in its scope; a plain call in the caller's tenant
    or the one its ``tenant_id=`` names."""
    if not STATE.installed:  # left in another library's chain by unpatch_celery()
        return STATE.celery_call(self, *args, **kwargs)
    scope = current_scope.get()
    if scope is not None and scope.task is self and claim_traced_call(scope.request):
        return run_in_scope(self, scope, args, kwargs)  # the tracer, after our task_prerun
    request = traced_request(self)
    if claim_traced_call(request):  # traced, but no task_prerun opened a scope
        scope = open_scope(self, request, request.id)
        try:
            return run_in_scope(self, scope, args, kwargs)
        finally:
            close_scope(scope)
    if kwargs and OPTION in kwargs:
        return call_in_tenant(self, args, kwargs)
    return STATE.celery_call(self, *args, **kwargs)


def run_in_scope(task: Any, scope: Scope, args: tuple, kwargs: dict) -> Any:
    """Run the body of a traced task, as Celery's ``__protected_call__`` does, in its scope."""
    if scope.error is not None:
        refuse(task, scope.request, scope.error)
    if OPTION in kwargs and not takes_tenant_kwarg(task):
        kwargs = without_option(kwargs)
    if (STATE.config or get_config()).telemetry:
        tag_tenant(scope.tenant_id)  # the tracers' run spans are current by now; None clears
    scope.in_body = True
    try:
        return task.run(*args, **kwargs)
    finally:
        scope.in_body = False


def call_in_tenant(task: Any, args: tuple, kwargs: dict) -> Any:
    """A plain call ``task(..., tenant_id=...)``: run in that tenant, then restore the caller's."""
    tenant_id = tenant_id_of(kwargs[OPTION])
    if not takes_tenant_kwarg(task):
        kwargs = without_option(kwargs)
    tenant = None if tenant_id is None else lookup_tenant(tenant_id, task_name=task.name)
    with (STATE.backend or active_backend()).use(tenant, task):
        return STATE.celery_call(task, *args, **kwargs)

