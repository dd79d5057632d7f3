"""Which tenants a periodic entry (or any publish) runs in: its tenant keys.

- ``tenant_id``: one tenant, the option every publish takes;
- ``tenants``: ``"__all__"`` (every tenant of the backend), a list of tenant ids or tenants, or
  a dotted path to a callable returning the tenants to run in (a readiness filter: tenants still
  being created or migrated are left out);
- ``spread``: seconds; each tenant's run starts at a stable offset in ``[0, spread)`` derived
  from its id, the same every period;
- tenant-schemas-celery's top-level ``tenant_schemas`` entry key: read as ``tenants``.

Celery's schedulers hand an entry's options to ``apply_async`` as they are; django-celery-beat
keeps only some options of an entry (``headers`` among them), so ``fold`` moves the tenant keys
into the headers, where rows edited in its admin carry them too. ``take_fan_out`` finds them in
either place when a task is published.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from django.utils.module_loading import import_string

from .conf import get_config
from .ids import OPTION, tenant_id_of
from .state import STATE

#: ``tenants`` for every tenant of the backend.
ALL = "__all__"
#: The registered name of the task a worker runs to fan a publish out (``fanout.fan_out``).
FAN_OUT_TASK = "omnitenant_patch.fan_out"
#: Options that belong to the fan-out message alone, never to the tenants' messages.
FAN_OUT_ONLY = ("task_id", "countdown", "eta", "producer", "connection", "add_to_parent",
                "result_cls", "router", "publisher", "task_type", "name", "args", "kwargs")
TENANTS, SPREAD = "tenants", "spread"
#: tenant-schemas-celery's entry key (top level of a ``CELERY_BEAT_SCHEDULE`` entry).
TENANT_SCHEMAS = "tenant_schemas"

Spec = Union[str, List[str]]  # ALL, a dotted path, or tenant ids


def checked_tenants(value: Any, *, what: str = "tenants") -> Spec:
    """The ``tenants`` value as it travels: ``"__all__"``, a dotted path to a callable, or a list
    of tenant ids (tenants given as instances become their ids). ``TypeError``/``ValueError``
    naming the value otherwise, before anything is published."""
    if value == ALL:
        return ALL
    if isinstance(value, str):
        if "." not in value:
            raise ValueError(f'{what}={value!r}: use "{ALL}", a list of tenant ids, or a dotted '
                             f"path to a callable returning the tenants")
        try:
            target = import_string(value)
        except ImportError as exc:
            raise ValueError(f"{what}={value!r} cannot be imported: {exc}") from None
        if not callable(target):
            raise TypeError(f"{what}={value!r} is not callable")
        return value
    if callable(value):
        path = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
        if "<" in path or not _imports_as(path, value):
            raise TypeError(f"{what}={value!r}: a callable must be importable by its dotted path "
                            f"(a module-level function), so that a worker can call it")
        return path
    if isinstance(value, (list, tuple, set, frozenset)):
        ids = [tenant_id_of(item, what=f"{what}[{i}]") for i, item in enumerate(value)]
        if any(i is None for i in ids):
            raise ValueError(f"{what} holds None; list tenants, or leave the key out to run once "
                             f"with no tenant")
        return ids  # type: ignore[return-value]
    raise TypeError(f"{what}={value!r} ({type(value).__name__}): use \"{ALL}\", a list of "
                    f"tenant ids, or a dotted path to a callable returning the tenants")


def checked_spread(value: Any, *, what: str = "spread") -> float:
    """``spread`` in seconds (``None``: 0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{what}={value!r}: a number of seconds >= 0")
    return float(value)


def offset(tenant_id: str, spread: float) -> float:
    """This tenant's start offset in ``[0, spread)``: a stable hash of its id, the same in every
    process and every period."""
    if not spread:
        return 0.0
    digest = hashlib.blake2b(tenant_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64 * spread


def take_fan_out(options: Dict[str, Any]) -> Optional[Tuple[Optional[Spec], float]]:
    """Take ``tenants``/``spread`` out of a publish's options and its headers (copied, never
    written), checked; ``None`` when it carries neither (the common publish, kept cheap)."""
    headers = options.get("headers") or {}
    in_headers = TENANTS in headers or SPREAD in headers
    if TENANTS not in options and SPREAD not in options and not in_headers:
        return None
    tenants = options.pop(TENANTS, None)
    spread = options.pop(SPREAD, None)
    if in_headers:
        headers = dict(headers)
        tenants = headers.pop(TENANTS, tenants)
        spread = headers.pop(SPREAD, spread)
        options["headers"] = headers
    return (None if tenants is None else checked_tenants(tenants)), checked_spread(spread)


def fan_out_message(name: str, args: Any, kwargs: Any, options: Dict[str, Any], tenants: Any,
                    spread: float) -> Dict[str, Any]:
    """The keyword arguments of the fan-out task for a publish of ``name`` that names
    ``tenants``: the message each tenant gets (task, args, kwargs, options), and whom."""
    per_tenant = {k: v for k, v in options.items() if k not in FAN_OUT_ONLY}
    return {"message": {"task": name, "args": list(args or ()), "kwargs": dict(kwargs or {}),
                        "options": per_tenant},
            "tenants": ALL if tenants is None else tenants, "spread": spread}


def resolve(spec: Spec, backend: Any) -> Iterable[str]:
    """The tenant ids ``spec`` names, streamed: every tenant in chunks, a callable's result as
    it yields them, or the listed ids."""
    if spec == ALL:
        return backend.tenant_ids()
    if isinstance(spec, str):
        return ids_of(import_string(spec)(), what=f"tenants={spec!r}")
    return spec


def ids_of(tenants: Iterable[Any], what: str = "tenants") -> Iterable[str]:
    """Tenant ids of an iterable of tenants or ids, lazily (a queryset is read as it goes)."""
    iterator = getattr(tenants, "iterator", None)  # a queryset: in chunks, not all at once
    for tenant in (iterator(chunk_size=1000) if callable(iterator) else tenants):
        tenant_id = tenant_id_of(tenant, what=what)
        if tenant_id is not None:
            yield tenant_id


def fold(options: Optional[Mapping[str, Any]], header: str) -> Dict[str, Any]:
    """An entry's options with its tenant keys moved into ``headers`` (``tenant_id`` as the
    tenant header, checked), for schedulers that keep headers and drop other options."""
    options = dict(options or {})
    keys = [k for k in (OPTION, TENANTS, SPREAD) if k in options]
    if not keys:
        return options
    headers = dict(options.get("headers") or {})
    if OPTION in options:
        headers[header] = tenant_id_of(options.pop(OPTION))
    if TENANTS in options:
        headers[TENANTS] = checked_tenants(options.pop(TENANTS))
    if SPREAD in options:
        headers[SPREAD] = checked_spread(options.pop(SPREAD))
    options["headers"] = headers
    return options


def unpack_options(cls: type, **options: Any) -> Any:
    """django-celery-beat's ``ModelEntry._unpack_options`` (an entry of ``CELERY_BEAT_SCHEDULE``
    made a row), which keeps ``headers`` and five other options and drops the rest: the tenant
    keys go into the headers first."""
    displaced = next(STATE.displaced[klass, UNPACK] for klass in cls.__mro__
                     if (klass, UNPACK) in STATE.displaced)
    if STATE.installed:
        options = fold(options, (STATE.config or get_config()).header)
    return displaced.__get__(None, cls)(**options)


UNPACK = "_unpack_options"
#: What ``install`` puts in place of django-celery-beat's ``ModelEntry._unpack_options``.
UNPACK_OPTIONS: Any = classmethod(unpack_options)


def normalized_schedule(schedule: Mapping[str, Any]) -> Dict[str, Any]:
    """``CELERY_BEAT_SCHEDULE`` with each entry's top-level ``tenant_schemas`` (tenant-schemas-
    celery's key) moved into its options as ``tenants``, which every scheduler passes on; the
    mapping given is not written."""
    normalized = {}
    for name, entry in schedule.items():
        if isinstance(entry, Mapping) and TENANT_SCHEMAS in entry:
            entry = dict(entry)
            schemas = entry.pop(TENANT_SCHEMAS)
            entry["options"] = dict(entry.get("options") or {}, tenants=checked_tenants(
                schemas, what=f"{name}: tenant_schemas"))
        normalized[name] = entry
    return normalized


def entry_problems(schedule: Mapping[str, Any]) -> List[str]:
    """What is wrong with the tenant keys of a beat schedule's entries, one sentence each."""
    found = []
    for name, entry in (schedule or {}).items():
        if not isinstance(entry, Mapping):
            continue
        options = entry.get("options") or {}
        sources = [(options, f"entry {name!r}: options"),
                   (options.get("headers") or {}, f"entry {name!r}: headers")]
        if TENANT_SCHEMAS in entry:
            sources.append(({TENANTS: entry[TENANT_SCHEMAS]}, f"entry {name!r}: tenant_schemas"))
        for where, label in sources:
            try:
                if TENANTS in where:
                    checked_tenants(where[TENANTS], what=f"{label}[{TENANTS!r}]")
                if SPREAD in where:
                    checked_spread(where[SPREAD], what=f"{label}[{SPREAD!r}]")
                if where is options and OPTION in where:
                    tenant_id_of(where[OPTION], what=f"{label}[{OPTION!r}]")
            except (TypeError, ValueError) as exc:
                found.append(str(exc))
    return found


def _imports_as(path: str, value: Any) -> bool:
    try:
        return import_string(path) is value
    except ImportError:
        return False


def carried_problems(schedule: Mapping[str, Any], made: Mapping[str, Any]) -> List[str]:
    """What is wrong with a beat schedule as a scheduler made it: an entry's tenant keys are
    wrong, or the scheduler's entry lost them (they are in neither its options nor its headers):
    that entry would run in no tenant."""
    found = entry_problems(schedule)
    header = get_config().header
    for name, entry in (schedule or {}).items():
        if not isinstance(entry, Mapping) or name not in made:
            continue
        options = entry.get("options") or {}
        wanted = {key: key for key in (TENANTS, SPREAD) if key in options}
        if OPTION in options:
            wanted[OPTION] = header
        if TENANT_SCHEMAS in entry:
            wanted[TENANT_SCHEMAS] = TENANTS
        kept = dict(getattr(made[name], "options", None) or {})
        carried = {*kept, *(kept.get("headers") or {})}
        lost = [key for key, where in wanted.items() if where not in carried and key not in kept]
        if lost:
            found.append(f"entry {name!r}: the scheduler dropped its {', '.join(lost)}, so it "
                         f"would run in no tenant (omnitenant_patch.beat's schedulers keep them)")
    return found
