"""omnitenant_patch.testing, as a user's test suite uses it: the pytest plugin's tenant_worker
fixture (a real patched worker for the user's own app), run_in_tenant and in_tenant."""

import os

import harness
import pytest

pytestmark = pytest.mark.worker
#: What pyproject's addopts turns off, for the user's suites these tests run (ddtrace's pytest
#: plugin leaves a folder in the temp directory).
QUIET = ("-p", "no:cacheprovider", "-p", "no:ddtrace", "-p", "no:ddtrace.pytest_bdd",
         "-p", "no:ddtrace.pytest_benchmark", "-q")

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
    result = pytester.runpytest_subprocess(*QUIET, timeout=180)
    result.assert_outcomes(passed=3)


def test_without_the_app_setting_the_fixture_says_what_to_set(pytester):
    pytester.makepyfile("def test_needs_it(tenant_worker):\n    pass\n")
    pytester._monkeypatch.delenv("OMNITENANT_CELERY_APP", raising=False)
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*omnitenant_celery_app*"])


@pytest.mark.parametrize("broker", ["amqp", "redis"])
def test_delete_queue_takes_a_stopped_workers_queue_and_its_messages_off_the_broker(broker,
                                                                                  tmp_path):
    from celery import Celery

    from omnitenant_patch.testing import delete_queue

    harness.require(broker)
    app = Celery("kit-queues", broker=harness.broker_url(broker, tmp_path), set_as_current=False)
    queue = f"omnitenant-{harness.RUN_ID}-kit-{broker}"
    with app.connection_for_write() as connection:
        connection.SimpleQueue(queue).put({"left": "behind"})
    with app.connection_for_write() as connection:  # a passive declare: is it there, how full
        assert connection.default_channel.queue_declare(queue, passive=True).message_count == 1
    delete_queue(app, queue)
    with app.connection_for_write() as connection:
        with pytest.raises(connection.channel_errors, match="404"):
            connection.default_channel.queue_declare(queue, passive=True)


def test_delete_queue_leaves_a_broker_it_cannot_reach_with_a_warning(caplog):
    from celery import Celery

    from omnitenant_patch.testing import delete_queue

    app = Celery("kit-gone", broker="amqp://guest:guest@127.0.0.1:9//", set_as_current=False)
    delete_queue(app, "omnitenant-nowhere")
    assert "'omnitenant-nowhere' is left on the broker" in caplog.text


@pytest.mark.parametrize("broker", ["amqp", "redis"])
@pytest.mark.parametrize("named", [False, True], ids=["its-own-queue", "a-queue-you-named"])
def test_tenant_worker_deletes_the_queue_it_made_up_at_stop_and_never_yours(named, broker,
                                                                           tmp_path):
    from celery import Celery

    from omnitenant_patch.testing import TenantWorker

    harness.require(broker)
    # The user's app, as `celery -A` names it, on the broker under test.
    name = f"KIT_APP_{broker.upper()}"
    globals()[name] = Celery(f"kit-{broker}", broker=harness.broker_url(broker, tmp_path),
                             set_as_current=False)
    kit = TenantWorker(f"{__name__}:{name}", queue=f"omnitenant-{harness.RUN_ID}-named-{broker}"
                       if named else None)
    with kit.app.connection_for_write() as connection:
        connection.SimpleQueue(kit.queue).put({"queued": "before stop"})
    kit.stop()  # never started: stop() still tidies up
    with kit.app.connection_for_write() as connection:
        channel = connection.default_channel
        try:
            left = channel.queue_declare(kit.queue, passive=True).message_count
        except connection.channel_errors:  # RabbitMQ: the queue is gone
            left = 0
        if named:
            channel.queue_delete(kit.queue)
    assert left == (1 if named else 0)
