"""Settings, declared once: ``OMNITENANT_CONFIG`` keys with their defaults, allowed values and docs.

Everything else comes from ``SETTINGS``: validation, the ``patch_celery(**overrides)``
keywords, the system check that reports a wrong value, and README's settings table
(``python -m omnitenant_patch settings-table``; a test fails when README drifts).

``patch_celery()`` is called from ``settings.py`` before the rest of the settings
exist, so nothing is read at import time: ``get_config()`` builds the effective
configuration on first use and ``state`` drops it when Django's ``setting_changed``
names ``OMNITENANT_CONFIG``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from .celery_compat import REQUEST_FIELDS
from .exceptions import ImproperlyConfigured
from .state import STATE


class Setting(NamedTuple):
    """One key of ``OMNITENANT_CONFIG``."""

    key: str  # "CELERY.AUTO_CAPTURE": a section and a key, or a top-level key
    attr: str  # the attribute of Config, and the patch_celery() keyword if overridable
    default: Any
    allowed: str  # the allowed values, as README and error messages say them
    check: Callable[[Any], bool]
    doc: str
    overridable: bool = False

    @property
    def path(self) -> str:
        """How a user writes the key: ``OMNITENANT_CONFIG["CELERY"]["AUTO_CAPTURE"]``."""
        return "OMNITENANT_CONFIG" + "".join(f"[{part!r}]" for part in self.key.split("."))


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _one_of(*choices: Any) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in choices


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _model_label(value: Any) -> bool:
    return isinstance(value, str) and value.count(".") == 1 and all(value.split("."))


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _shards(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1024


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _resolver(value: Any) -> bool:
    return callable(value) or _text(value)


#: The ``PATCHES`` entry that patches Celery, in django-omnitenant's list form.
PATCH_MODULE = "omnitenant_patch.patches.celery"


def patches_celery(patches: object) -> bool:
    """True when ``OMNITENANT_CONFIG["PATCHES"]`` asks for the patch, in either form: ``{"celery":
    True}``, or django-omnitenant's list of modules it imports, naming ``PATCH_MODULE``."""
    if isinstance(patches, dict):
        return bool(patches.get("celery"))
    return isinstance(patches, (list, tuple)) and PATCH_MODULE in patches


def _patches(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items())
    return isinstance(value, (list, tuple)) and all(_text(v) for v in value)


def _header(value: Any) -> bool:
    return (isinstance(value, str) and value.isidentifier() and not value.startswith("_")
            and value not in REQUEST_FIELDS)


