"""The publish side: which tenant a task is queued for, written into its message headers.

The tenant comes from, in order:

1. an explicit ``tenant_id=`` option or ``tenant_id`` kwarg (``None`` = no tenant);
2. the tenant header already in ``headers=`` (Celery >= 5.3 re-sends it on retry);
3. the task running in this context, when Celery publishes on its behalf: its
   retry, and after its body returned, chain steps, ``link``/``link_error``
   callbacks and chord bodies (canvas options are not inherited, and on
   Celery <= 5.2 a retry drops custom headers);
4. with ``AUTO_CAPTURE``, the backend's current tenant.

A publish that names ``tenants`` (``periodic``: a beat entry's options or headers) queues one
message for the fan-out task instead, routed where the task would go; a worker queues the task
once per tenant. ``spread`` alone delays a one-tenant publish by that tenant's offset.

``Task.apply_async`` takes the explicit tenant out of the options and kwargs before
Celery checks the arguments; ``Celery.send_task`` (where every publish ends),
``Task.apply`` (eager) and Celery 5.4's ``*_on_commit`` add the implicit one.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Optional

from celery.app.base import Celery
from celery.app.task import Task
from celery.result import EagerResult

from .backends import active_backend
from .celery_compat import django_task_class, registered_task, route_queue
from .conf import get_config
from .exceptions import TenantRequired
from .fair import route_to_shard
from .ids import OPTION, takes_tenant_kwarg, tenant_id_of, without_option
from .periodic import (
    FAN_OUT_TASK,
    SPREAD,
    TENANTS,
    fan_out_message,
    offset,
    resolve,
    take_fan_out,
)
from .scope import current_scope, is_tenant_agnostic
from .signing import sign, signature_header
from .state import STATE

_MISSING = object()
DjangoTask = django_task_class()

# Every publish runs these. Their parameters are positional-only and the rest passes through
# as ``*args, **options``, in the shape the caller used: CPython compares every keyword that
# lands in ``**options`` with each named parameter before it gets there, and Celery hands
# send_task some twenty keywords (see benchmarks/). The explicit-tenant test is inlined, so
# the common publish (no tenant_id given) adds no call. Each defers to what it displaced, so
# a wrapper another library put there first keeps running.


def apply_async(self, /, *args, **options):
    if not STATE.installed:  # left in another library's chain by unpatch_celery()
        return STATE.displaced[Task, "apply_async"](self, *args, **options)
    kwargs = args[1] if len(args) > 1 else options.get("kwargs")
    if OPTION in options or (kwargs and OPTION in kwargs):
        args = take_explicit(self, args, 1, options)
    return STATE.displaced[Task, "apply_async"](self, *args, **options)


def send_task(self, /, *args, **options):
    if not STATE.installed:
        return STATE.displaced[Celery, "send_task"](self, *args, **options)
    kwargs = args[2] if len(args) > 2 else options.get("kwargs")
    name = args[0] if args else options.get("name")
    if OPTION in options or (kwargs and OPTION in kwargs):
        args = take_explicit(registered_task(self, name), args, 2, options)
    headers = options.get("headers")
    if TENANTS in options or SPREAD in options or headers and (
            TENANTS in headers or SPREAD in headers):
        return _fan_out_or_spread(self, name, args, options)
    config = ensure_header(options, None, self, name)
    if config.fair_shards:
        _to_shard(self, name, args, options, config)
    return STATE.displaced[Celery, "send_task"](self, *args, **options)


def _to_shard(app: Any, name: str, args: tuple, options: Dict[str, Any], config: Any) -> None:
    """``FAIR_SHARDS``: a publish with a tenant goes to its tenant's shard of its queue."""
    tenant_id = (options.get("headers") or {}).get(config.header)
    if tenant_id is not None:
        queue = options.get("queue")
        queue = getattr(queue, "name", queue) or route_queue(
            app, name, args[1] if len(args) > 1 else options.get("args"),
            args[2] if len(args) > 2 else options.get("kwargs"), options)
        route_to_shard(options, queue, tenant_id, config.fair_shards)


