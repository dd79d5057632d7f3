"""Queue one task per tenant: ``for_each_tenant``, and the fan-out task a worker runs for a publish
that names ``tenants`` (a beat entry for every tenant queues one message; a worker fans it out).

Tenants are read in chunks and published over one producer connection, so memory stays flat
however many there are. With ``spread``, each tenant's task waits its stable offset; offsets
beyond ``WINDOW`` seconds are reached by one fan-out task per window, published with the window's
countdown, so no message waits in a worker (or past a broker's visibility timeout) for long.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional

from celery import shared_task

from .backends import active_backend
from .periodic import (
    ALL,
    FAN_OUT_TASK,
    checked_spread,
    checked_tenants,
    fan_out_message,
    ids_of,
    offset,
    resolve,
)

#: The longest countdown a tenant's message gets; later offsets wait in a window's fan-out task.
WINDOW = 60.0


def for_each_tenant(signature: Any, tenants: Optional[Iterable[Any]] = None,
                    spread: Optional[float] = None) -> int:
    """Queue ``signature`` once per tenant, each in its tenant; return how many were queued.

    ``tenants``: every tenant of the backend (default, read in chunks), an iterable of tenants
    or ids (a queryset is read as it goes), or a dotted path to a callable returning them.
    ``spread``: seconds; each tenant's task starts at a stable offset in ``[0, spread)``
    derived from its id. For a periodic fan-out, name the tenants on the beat entry instead
    (``"options": {"tenants": "__all__", "spread": 600}``), or call this from a task::

        @shared_task
        def nightly_reports():
            for_each_tenant(build_report.s(kind="daily"), spread=3600)
    """
    spread = checked_spread(spread)
    if tenants is None or isinstance(tenants, str):
        spec: Any = ALL if tenants is None else checked_tenants(tenants)
    elif spread > WINDOW:  # the windows' fan-out tasks carry the ids
        spec = list(ids_of(tenants))
    else:
        spec = None  # an iterable of the caller's: read as it goes, never listed
    app = signature.app
    message = _message(signature)
    if spread > WINDOW:
        return _queue_windows(app, message, spec, spread)
    ids = resolve(spec, active_backend()) if spec is not None else ids_of(tenants or ())
    return _queue(app, message, ids, spread, window=None)


@shared_task(name=FAN_OUT_TASK, tenant_agnostic=True, ignore_result=True)  # type: ignore[call-overload]
def fan_out(message: Dict[str, Any], tenants: Any, spread: float = 0.0,
            window: Optional[int] = None) -> int:
    """Queue ``message`` (task, args, kwargs, options) once per tenant ``tenants`` names; with
    ``window``, only the tenants whose offset falls in that window of ``WINDOW`` seconds."""
    from celery import current_app

    if spread > WINDOW and window is None:
        return _queue_windows(current_app, message, tenants, spread)
    return _queue(current_app, message, resolve(tenants, active_backend()), spread, window)


def _message(signature: Any) -> Dict[str, Any]:
    options = dict(signature.options)
    return fan_out_message(signature.task, signature.args, signature.kwargs, options, ALL,
                           0.0)["message"]


def _queue(app: Any, message: Dict[str, Any], ids: Iterable[str], spread: float,
           window: Optional[int]) -> int:
    """Publish the message once per tenant id, over one producer; the count."""
    options = dict(message["options"])
    options.pop("tenant_id", None)
    # Not a child of the fan-out (Celery's trail would keep every result in memory); and, as
    # the task itself would, no result subscription when it ignores its result.
    options["add_to_parent"] = False
    task = app.tasks.get(message["task"])
    if task is not None and "ignore_result" not in options:
        options["ignore_result"] = task.ignore_result
    queued = 0
    with app.producer_or_acquire(None) as producer:
        for tenant_id in ids:
            start = offset(tenant_id, spread)
            if window is not None:
                if int(start // WINDOW) != window:
                    continue
                start -= window * WINDOW
            app.send_task(message["task"], message["args"], message["kwargs"],
                          tenant_id=tenant_id, countdown=start or None, producer=producer,
                          **options)
            queued += 1
    return queued


def _queue_windows(app: Any, message: Dict[str, Any], spec: Any, spread: float) -> int:
    """One fan-out task per window of ``WINDOW`` seconds in ``[0, spread)``, each published with
    its window's countdown; the number of windows."""
    routing = {k: v for k, v in message["options"].items()
               if k in ("queue", "exchange", "routing_key", "priority")}
    windows = math.ceil(spread / WINDOW)
    with app.producer_or_acquire(None) as producer:
        for window in range(windows):
            app.send_task(FAN_OUT_TASK, (), {"message": message, "tenants": spec,
                                             "spread": spread, "window": window},
                          tenant_id=None, countdown=window * WINDOW or None, producer=producer,
                          add_to_parent=False, **routing)
    return windows
