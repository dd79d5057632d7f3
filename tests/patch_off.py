"""The patch-off check: with the patch left out, every test that judges a tenant must fail.

    python tests/patch_off.py          # .ci/run runs it after the tests

It runs the real-worker tests of ``tests/core`` with ``OMNITENANT_TEST_UNPATCHED=1`` (every test
starts unpatched, and so does every worker it starts) and, through ``test_site_suites.py``, every
installed site suite with ``SITE_PATCH=none`` — on one worker configuration and one pool each:
what is checked is the test, not the pool. Then it reads every test's outcome and exits non-zero
if a test passed that ``PASSES_UNPATCHED`` does not name; an entry that named no passing test is
reported, to keep the list exact.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]

#: The tests that rightly pass with the patch off, by id pattern, each with its reason: none of
#: them runs a task in a tenant. Every other real-worker test and site scenario must fail.
PASSES_UNPATCHED: Dict[str, str] = {
    "tests/core/test_testing_kit.py::test_delete_queue_takes_*":
        "deletes a queue from the broker; no task runs",
    "tests/core/test_testing_kit.py::test_delete_queue_leaves_a_broker_it_cannot_reach_*":
        "the warning for an unreachable broker; no task runs",
    "tests/core/test_testing_kit.py::test_tenant_worker_deletes_the_queue_*":
        "TenantWorker.stop() deletes the queue it made up; no worker starts",
    "tests/core/test_testing_kit.py::test_without_the_app_setting_the_fixture_says_what_to_set":
        "the plugin's error for a missing setting; no worker starts",
    "site *-beat: tests/sites/*/test_beat.py::"
    "test_noticing_changes_costs_the_same_queries_however_many_tenants":
        "counts the queries of TenantDatabaseScheduler's change detection; no task runs",
    "site omnitenant-*: tests/sites/omnitenant/test_omnitenant.py::"
    "test_use_tenant_none_leaves_the_schema_and_the_database":
        "omnitenant_patch's TenantContext on django-omnitenant, in this process; no task runs",
    # django-omnitenant's own Celery task class (TenantAwareTask, set by its bootstrap) reads the
    # tenant_id header itself, and Celery >= 5.3 shows it in request.headers: with the patch off
    # it enters the tenant in these cases (database tenants; a header written by our scheduler)
    "site omnitenant-database: tests/sites/omnitenant/test_omnitenant.py::"
    "test_every_step_of_a_chain_runs_in_the_tenant":
        "django-omnitenant's own task class enters a database tenant from its tenant_id header",
    "site omnitenant-database: tests/sites/omnitenant/test_omnitenant.py::"
    "test_rows_a_task_writes_land_in_its_tenant_only":
        "django-omnitenant's own task class enters a database tenant from its tenant_id header",
    "site omnitenant-schema-beat: tests/sites/omnitenant/test_beat.py::"
    "test_each_tenants_own_rows_run_in_that_tenant_and_changes_are_seen":
        "TenantDatabaseScheduler writes each tenant row's tenant_id header; django-omnitenant's "
        "own task class enters it",
    # tenant-schemas-celery's own CeleryApp carries and switches the schema in this suite
    "site django-tenants-on-tenant-schemas-celery: tests/sites/django_tenants/"
    "test_django_tenants.py::test_messages_tenant_schemas_celery_queued_run_in_their_schema":
        "its messages, queued and run by tenant-schemas-celery's own app",
    "site django-tenants-on-tenant-schemas-celery: tests/sites/django_tenants/"
    "test_django_tenants.py::test_a_request_runs_in_the_tenant_the_library_resolved_and_queues_"
    "there":
        "a request queues through tenant-schemas-celery's app, which carries the schema itself",
}

#: One worker configuration of tests/core and one pool per site suite (see the module doc).
CORE_WORKERS = "redis-prefork-sqlite"
SITE_POOLS = "prefork-60"


def outcomes(junit: Path, prefix: str = "") -> List[Tuple[str, str]]:
    """(test id, outcome) of every test case in a JUnit file: passed, failed, skipped."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        test_id = f"{prefix}{module}.py::{case.get('name')}"
        if case.find("skipped") is not None:
            outcome = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        else:
            outcome = "passed"
        found.append((test_id, outcome))
    return found


def allowed(test_id: str) -> str:
    """The pattern of ``PASSES_UNPATCHED`` that names ``test_id`` ("" for none)."""
    bare = test_id.split("[", 1)[0]
    return next((p for p in PASSES_UNPATCHED if fnmatch.fnmatchcase(bare, p)), "")


def check(results: List[Tuple[str, str]]) -> List[str]:
    """What is wrong with these outcomes, as sentences (none: the check holds)."""
    passed = [test_id for test_id, outcome in results if outcome == "passed"]
    problems = [f"passes with the patch off: {t}" for t in passed if not allowed(t)]
    if not any(outcome == "failed" for _, outcome in results):
        problems.append("no test failed with the patch off: was it off?")
    return problems


def unused(results: List[Tuple[str, str]]) -> List[str]:
    """Entries of ``PASSES_UNPATCHED`` that named no passing test this time (a suite not
    installed here, or a test that now fails unpatched): reported, not failed."""
    used = {allowed(t) for t, outcome in results if outcome == "passed"}
    return [p for p in PASSES_UNPATCHED if p not in used]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="omnitenant-patch-off-"))
    try:
        sites = work / "sites"
        sites.mkdir()
        env = dict(os.environ, OMNITENANT_TEST_UNPATCHED="1", OMNITENANT_TEST_WORKERS=CORE_WORKERS,
                   OMNITENANT_SITE_POOLS=SITE_POOLS, OMNITENANT_SITE_JUNIT_DIR=str(sites),
                   OMNITENANT_SOAK_TASKS="300")  # a soak fails at its first wrong tenant
        env.pop("OMNITENANT_RUN_SITES", None)  # every site suite this interpreter installs
        core = work / "core.xml"
        subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m",
                         "worker", "tests/core", f"--junitxml={core}"], cwd=str(ROOT), env=env)
        if not core.exists():
            print("patch-off check: the test run wrote no results")
            return 1
        results = outcomes(core)
        for junit in sorted(sites.glob("*.xml")):
            results += outcomes(junit, prefix=f"site {junit.stem}: ")
        problems = check(results)
        for pattern in unused(results):
            print(f"patch-off check: PASSES_UNPATCHED's {pattern!r} named no passing test")
        counts = {o: sum(1 for _, x in results if x == o) for o in ("failed", "passed", "skipped")}
        print(f"patch-off check: {counts['failed']} failed, {counts['passed']} passed (all "
              f"named in PASSES_UNPATCHED), {counts['skipped']} skipped, "
              f"{len(list(sites.glob('*.xml')))} site suites" if not problems else
              "patch-off check FAILED:\n  " + "\n  ".join(problems))
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