def apply(self, /, *args, **options):
    if not STATE.installed:
        return STATE.displaced[Task, "apply"](self, *args, **options)
    args = take_explicit(self, args, 1, options)
    fan_out = take_fan_out(options)
    if fan_out is not None and fan_out[0] is not None:
        return _apply_for_each(self, args, options, fan_out[0])
    ensure_header(options, self)
    return STATE.displaced[Task, "apply"](self, *args, **options)


def apply_async_on_commit(self, /, *args, **options):
    # Celery's DjangoTask publishes when the transaction commits, when the request's
    # tenant may be gone: take the tenant now ("no tenant" included).
    if not STATE.installed:
        return STATE.displaced[DjangoTask, "apply_async_on_commit"](self, *args, **options)
    args = take_explicit(self, args, 1, options)
    ensure_header(options, self, freeze=True)
    return STATE.displaced[DjangoTask, "apply_async_on_commit"](self, *args, **options)


def delay_on_commit(self, /, *args, **kwargs):
    if not STATE.installed:
        return STATE.displaced[DjangoTask, "delay_on_commit"](self, *args, **kwargs)
    return apply_async_on_commit(self, args, kwargs)


def _fan_out_or_spread(app: Any, name: str, args: tuple, options: Dict[str, Any]) -> Any:
    """A publish naming ``tenants``: one message for the fan-out task, routed where ``name``
    goes. ``spread`` alone: the one tenant's publish, delayed by its offset."""
    tenants, spread = take_fan_out(options)  # type: ignore[misc]
    header = (STATE.config or get_config()).header
    if tenants is None:
        config = ensure_header(options, None, app, name)
        tenant_id = (options.get("headers") or {}).get(header)
        if tenant_id is not None and spread and options.get("eta") is None:
            options["countdown"] = (options.get("countdown") or 0) + offset(tenant_id, spread)
        if config.fair_shards:
            _to_shard(app, name, args, options, config)
        return STATE.displaced[Celery, "send_task"](app, *args, **options)
    headers = dict(options.get("headers") or {})
    if headers.pop(header, None) is not None:
        raise ValueError(f"a publish of {name} names both a tenant ({header}) and tenants="
                         f"{tenants!r}: name one or the other")
    options["headers"] = headers
    task_args = args[1] if len(args) > 1 else options.get("args")
    task_kwargs = args[2] if len(args) > 2 else options.get("kwargs")
    routing: Dict[str, Any] = {
        k: options[k] for k in ("task_id", "countdown", "eta", "expires", "producer",
                                "connection", "exchange", "routing_key", "priority")
        if k in options}
    routing["queue"] = route_queue(app, name, task_args, task_kwargs, options)
    message = fan_out_message(name, task_args, task_kwargs, options, tenants, spread)
    return send_task(app, FAN_OUT_TASK, (), message, tenant_id=None, **routing)


def _apply_for_each(task: Any, args: tuple, options: Dict[str, Any], tenants: Any) -> Any:
    """Eager mode: run the task for each tenant ``tenants`` names, here and now; the result's
    value is how many ran, as the fan-out task's would be."""
    task_args = args[0] if args else options.pop("args", None)
    task_kwargs = args[1] if len(args) > 1 else options.pop("kwargs", None)
    ran = 0
    for tenant_id in resolve(tenants, STATE.backend or active_backend()):
        apply(task, task_args, task_kwargs, tenant_id=tenant_id)
        ran += 1
    return EagerResult(options.get("task_id") or str(uuid.uuid4()), ran, "SUCCESS")


