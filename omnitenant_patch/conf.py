"""Settings: every ``OMNITENANT_CONFIG`` key with its default, read in one place.

``patch_celery()`` is called from ``settings.py`` before the rest of the
settings exist, so nothing here is read at import time: ``get_config()``
builds the effective configuration on first use and caches it until Django's
``setting_changed`` signal (``override_settings``) or a new override drops it.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, NamedTuple, Optional

from .exceptions import ImproperlyConfigured

DEFAULTS: Dict[str, Any] = {
    "TENANT_MODEL": None,  # "app_label.ModelName"; required where tenants are looked up
    "TENANT_ID_FIELD": "tenant_id",  # field the header value is looked up by
    "CELERY": {
        "AUTO_CAPTURE": True,  # fall back to TenantContext.get_tenant() at enqueue
        "HEADER": "tenant_id",  # the seed's name, so in-flight messages interoperate
        "SIGN_HEADERS": False,  # HMAC the tenant header with SECRET_KEY, bound to the task id
        "REQUIRE_TENANT": False,  # queueing (and running) a task with no tenant raises
        "ON_MISSING_TENANT": "raise",  # unknown tenant in a worker: "raise", "retry", "reject"
    },
    "CONTEXT": "auto",  # "auto", "omnitenant_patch" or "dotted.path.TenantContext" (see context.py)
    "PATCHES": {"celery": False},  # the seed's switch: AppConfig.ready() patches when true
    "CACHE": {
        "TTL": 300,  # seconds a worker keeps a looked-up tenant; 0 = look up every task
        "ALIAS": "default",  # Django cache shared by web and workers, for instant invalidation
    },
    "MIDDLEWARE": {
        "RESOLVER": "header",  # "header", "subdomain" or "dotted.path.to.callable(request)"
        "HEADER": "X-Tenant-ID",  # request header read by the "header" resolver
        "SUBDOMAIN_BASE": None,  # e.g. "example.com"; None = first label of a 3+ label host
        "ON_UNKNOWN": "404",  # "404" (Http404) or "raise" (TenantNotFound propagates)
    },
}

# patch_celery(**overrides) keyword -> (section, key) in OMNITENANT_CONFIG.
OVERRIDES = {
    "sign_headers": ("CELERY", "SIGN_HEADERS"),
    "require_tenant": ("CELERY", "REQUIRE_TENANT"),
    "on_missing_tenant": ("CELERY", "ON_MISSING_TENANT"),
    "tenant_model": (None, "TENANT_MODEL"),
    "tenant_id_field": (None, "TENANT_ID_FIELD"),
    "auto_capture": ("CELERY", "AUTO_CAPTURE"),
    "header": ("CELERY", "HEADER"),
}

# Names a custom header must not take: on Celery <= 5.2 custom headers become
# attributes of the task request, next to these.
_RESERVED_HEADERS = frozenset(
    """
    id task args kwargs retries eta expires group group_index chord chain callbacks errbacks
    root_id parent_id origin shadow timelimit argsrepr kwargsrepr lang headers reply_to
    correlation_id delivery_info hostname is_eager loglevel logfile called_directly utc
    ignore_result stamps stamped_headers replaced_task_nesting properties
    """.split()
)


class Config(NamedTuple):
    tenant_model: Optional[str]
    tenant_id_field: str
    auto_capture: bool
    header: str
    sign_headers: bool
    require_tenant: bool
    on_missing_tenant: str
    patch_on_ready: bool
    context: Optional[str]
    cache_ttl: float
    cache_alias: Optional[str]
    resolver: Any
    request_header: str
    subdomain_base: Optional[str]
    on_unknown: str


_lock = threading.Lock()
_overrides: Dict[str, Any] = {}
_cached: Optional[Config] = None


def get_config() -> Config:
    """Return the effective configuration: defaults, then settings, then overrides."""
    config = _cached
    if config is None:
        config = _load()
    return config


def set_overrides(overrides: Dict[str, Any]) -> None:
    """Record ``patch_celery(**overrides)``; unknown names are refused at once."""
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise TypeError(
            f"patch_celery() got unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(OVERRIDES))}"
        )
    global _cached
    with _lock:
        _overrides.clear()
        _overrides.update(overrides)
        _cached = None


def reset(**_: Any) -> None:
    """Drop the cached configuration (connected to Django's ``setting_changed``)."""
    global _cached
    _cached = None


def _user_settings() -> Dict[str, Any]:
    from django.conf import settings

    if not settings.configured:
        return {}
    value = getattr(settings, "OMNITENANT_CONFIG", None) or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"OMNITENANT_CONFIG must be a dict, not {type(value).__name__}"
        )
    return value