SETTINGS: Tuple[Setting, ...] = (
    Setting("BACKEND", "backend", "auto",
            '`"auto"`, a backend name, or a dotted path to a `TenantBackend` subclass', _text,
            "the tenancy library tasks switch with; `auto` picks the installed, configured one "
            "(django-omnitenant, django-tenants, django-pgschemas, django-multitenant), else "
            "the built-in store", overridable=True),
    Setting("TENANT_MODEL", "tenant_model", None, '`"app_label.ModelName"` or `None`',
            _optional(_model_label),
            "built-in backend: the tenant model (tenancy-library backends use their own)",
            overridable=True),
    Setting("TENANT_ID_FIELD", "tenant_id_field", "tenant_id", "a field name", _text,
            "built-in backend: the field of the tenant model a tenant id is looked up by",
            overridable=True),
    Setting("PATCHES", "patches", {"celery": False},
            '`{"celery": True}`, or django-omnitenant\'s list of patch modules',
            _patches,
            'patch from `AppConfig.ready()`: `{"celery": True}` without django-omnitenant, '
            '`["omnitenant_patch.patches.celery"]` with it'),
    Setting("CELERY.AUTO_CAPTURE", "auto_capture", True, "`True`, `False`", _bool,
            "capture the current tenant when a task is queued without one", overridable=True),
    Setting("CELERY.HEADER", "header", "tenant_id",
            "a Python identifier, not a Celery request field", _header,
            "the message header the tenant id travels in", overridable=True),
    Setting("CELERY.SIGN_HEADERS", "sign_headers", False, "`True`, `False`", _bool,
            "sign the tenant header (HMAC with `SECRET_KEY`, bound to the task id); workers "
            "refuse unsigned or forged ones", overridable=True),
    Setting("CELERY.REQUIRE_TENANT", "require_tenant", False, "`True`, `False`", _bool,
            "refuse to queue, and to run, a task with no tenant unless it is tenant-agnostic",
            overridable=True),
    Setting("CELERY.ON_MISSING_TENANT", "on_missing_tenant", "raise",
            '`"raise"`, `"retry"`, `"reject"`', _one_of("raise", "retry", "reject"),
            "what a worker does with a task whose tenant does not exist", overridable=True),
    Setting("CELERY.FAIR_SHARDS", "fair_shards", 0, "an integer ≥ 0", _shards,
            "publishers: a task with a tenant goes to one of this many shard queues of its queue "
            "(by its tenant), so one tenant's flood waits in its own shard; `0`: off"),
    Setting("CELERY.CONSUME_SHARDS", "consume_shards", None, "an integer ≥ 0 or `None`",
            _optional(_shards),
            "workers: also consume this many shards of each queue they consume; `None`: "
            "`FAIR_SHARDS` (deploy workers first; keep it while shards drain after turning off)"),
    Setting("TELEMETRY", "telemetry", True, "`True`, `False`", _bool,
            "put `tenant.id` on the task's span and sentry scope (OpenTelemetry, ddtrace, "
            "sentry-sdk) and on the request's, where the site uses them"),
    Setting("CACHE.TTL", "cache_ttl", 300, "seconds ≥ 0", _seconds,
            "how long a worker keeps a looked-up tenant; `0` looks it up for every task"),
    Setting("CACHE.MAX_TENANTS", "max_tenants", 10_000, "an integer ≥ 1", _count,
            "how many looked-up tenants a process keeps at most; the least recently used goes "
            "first (about 1 KB each)"),
    Setting("CACHE.ALIAS", "cache_alias", "default", "a `CACHES` alias or `None`",
            _optional(_text),
            "the Django cache that carries tenant invalidation between processes"),
    Setting("MIDDLEWARE.RESOLVER", "resolver", "auto",
            '`"auto"`, `"subdomain"`, `"header"`, or a dotted path to `callable(request)`',
            _resolver,
            "where `TenantMiddleware` finds the request's tenant (built-in or custom backend); "
            "`auto`: a tenant an earlier middleware set on `request.tenant`, else none (a "
            "tenancy library's middleware always decides for it)"),
    Setting("MIDDLEWARE.TRUSTED_HEADER", "trusted_header", None,
            'an HTTP header name, e.g. `"X-Tenant-ID"`, or `None`', _optional(_text),
            'the request header a proxy you trust sets (overwriting any a client sent); the '
            '`"header"` resolver reads this one only, and nothing while it is `None`'),
    Setting("MIDDLEWARE.SUBDOMAIN_BASE", "subdomain_base", None, '`"example.com"` or `None`',
            _optional(_text),
            '`"subdomain"` resolver: the tenant id is the one label left of this base; no host '
            "has a tenant while it is `None`"),
    Setting("MIDDLEWARE.AUTHORIZE", "authorize", None,
            "a dotted path to `callable(request, tenant) -> bool`, or `None`",
            _optional(_resolver),
            "may this request act in this tenant? refused: 403, and nothing runs in it"),
    Setting("MIDDLEWARE.ON_UNKNOWN", "on_unknown", "404", '`"404"`, `"raise"`',
            _one_of("404", "raise"),
            "a request naming an unknown tenant gets a 404, or `TenantNotFound` propagates"))