def take_explicit(task: Any, args: tuple, at: int, options: Dict[str, Any]) -> tuple:
    """Move an explicit tenant (option or kwarg) of a publish call into ``options['headers']``.

    The call is ``(*args, **options)``, its task kwargs ``args[at]`` or
    ``options['kwargs']``; ``options`` is a wrapper's own and is updated in place.
    Returns ``args``, with new kwargs where the tenant was taken out of them (the
    caller's dicts, and its ``headers``, are never written). Raises
    ``TypeError``/``ValueError`` on a bad value, before anything is published.
    ``task`` may be ``None`` (``send_task`` of a task this process does not know):
    its kwarg is then left in place, and the worker drops it.
    """
    given = len(args) > at
    kwargs = args[at] if given else options.get("kwargs")
    explicit = options.pop(OPTION, _MISSING)
    if kwargs and OPTION in kwargs:
        from_kwargs = kwargs[OPTION]
        if task is not None and not takes_tenant_kwarg(task):
            kwargs = without_option(kwargs)
            if given:
                args = (*args[:at], kwargs, *args[at + 1:])
            else:
                options["kwargs"] = kwargs
        if explicit is _MISSING:
            explicit = from_kwargs
        elif tenant_id_of(explicit) != tenant_id_of(from_kwargs, what="kwargs['tenant_id']"):
            raise ValueError(
                f"conflicting tenants: option tenant_id={explicit!r} but "
                f"kwargs['tenant_id']={from_kwargs!r}; pass one of them"
            )
    if explicit is not _MISSING:
        _set_header(options, tenant_id_of(explicit))
    return args


def ensure_header(
    options: Dict[str, Any], task: Any = None, app: Any = None, name: Optional[str] = None,
    freeze: bool = False,
) -> Any:
    """Give ``options`` a tenant header when none was set explicitly (idempotent); return the
    configuration it read.

    ``freeze``: write "no tenant" as an explicit ``None`` too, so that a later
    publish (``delay_on_commit`` at commit time) does not capture another one.
    Runs on every publish: kept to a handful of calls (see benchmarks/).
    """
    config = STATE.config or get_config()
    header = config.header
    headers = options.get("headers")
    if headers and header in headers:
        value = headers[header]
        if value.__class__ is not str or value not in STATE.valid_ids:
            tenant_id_of(value, what=f"headers[{header!r}]")
    elif headers and isinstance(headers.get("headers"), dict) and header in headers["headers"]:
        _set_header(options, tenant_id_of(headers["headers"][header], what=f"headers[{header!r}]"))
    else:
        value = _implicit_tenant_id(config, options)
        if value is not None or freeze:
            headers = dict(headers) if headers else {}
            headers[header] = value
            options["headers"] = headers
    if config.sign_headers or config.require_tenant:
        _enforce(options, config, task if task is not None else _task_named(app, name), name)
    return config


def _task_named(app: Any, name: Optional[str]) -> Any:
    return None if app is None else registered_task(app, name)


def _enforce(options: Dict[str, Any], config: Any, task: Any, name: Optional[str]) -> None:
    """``REQUIRE_TENANT`` and ``SIGN_HEADERS`` at publish time."""
    headers = options.get("headers") or {}
    value = headers.get(config.header)
    if value is None:
        if config.require_tenant and not is_tenant_agnostic(task, name):
            raise TenantRequired(
                f"task {name or getattr(task, 'name', '?')} was queued with no tenant and "
                f'OMNITENANT_CONFIG["CELERY"]["REQUIRE_TENANT"] is on: pass tenant_id=, queue it '
                f"inside a tenant, or mark the task tenant_agnostic"
            )
        return
    if config.sign_headers:
        task_id = options.get("task_id")
        if not task_id:
            task_id = options["task_id"] = str(uuid.uuid4())
        headers = dict(headers)
        headers[signature_header(config.header)] = sign(task_id, value)
        options["headers"] = headers


def _implicit_tenant_id(config: Any, options: Dict[str, Any]) -> Optional[str]:
    scope = current_scope.get()
    if scope is not None and (not scope.in_body or _is_retry_of(scope, options.get("task_id"))):
        if scope.tenant_id is not None:
            return scope.tenant_id
    if config.auto_capture:
        tenant = (STATE.backend or active_backend()).current()
        if tenant is not None:
            return tenant_id_of(tenant, what="the current tenant")
    return None


def _is_retry_of(scope: Any, task_id: Optional[str]) -> bool:
    return task_id is not None and task_id == scope.request.id


def _set_header(options: Dict[str, Any], value: Optional[str]) -> None:
    # An explicit "no tenant" travels as None, so that the implicit step further
    # down the call (send_task/apply run ensure_header again) leaves it alone.
    headers = options.get("headers")
    headers = dict(headers) if headers else {}
    headers[(STATE.config or get_config()).header] = value
    options["headers"] = headers

