"""pytest plugin ``omnitenant_patch`` (entry point ``pytest11``): the ``tenant_worker`` fixture.

    # pytest.ini
    [pytest]
    omnitenant_celery_app = proj            # what `celery -A` takes
    omnitenant_worker_pool = solo           # optional: else the app's worker_pool
    omnitenant_worker_concurrency = 2       # optional: else the app's worker_concurrency

    # test_tasks.py
    def test_invoice_is_written_in_its_tenant(tenant_worker):
        assert tenant_worker.run(send_invoice, "acme", 42) == "acme"

Nothing is imported from Django or Celery until the fixture is used.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator

import pytest


def pytest_addoption(parser: Any) -> None:
    parser.addini("omnitenant_celery_app",
                  "the Celery app tenant_worker runs (what `celery -A` takes); or set "
                  "OMNITENANT_CELERY_APP")
    parser.addini("omnitenant_worker_pool", "tenant_worker's pool (default: the app's)")
    parser.addini("omnitenant_worker_concurrency",
                  "tenant_worker's concurrency (default: the app's)")


@pytest.fixture(scope="session")
def tenant_worker(request: Any) -> Iterator[Any]:
    """A real patched ``celery worker`` for the project's Celery app, for the whole session.

    ``tenant_worker.run(task, tenant, *args, **kwargs)`` queues a task for a tenant and
    returns its result; ``tenant_worker.app`` is the app; ``tenant_worker.queue`` its queue.
    With pytest-django the worker uses the test databases; rows a test writes must be
    committed for the worker to see them (``transactional_db``).
    """
    from .helpers import TenantWorker

    config = request.config
    app = config.getini("omnitenant_celery_app") or os.environ.get("OMNITENANT_CELERY_APP")
    if not app:
        raise pytest.UsageError(
            "tenant_worker needs the Celery app: set omnitenant_celery_app in pytest.ini "
            "(what `celery -A` takes) or OMNITENANT_CELERY_APP"
        )
    concurrency = config.getini("omnitenant_worker_concurrency")
    worker = TenantWorker(
        app, pool=config.getini("omnitenant_worker_pool") or None,
        concurrency=int(concurrency) if concurrency else None,
        databases=_test_databases(request),
    ).start()
    try:
        yield worker
    finally:
        worker.stop()


def _test_databases(request: Any) -> Dict[str, str]:
    """The databases pytest-django set up for this session (alias -> name), if it is in use."""
    if "django_db_setup" not in request.fixturenames and not request.config.pluginmanager.hasplugin(
            "django"):
        return {}
    request.getfixturevalue("django_db_setup")
    from django.db import connections

    return {alias: connections[alias].settings_dict["NAME"] for alias in connections}
