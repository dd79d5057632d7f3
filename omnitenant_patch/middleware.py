"""``TenantMiddleware``: resolve the request's tenant and enter it for the whole request.

    MIDDLEWARE = [..., "omnitenant_patch.middleware.TenantMiddleware", ...]

Sync and async views alike. A request that names no tenant runs with none; a
request that names an unknown tenant gets a 404 (or, with
``MIDDLEWARE["ON_UNKNOWN"] = "raise"``, ``TenantNotFound`` propagates) — never
a silent fallback to another tenant.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from asgiref.sync import sync_to_async
from django.http import Http404
from django.utils.module_loading import import_string

from .conf import get_config
from .context import TenantContext
from .exceptions import ImproperlyConfigured, TenantNotFound
from .ids import tenant_id_of
from .lookup import lookup_tenant

try:  # asgiref >= 3.6 (Django >= 4.2)
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
except ImportError:  # pragma: no cover - Django 3.2's asgiref
    iscoroutinefunction = asyncio.iscoroutinefunction

    def markcoroutinefunction(func: Any) -> Any:
        func._is_coroutine = asyncio.coroutines._is_coroutine
        return func


def header_resolver(request: Any) -> Optional[str]:
    """The tenant id in the request header ``MIDDLEWARE["HEADER"]`` (default ``X-Tenant-ID``)."""
    value = request.headers.get(get_config().request_header)
    return value.strip() or None if value is not None else None


def subdomain_resolver(request: Any) -> Optional[str]:
    """The subdomain: ``acme`` for ``acme.example.com``.

    With ``MIDDLEWARE["SUBDOMAIN_BASE"] = "example.com"`` everything left of the
    base is the id and the bare base has no tenant; without it, the first label
    of a host with three or more labels.
    """
    host = request.get_host().split(":")[0].lower().rstrip(".")
    base = get_config().subdomain_base
    if base:
        base = base.lower().lstrip(".")
        if host == base or not host.endswith("." + base):
            return None
        return host[: -len(base) - 1] or None
    labels = host.split(".")
    return labels[0] if len(labels) >= 3 and not host.replace(".", "").isdigit() else None


RESOLVERS = {"header": header_resolver, "subdomain": subdomain_resolver}


def _resolver() -> Callable[[Any], Any]:
    name = get_config().resolver
    if callable(name):
        return name
    if name in RESOLVERS:
        return RESOLVERS[name]
    try:
        return import_string(name)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["MIDDLEWARE"]["RESOLVER"] = {name!r}: use "header", '
            f'"subdomain" or a dotted path to a callable(request) ({exc})'
        ) from None


def resolve_request_tenant(request: Any) -> Any:
    """The tenant a request names (``None`` for none); unknown ids follow ``ON_UNKNOWN``."""
    raw = _resolver()(request)
    try:
        tenant_id = tenant_id_of(raw, what="request tenant")
    except (TypeError, ValueError) as exc:
        raise Http404(str(exc)) from None
    if tenant_id is None:
        return None
    try:
        return lookup_tenant(tenant_id, task_name="(HTTP request)")
    except TenantNotFound:
        if get_config().on_unknown == "raise":
            raise
        raise Http404(f"no tenant {tenant_id!r}") from None


class TenantMiddleware:
    """Enter the request's tenant (``request.tenant`` too) for the view and all it queues."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._is_async:
            return self.__acall__(request)
        tenant = resolve_request_tenant(request)
        request.tenant = tenant
        with TenantContext.use_tenant(tenant):
            return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        tenant = await sync_to_async(resolve_request_tenant)(request)
        request.tenant = tenant
        with TenantContext.use_tenant(tenant):
            return await self.get_response(request)
