"""Celery versions: the supported range, declared once, and what differs between lines.

The differences the patch meets are handled the same way on every line, so no
code branches on the version: custom headers surface as request attributes on
<= 5.2 and in ``request.headers`` from 5.3 (celery#7555), so ``header_value``
reads both; ``Task.retry`` drops custom headers before 5.3 (celery#4875, #7523),
so retries inherit the running task's tenant; ``Task.push_request`` replaces the
request up to 5.4, so a traced task's ``__call__`` runs ``self.run`` itself.
Only features that exist on some lines are looked up here (``DjangoTask``, 5.4+).
"""

from __future__ import annotations

import celery
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .exceptions import UnsupportedCeleryVersion

#: The Celery range this library is proven on (see compat_matrix/).
SUPPORTED_CELERY = SpecifierSet(">=4.4,<6")

CELERY_VERSION = Version(celery.__version__)

def django_task_class():
    """Celery's ``DjangoTask`` (5.4+, with ``delay_on_commit``), or ``None`` on older lines."""
    try:
        from celery.contrib.django.task import DjangoTask
    except ImportError:
        return None
    return DjangoTask


def check_celery_version() -> None:
    """Raise ``UnsupportedCeleryVersion`` unless the installed Celery is in range."""
    if CELERY_VERSION not in SUPPORTED_CELERY:
        raise UnsupportedCeleryVersion(
            f"omnitenant_patch supports Celery {SUPPORTED_CELERY}; this is Celery "
            f"{CELERY_VERSION}. Install a supported Celery or pin omnitenant_patch to a "
            f"release that supports yours."
        )
