"""omnitenant_patch.testing, as a user's test suite uses it: the pytest plugin's tenant_worker
fixture (a real patched worker for the user's own app), run_in_tenant and in_tenant."""

import os

import harness
import pytest

pytestmark = pytest.mark.worker

USERS_CONFTEST = '''
import django

django.setup()
'''

USERS_TESTS = '''
from omnitenant_patch.testing import in_tenant, run_in_tenant


def test_a_task_runs_in_the_tenant_it_is_queued_for(tenant_worker):
    assert tenant_worker.run("t.whoami", "acme", "x") == {"tenant": "acme", "label": "x"}


def test_in_tenant_takes_an_id_and_tasks_queued_inside_capture_it(tenant_worker):
    whoami = tenant_worker.app.tasks["t.whoami"]
    with in_tenant("globex") as tenant:
        assert tenant.tenant_id == "globex"
        result = whoami.delay("captured")
    assert result.get(timeout=30)["tenant"] == "globex"
    assert run_in_tenant(whoami, None, "none")["tenant"] is None


def test_the_worker_consumes_a_queue_of_its_own(tenant_worker):
    assert tenant_worker.queue.startswith("omnitenant-test-")
    assert tenant_worker.app.conf.task_default_queue == tenant_worker.queue
'''


def test_a_users_suite_gets_a_real_patched_worker_from_the_plugin(pytester, tmp_path):
    harness.require("redis")
    pytester.makeconftest(USERS_CONFTEST)
    pytester.makepyfile(test_users_tasks=USERS_TESTS)
    pytester.makeini("[pytest]\nomnitenant_celery_app = testproj.celery_app\n"
                     "omnitenant_worker_pool = solo\n")
    env = {
        "PYTHONPATH": os.pathsep.join([str(harness.TESTS_DIR), str(harness.ROOT)]),
        "DJANGO_SETTINGS_MODULE": "testproj.settings",
        "OMNITENANT_TEST_BROKER": f"redis://127.0.0.1:6379/{harness.REDIS_DB}",
        "OMNITENANT_TEST_BACKEND": f"redis://127.0.0.1:6379/{harness.REDIS_DB}",
    }
    for name, value in env.items():
        pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=180)
    result.assert_outcomes(passed=3)


def test_without_the_app_setting_the_fixture_says_what_to_set(pytester):
    pytester.makepyfile("def test_needs_it(tenant_worker):\n    pass\n")
    pytester._monkeypatch.delenv("OMNITENANT_CELERY_APP", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*omnitenant_celery_app*"])
