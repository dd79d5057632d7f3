"""``TenantMiddleware``: the request's tenant, in force for the view and everything it queues.

    MIDDLEWARE = [..., "omnitenant_patch.middleware.TenantMiddleware", ...]

Where a tenancy library resolves the request's tenant (django-omnitenant's resolvers,
django-tenants' ``TenantMainMiddleware``, django-pgschemas' routing, a project's own
django-multitenant middleware), this middleware comes after it and defers to it: the
library's tenant is the one AUTO_CAPTURE sees; nothing is resolved a second time.

Otherwise (the built-in backend, or your own ``TenantBackend`` whose ``resolves_requests`` is
false), ``MIDDLEWARE["RESOLVER"]`` says where the tenant comes from, and
never from something a client chooses unless the site says a proxy it trusts sets it:
``"subdomain"`` (hosts under ``SUBDOMAIN_BASE`` only), ``"header"`` (only the header named by
``TRUSTED_HEADER``), or a dotted path to ``callable(request)``. ``"auto"`` (default) takes a
tenant an earlier middleware put on ``request.tenant``, and none otherwise.

``MIDDLEWARE["AUTHORIZE"]`` names ``callable(request, tenant) -> bool``; a refused request gets
403 and nothing runs in that tenant. A request naming an unknown tenant gets 404 (or, with
``ON_UNKNOWN = "raise"``, ``TenantNotFound`` propagates): never a fallback to another tenant.
Sync and async views alike.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Callable, Optional

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.module_loading import import_string

from .backends import active_backend
from .conf import get_config
from .exceptions import ImproperlyConfigured, TenantNotFound
from .ids import tenant_id_of
from .lookup import lookup_tenant
from .telemetry import tag_tenant

try:  # asgiref >= 3.6 (Django >= 4.2)
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
except ImportError:  # pragma: no cover - Django 3.2's asgiref
    iscoroutinefunction = asyncio.iscoroutinefunction  # type: ignore[assignment]

    def markcoroutinefunction(func: Any) -> Any:
        func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
        return func

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def auto_resolver(request: Any) -> Any:
    """A tenant an earlier middleware put on ``request.tenant``; else none."""
    return getattr(request, "tenant", None)


def header_resolver(request: Any) -> Optional[str]:
    """The id in the header a trusted proxy sets (``TRUSTED_HEADER``); nothing when the site has
    not declared one: a client could send any header."""
    header = get_config().trusted_header
    if not header:
        return None
    value = request.headers.get(header)
    return value.strip() or None if value is not None else None


def subdomain_resolver(request: Any) -> Optional[str]:
    """The one DNS label left of ``SUBDOMAIN_BASE``: ``acme`` for ``acme.example.com``.

    Only hosts under the base are read (Django has checked them against ``ALLOWED_HOSTS``);
    the bare base, deeper hosts and any other host have no tenant, and so does every host
    while ``SUBDOMAIN_BASE`` is unset.
    """
    base = get_config().subdomain_base
    if not base:
        return None
    host = request.get_host().rsplit(":", 1)[0].lower().rstrip(".")
    suffix = "." + base.lower().strip(".")
    label = host[: -len(suffix)] if host.endswith(suffix) else ""
    return label if _LABEL.match(label) else None


RESOLVERS = {"auto": auto_resolver, "header": header_resolver, "subdomain": subdomain_resolver}


def _setting_callable(name: Any, key: str, what: str) -> Callable[..., Any]:
    if callable(name):
        return name
    try:
        return import_string(name)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'OMNITENANT_CONFIG["MIDDLEWARE"][{key!r}] = {name!r}: {what} ({exc})'
        ) from None


def resolve_request_tenant(request: Any) -> Any:
    """The tenant of a request: the library's, or what ``RESOLVER`` names
    (``None`` for none); an unknown id follows ``ON_UNKNOWN``."""
    backend = active_backend()
    if backend.resolves_requests:
        return backend.current()  # the library's middleware has resolved it already
    config = get_config()
    resolver = RESOLVERS.get(config.resolver) if isinstance(config.resolver, str) else None
    raw = (resolver or _setting_callable(
        config.resolver, "RESOLVER", 'use "auto", "subdomain", "header" or a dotted path to a '
        "callable(request)"))(request)
    if raw is None or backend.is_tenant(raw):
        return raw
    try:
        tenant_id = tenant_id_of(raw, what="request tenant")
    except (TypeError, ValueError) as exc:
        raise Http404(str(exc)) from None
    if tenant_id is None:
        return None
    try:
        return lookup_tenant(tenant_id, task_name="(HTTP request)")
    except TenantNotFound:
        if config.on_unknown == "raise":
            raise
        raise Http404(f"no tenant {tenant_id!r}") from None


def authorize(request: Any, tenant: Any) -> None:
    """``PermissionDenied`` (403) unless ``AUTHORIZE`` allows ``request`` into ``tenant``."""
    check = get_config().authorize
    if check is None or tenant is None:
        return
    if not _setting_callable(check, "AUTHORIZE", "a dotted path to "
                             "callable(request, tenant) -> bool")(request, tenant):
        raise PermissionDenied(f"this request may not act in tenant {tenant!r}")


class TenantMiddleware:
    """Put the request's tenant in force for the view and all it queues (``request.tenant`` too)."""

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
        backend = active_backend()
        tenant = self._admit(request, resolve_request_tenant(request))
        if backend.resolves_requests:  # the library put it in force already
            return self.get_response(request)
        with backend.use(tenant):
            return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        backend = active_backend()
        tenant = self._admit(request, await sync_to_async(resolve_request_tenant)(request))
        if backend.resolves_requests:
            return await self.get_response(request)
        with backend.use(tenant):
            return await self.get_response(request)

    @staticmethod
    def _admit(request: Any, tenant: Any) -> Any:
        """Authorize the request in ``tenant``, and make the tenant visible on it and on the
        request's telemetry."""
        authorize(request, tenant)
        if not hasattr(request, "tenant"):
            request.tenant = tenant
        if tenant is not None and get_config().telemetry:
            tag_tenant(tenant_id_of(tenant, what="request tenant") or "")
        return tenant