#: Keys earlier releases read, and what replaced them (system check omnitenant.W009).
OBSOLETE = {
    "CONTEXT": 'the tenancy library is chosen by OMNITENANT_CONFIG["BACKEND"]',
    "MIDDLEWARE.HEADER": 'a request header is read only when a proxy you trust sets it: '
                         '"MIDDLEWARE": {"RESOLVER": "header", "TRUSTED_HEADER": "X-Tenant-ID"}',
}

OVERRIDES: Dict[str, Setting] = {s.attr: s for s in SETTINGS if s.overridable}
SECTIONS = sorted({s.key.split(".")[0] for s in SETTINGS if "." in s.key})


class Config:
    """The effective settings: one attribute per declaration (``config.auto_capture``)."""

    def __init__(self, values: Dict[str, Any]) -> None:
        self.__dict__.update(values)

    if TYPE_CHECKING:  # the attributes come from SETTINGS

        def __getattr__(self, name: str) -> Any: ...


def get_config() -> Config:
    """The effective configuration: defaults, then ``OMNITENANT_CONFIG``, then overrides."""
    config = STATE.config
    if config is None:
        config = STATE.config = load(user_settings(), STATE.overrides)
    return config


def user_settings() -> Dict[str, Any]:
    """``settings.OMNITENANT_CONFIG``, or ``{}`` while Django's settings are not configured."""
    from django.conf import settings

    if not settings.configured:
        return {}
    value = getattr(settings, "OMNITENANT_CONFIG", None) or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"OMNITENANT_CONFIG must be a dict, not {type(value).__name__}")
    return value


def load(user: Dict[str, Any], overrides: Dict[str, Any]) -> Config:
    """Build a ``Config``; raise ``ImproperlyConfigured`` naming the first wrong value."""
    errors = problems(user, overrides)
    if errors:
        raise ImproperlyConfigured(errors[0])
    return Config({s.attr: overrides.get(s.attr, _given(user, s)) for s in SETTINGS})


def problems(user: Dict[str, Any], overrides: Optional[Dict[str, Any]] = None) -> List[str]:
    """Every wrong value, as a sentence naming the key, what it holds and what it may hold."""
    found = []
    for section in SECTIONS:
        if not isinstance(user.get(section) or {}, dict):
            found.append(f"OMNITENANT_CONFIG[{section!r}] must be a dict, "
                         f"not {type(user[section]).__name__}")
    if found:
        return found
    for setting in SETTINGS:
        value = (overrides or {}).get(setting.attr, _given(user, setting))
        if not setting.check(value):
            found.append(f"{setting.path} must be {_plain(setting.allowed)}, not {value!r}")
    return found


def check_overrides(overrides: Dict[str, Any]) -> None:
    """Refuse ``patch_celery()`` keywords that name no overridable setting."""
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise TypeError(
            f"patch_celery() got unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(OVERRIDES))}"
        )


def _given(user: Dict[str, Any], setting: Setting) -> Any:
    section, _, key = setting.key.rpartition(".")
    where = (user.get(section) or {}) if section else user
    return where.get(key, setting.default)


def given_keys(user: Dict[str, Any]) -> List[str]:
    """The keys ``OMNITENANT_CONFIG`` sets, dotted (``"MIDDLEWARE.RESOLVER"``)."""
    keys = []
    for key, value in user.items():
        if key in SECTIONS and isinstance(value, dict):
            keys += [f"{key}.{inner}" for inner in value]
        else:
            keys.append(key)
    return keys


def _plain(markdown: str) -> str:
    return markdown.replace("`", "")


def settings_table() -> str:
    """README's settings table, in Markdown."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        override = f" (`patch_celery({s.attr}=...)`)" if s.overridable else ""
        default = repr(s.default).replace("'", '"')
        lines.append(f"| `{s.key}` | `{default}` | {s.allowed} | {s.doc}{override} |")
    return "\n".join(lines)
