"""Celery: the supported range, declared once, every difference between lines, and every internal.

No other module touches Celery's private names. The differences the patch meets are
handled the same way on every line, so nothing branches on the version:

- custom headers surface as request attributes on <= 5.2 and in ``request.headers``
  from 5.3 (celery#7555), nested under ``headers`` with some tracing tools:
  ``header_value`` reads all three;
- ``Task.retry`` drops custom headers before 5.3 (celery#4875, #7523), so retries
  inherit the running task's tenant (``publish``);
- ``Task.push_request`` replaces the request up to 5.4, so a traced task's
  ``__call__`` runs ``self.run`` itself (``claim_traced_call``);
- ``celery worker`` replaces ``Task.__call__`` while it starts (stack protection):
  ``restore_call`` puts back what it replaced;
- the Django fixup closes database connections in its own ``task_prerun`` receiver,
  connected when the worker starts: ``connect_last`` keeps ours after it.

Only features that exist on some lines are looked up (``DjangoTask``, 5.4+).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, Optional

import celery
from celery.app import trace as _trace
from celery.app.task import Task
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .exceptions import UnsupportedCeleryVersion

#: The Celery range this library is proven on (see compat_matrix/).
SUPPORTED_CELERY = SpecifierSet(">=4.4,<6")

CELERY_VERSION = Version(celery.__version__)

#: Fields of Celery's task request. A custom header must not take one of these names: on
#: Celery <= 5.2 custom headers become attributes of the request, next to them.
REQUEST_FIELDS = frozenset(
    """
    id task args kwargs retries eta expires group group_index chord chain callbacks errbacks
    root_id parent_id origin shadow timelimit argsrepr kwargsrepr lang headers reply_to
    correlation_id delivery_info hostname is_eager loglevel logfile called_directly utc
    ignore_result stamps stamped_headers replaced_task_nesting properties
    """.split()
)

_MISSING = object()
_CELERY_CALL_KEY = "BaseTask.__call__"
#: What the worker's stack protection replaced, by name (``celery.app.trace._patched``).
_PROTECTION_DISPLACED: Dict[str, Any] = getattr(_trace, "_patched", {})


def check_celery_version() -> None:
    """Raise ``UnsupportedCeleryVersion`` unless the installed Celery is in range."""
    if CELERY_VERSION not in SUPPORTED_CELERY:
        raise UnsupportedCeleryVersion(
            f"omnitenant_patch supports Celery {SUPPORTED_CELERY}; this is Celery "
            f"{CELERY_VERSION}. Install a supported Celery or pin omnitenant_patch to a "
            f"release that supports yours."
        )


def django_task_class() -> Any:
    """Celery's ``DjangoTask`` (5.4+, with ``delay_on_commit``), or ``None`` on older lines."""
    try:
        from celery.contrib.django.task import DjangoTask
    except ImportError:
        return None
    return DjangoTask


def header_value(request: Any, header: str) -> Any:
    """The raw value of a custom header of a task request, or ``None`` when it has none.

    Order: ``request.headers[header]`` (Celery >= 5.3, eager), then a nested
    ``request.headers["headers"][header]`` (added by some tracing tools), then
    ``getattr(request, header)`` (Celery <= 5.2, where custom headers are attributes;
    sentry-sdk 2.53 and ddtrace leave them only there on 5.3+ too).
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


def find_app(name: str) -> Any:
    """The Celery app ``celery -A name`` would find (``"proj"``, ``"proj.celery:app"``)."""
    from celery.app.utils import find_app as celery_find_app

    return celery_find_app(name)


def set_default_queue(app: Any, queue: str) -> None:
    """Make ``queue`` the app's default queue, also where the app was configured with a
    namespace (``config_from_object(..., namespace="CELERY")``): Celery 4.4 reads the
    namespaced key (``CELERY_TASK_DEFAULT_QUEUE``) before the plain one."""
    app.conf.task_default_queue = queue
    namespace = getattr(app, "namespace", None)
    if namespace:
        app.conf[f"{namespace}_TASK_DEFAULT_QUEUE"] = queue


def route_queue(app: Any, name: str, args: Any, kwargs: Any, options: Dict[str, Any]) -> str:
    """The name of the queue Celery's router sends a publish of ``name`` with ``options`` to
    (``task_routes``, else the default queue)."""
    routed = app.amqp.router.route(dict(options), name, args or (), kwargs or {})
    queue = routed.get("queue")
    return getattr(queue, "name", queue) or app.conf.task_default_queue


def registered_task(app: Any, name: Any) -> Any:
    """The task ``app`` has registered under ``name``, or ``None`` (no finalizing, no autoload)."""
    return app._tasks.get(name)


def traced_request(task: Any) -> Any:
    """The request the tracer pushed for a top-level execution, as Celery's stack protection
    finds it; ``None`` when ``task`` is not being traced at the top of its stack."""
    stack = task.request_stack
    return stack.top if len(stack) == 1 else None


def claim_traced_call(request: Any) -> bool:
    """True (once) when ``request`` is the tracer's top-level execution, as Celery's own
    ``__protected_call__`` decides: the caller runs ``task.run`` itself, keeping the request."""
    if request is None or request._protected or request.called_directly:
        return False
    request._protected = 1
    return True


def celery_call(displaced: Any) -> Callable[..., Any]:
    """What a ``Task.__call__`` replacement defers to: what it displaced, seen through the
    worker's stack protection (which would run ``task.run`` without it)."""
    if _is_stack_protection(displaced):
        return _PROTECTION_DISPLACED[_CELERY_CALL_KEY]
    return displaced


def restore_call(ours: Any) -> None:
    """Undo the worker's stack protection over ``Task.__call__`` when what it replaced holds
    ``ours`` (alone or under other libraries' wrappers): put back exactly that."""
    current = Task.__dict__.get("__call__")
    if not _is_stack_protection(current):
        return
    replaced = _PROTECTION_DISPLACED.get(_CELERY_CALL_KEY)
    if replaced is not None and holds(replaced, ours):
        Task.__call__ = replaced  # type: ignore[method-assign]


def holds(function: Any, ours: Any) -> bool:
    """True when ``function`` is ``ours`` or wraps it (``__wrapped__`` chain, as functools.wraps
    and wrapt leave it)."""
    seen = 0
    while function is not None and seen < 50:
        if function is ours:
            return True
        function = getattr(function, "__wrapped__", None)
        seen += 1
    return False


def _is_stack_protection(function: Any) -> bool:
    return (getattr(function, "__name__", None) == "__protected_call__"
            and getattr(function, "__module__", None) == _trace.__name__)


def connect_last(signal: Any, receiver: Callable[..., Any], uid: str) -> None:
    """(Re)connect ``receiver`` after every receiver connected so far.

    Celery's Django fixup connects its ``task_prerun`` receiver when the worker starts,
    and it closes the task's database connections (4.4-5.5: unless persistent; 5.7:
    always): a tenant entered before it would be lost with the connection.
    """
    signal.disconnect(receiver, dispatch_uid=uid)
    signal.connect(receiver, weak=False, dispatch_uid=uid)


def detach_receiver(signal: Any, uid: str) -> Optional[Callable[..., Any]]:
    """Disconnect the receiver another library connected under ``dispatch_uid=uid`` (with no
    sender); return it, to connect it again later. ``None`` if there is none."""
    for key, ref in list(signal.receivers):
        if key[0] == uid:
            receiver = ref() if isinstance(ref, weakref.ref) else ref
            signal.disconnect(dispatch_uid=uid)
            return receiver
    return None
