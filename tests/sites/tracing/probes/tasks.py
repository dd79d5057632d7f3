"""Tasks that answer where they ran (the probe: tenant, schema, database and the rows they read),
queue children, retry, and show the publish chain."""

from types import FunctionType

from celery import shared_task
from celery.app.base import Celery
from celery.app.task import Task
from sitekit.probe import where
from tenancy import current_id


def here(label=None):
    from notes.models import Note

    return where(Note, current_id, label)


@shared_task(name="trace.whoami")
def whoami(label=None):
    return here(label)


@shared_task(name="trace.spawn")
def spawn():
    return {"parent": here("parent"), "child": whoami.delay("child").id}


@shared_task(name="trace.retry", bind=True)
def retry_once(self, label=None):
    if self.request.retries < 1:
        raise self.retry(countdown=0, max_retries=3)
    return here(label)


def chain_of(function):
    """Where each function along a patched attribute's wrapper chain was written, outermost
    first: the package of its code (``functools.wraps`` copies ``__module__``, not the code),
    or the package of a wrapper object's type (wrapt's)."""
    packages = []
    while function is not None and len(packages) < 10:
        if type(function) is not FunctionType:  # wrapt proxies pass __code__ and __class__ on
            packages.append(type(function).__module__.split(".")[0])
        else:
            path = function.__code__.co_filename.replace("\\", "/")
            packages.append(next((p for p in ("omnitenant_patch", "sentry_sdk", "ddtrace",
                                              "celery", "wrapt") if f"/{p}/" in path), path))
        function = getattr(function, "__wrapped__", None)
    return packages


@shared_task(name="trace.wrappers")
def wrappers():
    return {"apply_async": chain_of(Task.__dict__["apply_async"]),
            "send_task": chain_of(Celery.__dict__["send_task"])}
