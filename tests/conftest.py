"""Two kinds of suites live here.

- ``core/``: the package on its own test project (``core/testproj``), real workers included.
- ``sites/<library>/``: a small site built the way each tenancy library's docs say, each with
  its own Django settings, so each runs in a pytest process of its own:
  ``core/test_tenancy_libraries.py`` starts them. ``OMNITENANT_SITE`` names the one a process runs.
"""

import gc
import os
import shutil
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
pytest_plugins = ["pytester"]  # tests/core/test_testing_kit.py runs a user's suite


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """This run's temporary files (``tmp_path`` and the rest) live in one folder of its own,
    removed when the run ends: a run leaves nothing in temp folders."""
    if config.option.basetemp is None:
        config.option.basetemp = config._omnitenant_basetemp = tempfile.mkdtemp(
            prefix="omnitenant-pytest-")


def pytest_unconfigure(config):
    own = getattr(config, "_omnitenant_basetemp", None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    path = Path(str(collection_path))
    site = os.environ.get("OMNITENANT_SITE")
    if site:  # a site's own process: nothing but that site, and its beat scenarios only if asked
        inside = HERE / "sites" / site in (path, *path.parents)
        if inside and path.name.startswith("test_beat"):
            return os.environ.get("SITE_BEAT") != "1"
        if inside and path.name.startswith("test_") and os.environ.get("SITE_BEAT") == "1":
            return True
        return not (path == HERE / "sites" or inside or path in (HERE / "sites" / site).parents)
    return HERE / "sites" in (path, *path.parents) or None


@pytest.fixture(autouse=True)
def _collect_garbage_between_tests():
    """Run the cyclic GC only between tests: Celery 4.4's Redis result backend deadlocks when an
    AsyncResult.__del__ fires inside its own pub/sub subscribe call (seen here)."""
    gc.disable()
    yield
    gc.enable()
    gc.collect()
