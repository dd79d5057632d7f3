"""Each site suite (tests/sites/<site>) in a pytest process of its own: one per tenancy library,
the tracing site once per integration and order, and each library's site under tracers.

A suite whose library is not installed here is skipped, unless ``OMNITENANT_REQUIRE_SITES``
names it (``all`` or a comma-separated list of suite ids, which may hold ``*``, as in
``multitenant+*``): then it fails. ``OMNITENANT_RUN_SITES`` (same form), when set, runs only the
suites it names: each matrix cell runs the suites compat_matrix/matrix.json gives it, so that a
suite runs once per line it is proven on; .ci/run's default run leaves them to the cells.
"""

import fnmatch
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SITES = Path(__file__).resolve().parents[1] / "sites"

TRACERS = {"sentry": "sentry_sdk", "otel": "opentelemetry.instrumentation.celery",
           "ddtrace": "ddtrace"}
# A site run again on another broker or under a tracer: prefork and solo, persistent and closed
# connections (every pool runs in the site's own suite), to keep CI within its time.
FEWER_POOLS = "prefork-60,solo-0"


def _rerun(suite, modules=(), pools=None, **settings: str):
    """A suite (directory, modules, settings) again with more ``settings`` and the ``modules``
    they need; ``pools``: SITE_POOLS."""
    directory, needs, base = suite
    if pools:
        settings["SITE_POOLS"] = pools
    return directory, [*needs, *modules], dict(base, **settings)


# Mixed django-omnitenant runs with its PATCHES entry and, with the one line, in the reruns.
MIXED = ("omnitenant", ["django_omnitenant"], {"SITE_ISOLATION": "mixed"})

# suite id -> (site directory, the modules it needs, its SITE_* settings)
SUITES = {
    "omnitenant-schema": ("omnitenant", ["django_omnitenant"], {"SITE_ISOLATION": "schema"}),
    "omnitenant-database": ("omnitenant", ["django_omnitenant"], {"SITE_ISOLATION": "database"}),
    "omnitenant-mixed-patches": _rerun(MIXED, SITE_PATCH="patches"),
    "django-tenants": ("django_tenants", ["django_tenants"], {}),
    "django-tenants-on-tenant-schemas-celery": (
        "django_tenants", ["django_tenants", "tenant_schemas_celery"],
        {"SITE_CELERY": "tenant-schemas-celery"}),
    "pgschemas": ("pgschemas", ["django_pgschemas"], {}),
    # As its README sets it up (no INSTALLED_APPS entry); again below with the entry.
    "multitenant": ("multitenant", ["django_multitenant"], {}),
    **{f"tracing-{integration}-{order}": ("tracing", [module], {"SITE_TRACING":
                                                               f"{integration}-{order}"})
       for integration, module in TRACERS.items() for order in ("before", "after")},
}
LIBRARIES = {**SUITES, "omnitenant-mixed": MIXED}

# Each library's site again under every tracer, which wraps the same Celery methods: initialised
# before or after the one line in settings, or in the worker signal its docs show. Each order of
# each tracer runs on some library, judged by the same scenarios (schema, database, rows).
TRACED = {
    "django-tenants": ["sentry-worker", "otel-before", "ddtrace-after"],
    "pgschemas": ["sentry-before", "otel-after", "ddtrace-worker"],
    "multitenant": ["sentry-after", "otel-worker", "ddtrace-before"],
    "omnitenant-mixed": ["sentry-worker", "otel-after", "ddtrace-before"],
}
SUITES.update({  # a read replica: every alias on the library's engine enters the tenant
    f"{library}-with-replica": _rerun(SUITES[library], pools=FEWER_POOLS, SITE_REPLICA="1")
    for library in ("django-tenants", "pgschemas")
})
SUITES.update({  # periodic tasks: django-celery-beat in the shared schema and in every tenant's
    "django-tenants-beat": ("django_tenants", ["django_tenants", "django_celery_beat"],
                            {"SITE_BEAT": "1"}),
    "omnitenant-schema-beat": ("omnitenant", ["django_omnitenant", "django_celery_beat"],
                               {"SITE_ISOLATION": "schema", "SITE_BEAT": "1"}),
})
SUITES["multitenant-in-installed-apps"] = _rerun(SUITES["multitenant"], pools=FEWER_POOLS,
                                                 SITE_MULTITENANT_APP="1")
SUITES.update({
    f"{library}-on-rabbitmq": _rerun(LIBRARIES[library], pools=FEWER_POOLS,
                                     SITE_TRANSPORT="rabbitmq")
    for library in ("django-tenants", "omnitenant-mixed")
})
SUITES.update({
    f"{library}+{tracing}": _rerun(LIBRARIES[library], [TRACERS[tracing.partition("-")[0]]],
                                   pools=FEWER_POOLS, SITE_TRACING=tracing)
    for library, tracings in TRACED.items() for tracing in tracings
})


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def names(patterns, suite: str) -> bool:
    """True when one of ``patterns`` (suite ids, ``*`` matching anything, or ``all``) is
    ``suite``."""
    patterns = [p.strip() for p in patterns if p.strip()]
    return "all" in patterns or any(fnmatch.fnmatchcase(suite, p) for p in patterns)


def _required(suite: str) -> bool:
    return names(os.environ.get("OMNITENANT_REQUIRE_SITES", "").split(","), suite)


@pytest.mark.worker
@pytest.mark.parametrize("suite", list(SUITES))
def test_the_site_suite_passes(suite, tmp_path):
    directory, modules, settings = SUITES[suite]
    if "OMNITENANT_RUN_SITES" in os.environ and not names(
            os.environ["OMNITENANT_RUN_SITES"].split(","), suite):
        pytest.skip("not this run's: OMNITENANT_RUN_SITES (compat_matrix/matrix.json) runs it")
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
    if os.environ.get("OMNITENANT_TEST_UNPATCHED") == "1":  # the patch-off check
        env["SITE_PATCH"] = "none"
    if os.environ.get("OMNITENANT_SITE_POOLS"):  # every suite on these pools only
        env["SITE_POOLS"] = os.environ["OMNITENANT_SITE_POOLS"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
         str(SITES / directory)],
        env=env, cwd=str(SITES.parents[1]), capture_output=True, text=True, timeout=900,
    )
    if os.environ.get("OMNITENANT_SITE_JUNIT_DIR") and junit.exists():  # each scenario's outcome
        shutil.copy(junit, Path(os.environ["OMNITENANT_SITE_JUNIT_DIR"]) / f"{suite}.xml")
    assert done.returncode == 0, f"{suite} failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert 'failures="0"' in junit.read_text() and 'errors="0"' in junit.read_text()
