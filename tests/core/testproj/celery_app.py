import faulthandler
import os
import signal
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproj.settings")

from celery import Celery  # noqa: E402

from testproj.tasks import ClassBased, seen  # noqa: E402

app = Celery("testproj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ["testproj.tasks"]
app.register_task(ClassBased())


if "beat" in sys.argv:  # the tests' beat writes its threads' stacks on SIGUSR2 (a stuck stop)
    faulthandler.register(signal.SIGUSR2, all_threads=True)

if os.environ.get("OMNITENANT_TEST_COUNT_QUERIES") == "1":
    from testproj import query_counter

    query_counter.install()


@app.task(name="t.app_task")
def app_task(label=None):
    return {"tenant": seen(), "label": label}