def _load() -> Config:
    global _cached
    user = _user_settings()
    sections = [k for k, v in DEFAULTS.items() if isinstance(v, dict)]
    merged: Dict[Any, Dict[str, Any]] = {
        None: {k: user.get(k, v) for k, v in DEFAULTS.items() if k not in sections}
    }
    for section in sections:
        value = user.get(section) or {}
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"OMNITENANT_CONFIG[{section!r}] must be a dict")
        merged[section] = dict(DEFAULTS[section], **value)
    with _lock:
        for name, value in _overrides.items():
            section, key = OVERRIDES[name]
            merged[section][key] = value
        config = Config(
            tenant_model=merged[None]["TENANT_MODEL"],
            tenant_id_field=merged[None]["TENANT_ID_FIELD"],
            auto_capture=merged["CELERY"]["AUTO_CAPTURE"],
            header=merged["CELERY"]["HEADER"],
            sign_headers=merged["CELERY"]["SIGN_HEADERS"],
            require_tenant=merged["CELERY"]["REQUIRE_TENANT"],
            on_missing_tenant=merged["CELERY"]["ON_MISSING_TENANT"],
            patch_on_ready=bool(merged["PATCHES"].get("celery")),
            context=merged[None]["CONTEXT"],
            cache_ttl=merged["CACHE"]["TTL"],
            cache_alias=merged["CACHE"]["ALIAS"],
            resolver=merged["MIDDLEWARE"]["RESOLVER"],
            request_header=merged["MIDDLEWARE"]["HEADER"],
            subdomain_base=merged["MIDDLEWARE"]["SUBDOMAIN_BASE"],
            on_unknown=merged["MIDDLEWARE"]["ON_UNKNOWN"],
        )
        _validate(config)
        _cached = config
    return config


def _validate(config: Config) -> None:
    if config.tenant_model is not None and (
        not isinstance(config.tenant_model, str) or config.tenant_model.count(".") != 1
    ):
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["TENANT_MODEL"] must look like "app_label.ModelName", '
            f"not {config.tenant_model!r}"
        )
    if not isinstance(config.tenant_id_field, str) or not config.tenant_id_field:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["TENANT_ID_FIELD"] must be a field name, '
            f"not {config.tenant_id_field!r}"
        )
    if isinstance(config.cache_ttl, bool) or not isinstance(config.cache_ttl, (int, float)) \
            or config.cache_ttl < 0:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["CACHE"]["TTL"] must be seconds >= 0, not {config.cache_ttl!r}'
        )
    for key in ("AUTO_CAPTURE", "SIGN_HEADERS", "REQUIRE_TENANT"):
        if not isinstance(getattr(config, key.lower()), bool):
            raise ImproperlyConfigured(
                f'OMNITENANT_CONFIG["CELERY"][{key!r}] must be True or False, '
                f"not {getattr(config, key.lower())!r}"
            )
    if config.on_missing_tenant not in ("raise", "retry", "reject"):
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["CELERY"]["ON_MISSING_TENANT"] must be "raise", "retry" or '
            f'"reject", not {config.on_missing_tenant!r}'
        )
    if config.on_unknown not in ("404", "raise"):
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["MIDDLEWARE"]["ON_UNKNOWN"] must be "404" or "raise", '
            f"not {config.on_unknown!r}"
        )
    header = config.header
    if not isinstance(header, str) or not header.isidentifier():
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["CELERY"]["HEADER"] must be a name made of letters, digits '
            f"and underscores, not {header!r}"
        )
    if header in _RESERVED_HEADERS or header.startswith("_"):
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["CELERY"]["HEADER"] = {header!r} clashes with a field of '
            f"Celery's own task request; pick another name such as 'tenant_id'"
        )


def _connect_setting_changed() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(reset, dispatch_uid="omnitenant_patch.conf.reset")


_connect_setting_changed()
