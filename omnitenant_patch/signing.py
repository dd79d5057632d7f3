"""Signed tenant headers (``OMNITENANT_CONFIG["CELERY"]["SIGN_HEADERS"] = True``).

Whoever can publish to the broker can otherwise run any task as any tenant.
With signing on, the patch writes ``<HEADER>_sig`` beside the tenant header: an
HMAC (Django's ``signing`` with ``SECRET_KEY``, salted) over the task id and the
tenant id, so a signature cannot be moved to another message or another
tenant. The worker refuses a message whose tenant header is unsigned or wrongly
signed: the task fails with ``TenantSignatureError`` and its body never runs.
Keys in ``SECRET_KEY_FALLBACKS`` (Django >= 4.1) still verify, so ``SECRET_KEY``
can be rotated without failing messages already queued.
"""

from __future__ import annotations

import hmac
from typing import Any, List

from django.conf import settings
from django.core.signing import Signer

SALT = "omnitenant_patch.tenant-header"


def signature_header(header: str) -> str:
    return f"{header}_sig"


def _value(task_id: str, tenant_id: str) -> str:
    return f"{task_id}\x1f{tenant_id}"


def sign(task_id: str, tenant_id: str) -> str:
    """The signature of ``tenant_id`` for the message ``task_id``, with ``SECRET_KEY``."""
    return Signer(salt=SALT).signature(_value(task_id, tenant_id))


def verify(task_id: Any, tenant_id: str, signature: Any) -> bool:
    """True when ``signature`` was made for this task id and tenant by a current or
    fallback ``SECRET_KEY``."""
    if not isinstance(signature, str) or not isinstance(task_id, str) or not signature:
        return False
    value = _value(task_id, tenant_id)
    keys: List[Any] = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(
        hmac.compare_digest(Signer(key=key, salt=SALT).signature(value), signature)
        for key in keys
    )
