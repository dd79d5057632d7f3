"""Shared by every site suite (each runs in its own pytest process, see tests/conftest.py):
import paths, the real workers every scenario runs against, eager mode, and clean-up."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

SITES = Path(__file__).resolve().parent
SITE = SITES / os.environ.get("OMNITENANT_SITE", "")
sys.path[:0] = [str(SITE), str(SITES)]
pytest.register_assert_rewrite("sitekit")

from sitekit import services  # noqa: E402
from sitekit.site import started  # noqa: E402

#: (pool, CONN_MAX_AGE) of the workers every scenario runs against, gevent where it is installed
#: (the test extra has it from Python 3.9); SITE_POOLS="prefork-0,solo-60" names others.
POOLS = [tuple(p.rsplit("-", 1)) for p in os.environ.get("SITE_POOLS", "").split(",") if p] or [
    ("prefork", "60"), ("solo", "0"), ("threads", "60"), ("prefork", "0"), ("solo", "None"),
    *([("gevent", "60")] if importlib.util.find_spec("gevent") else [])]


@pytest.fixture(autouse=True)
def _patch_state_restored():
    """Whatever a test does to the patch (tests of unpatch_celery), the next test starts as this
    one did: patched, or unpatched under SITE_PATCH=none."""
    from omnitenant_patch import is_patched, patch_celery, unpatch_celery

    before = is_patched()
    yield
    if is_patched() != before:
        unpatch_celery()
        if before:
            patch_celery()


def pytest_unconfigure(config):
    services.remove_run_dir()
    try:
        from django.db import connections

        for connection in connections.all():
            connection.close()
    except Exception:  # Django never got configured: nothing is open
        pass
    services.drop_databases(services.DATABASE_PREFIX)


@pytest.fixture(scope="session", params=POOLS, ids=[f"{p}-age{a}" for p, a in POOLS])
def worker(site, request):
    """A real `celery worker` of the site, one per pool and CONN_MAX_AGE."""
    with started(site, *request.param) as running:
        yield running


@pytest.fixture
def eager_app():
    """The site's Celery app with task_always_eager on."""
    from project.celery_app import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False
