"""The tenant on telemetry, with nothing to configure: ``tenant.id`` on the task's run span
(OpenTelemetry attribute, ddtrace tag) and on sentry-sdk's scope for the task (a tag, so errors
and transactions can be filtered by customer); the same for a request through ``TenantMiddleware``.

Only libraries the site has already imported are looked at (``sys.modules``): none of them is
imported here, and none is a dependency. ``OMNITENANT_CONFIG["TELEMETRY"] = False`` turns it off.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

#: The attribute / tag name, the same in every integration.
TAG = "tenant.id"


def tag_tenant(tenant_id: Optional[str]) -> None:
    """Put ``tenant_id`` on the current span and sentry scope of every integration in use.
    ``None`` (a task with no tenant) takes it off sentry's scope, which a task inherits from
    whoever queued it (the spans of the other integrations are the task's own)."""
    modules = sys.modules
    sentry = modules.get("sentry_sdk")
    if sentry is not None:
        _sentry(sentry, tenant_id)
    if tenant_id is None:
        return
    otel = modules.get("opentelemetry.trace")
    if otel is not None:
        span = otel.get_current_span()
        if span.is_recording():
            span.set_attribute(TAG, tenant_id)
    if "ddtrace" in modules:
        _ddtrace(modules, tenant_id)


def _sentry(sentry: Any, tenant_id: Optional[str]) -> None:
    get_client = getattr(sentry, "get_client", None)  # sentry-sdk 2.x
    active = get_client().is_active() if get_client is not None else (
        sentry.Hub.current.client is not None)
    if not active:
        return
    if tenant_id is not None:
        sentry.set_tag(TAG, tenant_id)
    elif get_client is not None:
        sentry.get_isolation_scope().remove_tag(TAG)
    else:  # sentry-sdk 1.x
        sentry.Hub.current.scope.remove_tag(TAG)


def _ddtrace(modules: Any, tenant_id: str) -> None:
    tracer = getattr(modules.get("ddtrace.trace"), "tracer", None) or getattr(
        modules["ddtrace"], "tracer", None)
    span = tracer.current_span() if tracer is not None else None
    if span is not None:
        span.set_tag(TAG, tenant_id)
