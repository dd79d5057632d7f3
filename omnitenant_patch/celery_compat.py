"""Differences between Celery lines, decided once from the installed version.

Each flag is named after the Celery behaviour it covers; the rest of the
package asks these names instead of comparing versions.
"""

from __future__ import annotations

import celery
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .exceptions import UnsupportedCeleryVersion

#: The Celery range this library is proven on (see compat_matrix/).
SUPPORTED_CELERY = SpecifierSet(">=4.4,<6")

CELERY_VERSION = Version(celery.__version__)

#: <= 5.2: custom message headers surface as attributes of the task request and
#: ``request.headers`` is None; 5.3+ (celery#7555) also fills ``request.headers``.
headers_are_request_attributes = CELERY_VERSION < Version("5.3")

#: <= 5.2: ``Task.retry`` re-publishes without custom headers (celery#4875, #7523).
retry_keeps_custom_headers = CELERY_VERSION >= Version("5.3")

#: >= 5.5: ``Task.push_request`` merges the current request instead of replacing it.
push_request_merges_context = CELERY_VERSION >= Version("5.5")


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
