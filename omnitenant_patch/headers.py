"""Header carry: where the tenant id goes when a task is queued, and where it is read back.

Queueing side. The tenant comes from, in order:
1. an explicit ``tenant_id=`` option or ``tenant_id`` kwarg (``None`` = no tenant);
2. the tenant header already in ``headers=`` (Celery >= 5.3 re-sends it on retry);
3. the task running in this thread, when Celery itself publishes on its behalf:
   its retry, and after its body returned, chain steps, ``link``/``link_error``
   callbacks and chord bodies (canvas options are not inherited, and on
   Celery <= 5.2 a retry drops custom headers);
4. with ``AUTO_CAPTURE``, ``TenantContext.get_tenant()``.

Worker side. Under message protocol 2 custom headers are merged flat into the
message headers; where they surface depends on the Celery line (see
``celery_compat``), so ``header_value`` reads every place in a fixed order.
"""

from __future__ import annotations

import contextvars
import inspect
import uuid
from typing import Any, Dict, Optional

from . import conf, context
from .conf import get_config
from .exceptions import TenantRequired
from .signing import sign, signature_header
from .tenants import _valid_ids, tenant_id_of

# The apply_async()/send_task() option and task kwarg, whatever the header is called.
OPTION = "tenant_id"

_MISSING = object()

#: The scope (patch._Scope) of the task between its task_prerun and task_postrun in this
#: context: what Celery publishes on its behalf (retry, chain, callbacks) inherits its tenant.
current_scope: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "omnitenant_current_scope", default=None
)
_accepts_cache: Dict[Any, bool] = {}


def header_value(request: Any, header: str) -> Any:
    """Return the raw tenant header of a task request, or ``None`` when it has none.

    Order: ``request.headers[header]`` (Celery >= 5.3, eager), then a nested
    ``request.headers["headers"][header]`` (added by some tracing tools), then
    ``getattr(request, header)`` (Celery <= 5.2, where headers are attributes).
    """
    headers = getattr(request, "headers", None)
    if headers:
        value = headers.get(header, _MISSING)
        if value is not _MISSING:
            return value
        nested = headers.get("headers")
        if isinstance(nested, dict) and header in nested:
            return nested[header]
    return getattr(request, header, None)


def accepts_tenant_kwarg(task: Any) -> bool:
    """True when the task's own ``run`` declares a ``tenant_id`` parameter (cached per function)."""
    run = getattr(type(task), "run", None)
    try:
        return _accepts_cache[run]
    except KeyError:
        pass
    except TypeError:  # an unhashable run: do not cache
        return _declares_tenant_id(task)
    accepts = _accepts_cache[run] = _declares_tenant_id(task)
    return accepts


def _declares_tenant_id(task: Any) -> bool:
    try:
        parameter = inspect.signature(task.run).parameters.get(OPTION)
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def take_explicit(task: Any, args: tuple, at: int, options: Dict[str, Any]) -> tuple:
    """Move an explicit tenant (option or kwarg) of a publish call into ``options['headers']``.

    The call is ``(*args, **options)``, its task kwargs ``args[at]`` or
    ``options['kwargs']``; ``options`` is a wrapper's own and is updated in place.
    Returns ``args``, with new kwargs where the tenant was taken out of them (the
    caller's dicts, and its ``headers``, are never written). Raises
    ``TypeError``/``ValueError`` on a bad value, before anything is published.
    ``task`` may be ``None`` (``send_task`` of a task this process does not
    know): its kwarg is then left in place.
    """
    given = len(args) > at
    kwargs = args[at] if given else options.get("kwargs")
    explicit = options.pop(OPTION, _MISSING)
    if kwargs and OPTION in kwargs:
        from_kwargs = kwargs[OPTION]
        if task is not None and not accepts_tenant_kwarg(task):
            kwargs = {k: v for k, v in kwargs.items() if k != OPTION}
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
) -> Dict[str, Any]:
    """Give ``options`` a tenant header when none was set explicitly (idempotent).

    ``freeze``: write "no tenant" as an explicit ``None`` too, so that a later
    publish (``delay_on_commit`` at commit time) does not capture another one.
    Runs on every publish: kept to a handful of calls (see benchmarks/).
    """
    config = conf._cached or get_config()
    header = config.header
    headers = options.get("headers")
    if headers and header in headers:
        value = headers[header]
        if value.__class__ is not str or value not in _valid_ids:
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
    return options


def _task_named(app: Any, name: Optional[str]) -> Any:
    return None if app is None else app._tasks.get(name)


def is_tenant_agnostic(task: Any, name: Optional[str] = None) -> bool:
    """Celery's own tasks, and tasks marked ``tenant_agnostic``, may run with no tenant."""
    name = name or getattr(task, "name", None) or ""
    return name.startswith("celery.") or bool(getattr(task, "tenant_agnostic", False))


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
        inherited = header_value(scope.request, config.header)
        if inherited is not None:
            return tenant_id_of(inherited, what="inherited tenant header")
    if config.auto_capture:
        if context._resolved_store is None:
            tenant = context._current_tenant.get()
        else:
            tenant = context.TenantContext.get_tenant()
        if tenant is not None:
            return tenant_id_of(tenant, what="TenantContext.get_tenant()")
    return None


def _is_retry_of(scope: Any, task_id: Optional[str]) -> bool:
    return task_id is not None and task_id == scope.request.id


def _set_header(options: Dict[str, Any], value: Optional[str]) -> None:
    # An explicit "no tenant" travels as None, so that the implicit step further
    # down the call (send_task/apply run ensure_header again) leaves it alone.
    headers = options.get("headers")
    headers = dict(headers) if headers else {}
    headers[(conf._cached or get_config()).header] = value
    options["headers"] = headers
