"""Tenant ids: what a ``tenant_id=`` value may be, and the id string it becomes.

A tenant id travels as a plain, bounded, printable string. Callers may give a
``str``, an ``int``, a tenant instance of the active backend (its ``id_of`` says
which string), or ``None`` for "no tenant". Bad values raise ``TypeError`` /
``ValueError`` naming them, before anything is published.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

from .exceptions import InvalidTenantHeader
from .state import STATE

#: The apply_async()/send_task() option and task kwarg, whatever the header is called.
OPTION = "tenant_id"

MAX_TENANT_ID_LENGTH = 255
_MEMO_SIZE = 10_000  # bounds the memo of valid ids for projects with unbounded ids


def tenant_id_of(value: Any, *, what: str = "tenant_id") -> Optional[str]:
    """Return the header value for ``value``: a non-empty id string, or ``None`` for "no tenant".

    Runs on every publish: an id or a tenant class seen before costs a set lookup.

    >>> tenant_id_of("acme"), tenant_id_of(42), tenant_id_of(None)
    ('acme', '42', None)
    """
    if value is None:
        return None
    cls = value.__class__
    if cls is str:
        return value if value in STATE.valid_ids or is_tenant_id(value) else _checked(value, what)
    if cls in STATE.tenant_classes:
        backend = STATE.backend or _backend()
        attribute = backend.id_attribute
        raw = backend.id_of(value) if attribute is None else getattr(value, attribute)
        if raw.__class__ is str and raw in STATE.valid_ids:
            return raw
        return _checked_id(raw, value, what)
    return _id_of_other(value, what)


def is_tenant_id(value: Any) -> bool:
    """True for what a tenant header may hold: a non-empty printable ``str`` of at most
    ``MAX_TENANT_ID_LENGTH`` characters, not all blank."""
    if value.__class__ is not str:
        return False
    if value in STATE.valid_ids:
        return True
    if 0 < len(value) <= MAX_TENANT_ID_LENGTH and value.isprintable() and not value.isspace():
        if len(STATE.valid_ids) < _MEMO_SIZE:
            STATE.valid_ids.add(value)
        return True
    return False


def valid_header_value(value: Any, header: str, task_name: str) -> str:
    """A tenant header as it arrived in a worker, checked: ``InvalidTenantHeader`` otherwise."""
    if value.__class__ is int:
        value = str(value)
    if not is_tenant_id(value):
        raise InvalidTenantHeader(
            f"header {header!r} on task {task_name} is {str(value)[:60]!r} "
            f"({type(value).__name__}); a tenant id is a non-empty printable string of at most "
            f"{MAX_TENANT_ID_LENGTH} characters"
        )
    return value


def takes_tenant_kwarg(task: Any) -> bool:
    """True when the task's own ``run`` declares a ``tenant_id`` parameter (memoized per
    function)."""
    run = getattr(type(task), "run", None)
    try:
        return STATE.takes_tenant_kwarg[run]
    except KeyError:
        pass
    except TypeError:  # an unhashable run: do not memoize
        return _declares_tenant_id(task)
    declared = STATE.takes_tenant_kwarg[run] = _declares_tenant_id(task)
    return declared


def without_option(kwargs: dict) -> dict:
    """A copy of task kwargs without ``tenant_id`` (the caller's dict is never written)."""
    return {k: v for k, v in kwargs.items() if k != OPTION}


def _declares_tenant_id(task: Any) -> bool:
    try:
        parameter = inspect.signature(task.run).parameters.get(OPTION)
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def _backend() -> Any:
    from .backends import active_backend  # backends import ids: resolved at call time

    return STATE.backend or active_backend()


def _id_of_other(value: Any, what: str) -> Optional[str]:
    cls = value.__class__
    if cls is int:
        return str(value)
    if isinstance(value, bool):
        raise TypeError(f"{what}={value!r} (bool) is not a tenant: pass a tenant id, a tenant "
                        f"or None")
    backend = _backend()
    if backend.is_tenant(value):
        tenant_id = _checked_id(backend.id_of(value), value, what)
        STATE.tenant_classes.add(cls)
        return tenant_id
    if isinstance(value, str):
        return _checked(str(value), what)
    if isinstance(value, int):
        return str(int(value))
    raise TypeError(
        f"{what}={value!r} ({type(value).__name__}) is not a tenant: pass a non-empty str, an "
        f"int, a tenant of {backend.describe()}, or None"
    )


def _checked_id(raw: Any, tenant: Any, what: str) -> str:
    if raw.__class__ is str and raw in STATE.valid_ids:
        return raw
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ValueError(f"{what}: tenant {tenant!r} has the id {raw!r}; a tenant id must be a "
                         f"non-empty str or an int")
    raw = str(raw)
    return raw if is_tenant_id(raw) else _checked(raw, what)


def _checked(value: str, what: str) -> str:
    if not value.isprintable():
        raise ValueError(f"{what}={value[:40]!r} holds control characters; tenant ids cannot")
    if not value.strip():
        raise ValueError(f"{what}={value!r} is empty; pass a tenant id or None for no tenant")
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise ValueError(
            f"{what}={value[:40]!r}... is {len(value)} characters long; "
            f"tenant ids are at most {MAX_TENANT_ID_LENGTH}"
        )
    return value
