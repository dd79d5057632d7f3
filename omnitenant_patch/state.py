"""Everything omnitenant_patch keeps at run time, in one object, and the one place it is reset.

``STATE`` holds the installed patch (what each patched attribute held before, the
``patch_celery()`` overrides), the resolved settings and tenancy backend, the
per-process tenant cache and a few memos. ``forget()`` drops what depends on
settings; it runs when Django's ``setting_changed`` names a setting that any of
it was read from (``watch()`` adds the ones a backend reads), and on nothing else.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Set, Tuple

if TYPE_CHECKING:
    from .backends.base import TenantBackend
    from .conf import Config

UNRESOLVED: Any = object()


class State:
    """Run-time state of this process. Attributes, not getters: the hot paths read them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # install: what each patched (owner, attribute) held before, and the overrides
        self.installed = False
        self.overrides: Dict[str, Any] = {}
        self.displaced: Dict[Tuple[type, str], Any] = {}
        self.replacements: Dict[Tuple[type, str], Any] = {}  # what we put there
        self.detached: Dict[Tuple[str, str], Any] = {}  # others' receivers set aside: (signal, uid)
        self.celery_call: Any = None  # Celery's own Task.__call__, behind any stack protection
        # install's hook, called with a backend resolved while the patch is installed: its
        # library's own Celery integration joins the patch table (backends know nothing above)
        self.adopt: Optional[Callable[[Any], None]] = None
        # resolved from settings; dropped by forget()
        self.config: Config | None = None
        self.backend: TenantBackend | None = None
        # id -> (tenant, expiry, generations, its generation's key), least recently used first,
        # at most MAX_TENANTS
        self.tenants: OrderedDict[str, Tuple[Any, float, Any, str]] = OrderedDict()
        self.shared_cache: Any = UNRESOLVED  # cache alias carrying invalidation, or None
        self.cache_down = False  # the shared cache failed and has not answered since
        self.pending_ids: Set[str] = set()  # invalidations the shared cache has not taken yet
        self.pending_all = False  # ... or one for every tenant
        self.invalidated_model: Any = None  # the model whose save/delete drops cached tenants
        self.tenant_classes: Set[type] = set()  # classes the backend said are tenants
        # memos that cannot go stale (validity of an id string, a function's signature); bounded
        self.valid_ids: Set[str] = set()
        self.takes_tenant_kwarg: Dict[Any, bool] = {}
        self.watched = {"OMNITENANT_CONFIG", "INSTALLED_APPS", "CACHES"}

    def forget(self) -> None:
        """Drop everything read from settings; it is read again on next use."""
        with self.lock:
            self.config = None
            self.backend = None
            self.tenants.clear()
            self.shared_cache = UNRESOLVED
            self.cache_down = False  # another cache, or the same one read afresh
            self.tenant_classes.clear()
            self.invalidated_model = None  # receivers stay; the next lookup connects the new model

    def watch(self, *settings: str) -> None:
        """Also forget when one of these Django settings changes (a backend reads them)."""
        self.watched.update(settings)


STATE = State()


def _on_setting_changed(setting: str = "", **_: Any) -> None:
    if setting in STATE.watched:
        STATE.forget()


def _connect_setting_changed() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_on_setting_changed, dispatch_uid="omnitenant_patch.state")


_connect_setting_changed()
