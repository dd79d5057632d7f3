"""Each site suite (tests/sites/<site>) in a pytest process of its own: one per tenancy library,
and the tracing site once per integration and order.

A suite whose library is not installed here is skipped, unless ``OMNITENANT_REQUIRE_SITES``
names it (``all`` or a comma-separated list of suite ids): then it fails. The compat
matrix names, per cell, the suites its cell installs; .ci/run's default run names those its
interpreter can install.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SITES = Path(__file__).resolve().parents[1] / "sites"

# suite id -> (site directory, the modules it needs, its SITE_* settings)
SUITES = {
    "omnitenant-schema": ("omnitenant", ["django_omnitenant"], {"SITE_ISOLATION": "schema"}),
    "omnitenant-database": ("omnitenant", ["django_omnitenant"], {"SITE_ISOLATION": "database"}),
    "omnitenant-mixed-patches": ("omnitenant", ["django_omnitenant"],
                                 {"SITE_ISOLATION": "mixed", "SITE_PATCH": "patches"}),
    "django-tenants": ("django_tenants", ["django_tenants"], {}),
    "django-tenants-on-tenant-schemas-celery": (
        "django_tenants", ["django_tenants", "tenant_schemas_celery"],
        {"SITE_CELERY": "tenant-schemas-celery"}),
    "pgschemas": ("pgschemas", ["django_pgschemas"], {}),
    "multitenant": ("multitenant", ["django_multitenant"], {}),
    **{f"tracing-{integration}-{order}": ("tracing", [module], {"SITE_TRACING":
                                                               f"{integration}-{order}"})
       for integration, module in [("sentry", "sentry_sdk"),
                                   ("otel", "opentelemetry.instrumentation.celery"),
                                   ("ddtrace", "ddtrace")]
       for order in ("before", "after")},
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _required(suite: str) -> bool:
    names = {n.strip() for n in os.environ.get("OMNITENANT_REQUIRE_SITES", "").split(",")}
    return "all" in names or suite in names


@pytest.mark.worker
@pytest.mark.parametrize("suite", list(SUITES))
def test_the_site_suite_passes(suite, tmp_path):
    directory, modules, settings = SUITES[suite]
    missing = [m for m in modules if not _installed(m)]
    if missing:
        message = f"{', '.join(missing)} not installed for this interpreter"
        if _required(suite):
            pytest.fail(f"{suite}: {message}, and OMNITENANT_REQUIRE_SITES names it",
                        pytrace=False)
        pytest.skip(message)
    junit = tmp_path / "site.xml"
    env = dict(os.environ, OMNITENANT_SITE=directory, **settings)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
         str(SITES / directory)],
        env=env, cwd=str(SITES.parents[1]), capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, f"{suite} failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert 'failures="0"' in junit.read_text() and 'errors="0"' in junit.read_text()
