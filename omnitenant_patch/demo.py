"""``python -m omnitenant_patch demo``: a throwaway Django site, two tenants, a real worker.

Builds the site in a temporary folder (SQLite; kombu's filesystem broker, so no
server is needed), starts a real ``celery worker`` subprocess, then drives it as
a user would: HTTP requests to tenants' hosts through ``TenantMiddleware`` that queue tasks
implicitly, an explicit ``tenant_id=``, a retry, a chain, a chord and an unknown
tenant. Prints what it queued and which tenant the worker saw, cleans up, and
exits non-zero if any row is wrong.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from .testing import CeleryWorker, WorkerError

SETTINGS = '''
import os
from omnitenant_patch import patch_celery

patch_celery()

SECRET_KEY = "omnitenant-demo"
DEBUG = False
ALLOWED_HOSTS = [".demo.test"]
USE_TZ = True
ROOT_URLCONF = "demosite.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "omnitenant_patch", "demosite"]
MIDDLEWARE = ["omnitenant_patch.middleware.TenantMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(os.environ["DEMO_DIR"], "demo.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
OMNITENANT_CONFIG = {
    "TENANT_MODEL": "demosite.Tenant",
    "TENANT_ID_FIELD": "slug",
    # acme.demo.test is acme's: a tenant comes from the host, never from what a client sends
    "MIDDLEWARE": {"RESOLVER": "subdomain", "SUBDOMAIN_BASE": "demo.test"},
}
CELERY_BROKER_URL = os.environ["DEMO_BROKER"]
CELERY_RESULT_BACKEND = os.environ["DEMO_BACKEND"]
CELERY_TASK_DEFAULT_QUEUE = os.environ["DEMO_QUEUE"]
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"data_folder_in": os.environ["DEMO_DIR"] + "/broker",
     "data_folder_out": os.environ["DEMO_DIR"] + "/broker",
     "control_folder": os.environ["DEMO_DIR"] + "/control",
     "store_processed": False, "polling_interval": 0.1}
    if CELERY_BROKER_URL.startswith("filesystem") else {}
)
CELERY_WORKER_TASK_LOG_FORMAT = "[%(asctime)s] %(task_name)s tenant=%(tenant_id)s: %(message)s"
'''

MODELS = '''
from django.db import models


class Tenant(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)


class Ran(models.Model):
    """One row per task body that ran: proves the unknown tenant's body never did."""
    label = models.CharField(max_length=100)
    tenant = models.CharField(max_length=50, null=True)
'''

MIGRATION = '''
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel("Tenant", [
            ("id", models.AutoField(primary_key=True, serialize=False)),
            ("slug", models.SlugField(unique=True)),
            ("name", models.CharField(max_length=100)),
        ]),
        migrations.CreateModel("Ran", [
            ("id", models.AutoField(primary_key=True, serialize=False)),
            ("label", models.CharField(max_length=100)),
            ("tenant", models.CharField(max_length=50, null=True)),
        ]),
    ]
'''

TASKS = '''
from celery import shared_task
from celery.utils.log import get_task_logger

from omnitenant_patch import TenantContext

logger = get_task_logger(__name__)


def tenant_slug():
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.slug


def record(label):
    from demosite.models import Ran

    Ran.objects.create(label=label, tenant=tenant_slug())
    logger.info("%s ran", label)
    return tenant_slug()


@shared_task(name="demo.report")
def report(label):
    return record(label)


@shared_task(name="demo.flaky", bind=True)
def flaky(self, label):
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return record(label)


@shared_task(name="demo.step")
def step(seen, label):
    return (seen or []) + [record(label)]


@shared_task(name="demo.summary")
def summary(seen):
    return list(seen) + [record("summary")]
'''

VIEWS = '''
from django.http import JsonResponse

from demosite.tasks import report


def queue_report(request):
    result = report.delay("report via HTTP")  # no tenant_id: taken from the request
    return JsonResponse({"task_id": result.id})
'''

URLS = '''
from django.urls import path

from demosite.views import queue_report

urlpatterns = [path("report/", queue_report)]
'''

CELERY_APP = '''
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demosite.settings")

from celery import Celery

app = Celery("demosite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
'''

FILES = {
    "demosite/__init__.py": "",
    "demosite/settings.py": SETTINGS,
    "demosite/models.py": MODELS,
    "demosite/migrations/__init__.py": "",
    "demosite/migrations/0001_initial.py": MIGRATION,
    "demosite/tasks.py": TASKS,
    "demosite/views.py": VIEWS,
    "demosite/urls.py": URLS,
    "demosite/celery.py": CELERY_APP,
}

OK, BAD = "✓", "✗"


class Row:
    def __init__(self, what: str, expected: str) -> None:
        self.what, self.expected, self.seen, self.ok = what, expected, "?", False


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omnitenant_patch demo",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="filesystem://",
                        help="broker URL (default: kombu's filesystem transport, no server)")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    parser.add_argument("--keep", action="store_true", help="keep the temporary site")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="omnitenant-demo-"))
    worker = None
    started = time.monotonic()
    try:
        say(f"building a throwaway Django site in {folder}")
        env = build_site(folder, args.broker)
        say("migrating SQLite and creating tenants 'acme' and 'globex'")
        setup_django(folder, env)
        say(f"starting a real `celery worker` ({args.pool}) on {redact(args.broker)}")
        worker = start_worker(folder, env, args.pool)
        rows = run_scenarios()
    except DemoError as exc:
        say(f"{BAD} {exc}")
        return 2
    finally:
        if worker is not None:
            worker.stop()
            say("worker stopped")
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(rows)
    failed = [row for row in rows if not row.ok]
    say(f"{len(rows) - len(failed)} of {len(rows)} rows right in "
        f"{time.monotonic() - started:.1f} s" + ("" if not failed else f"; {len(failed)} WRONG"))
    return 1 if failed else 0


class DemoError(Exception):
    pass


def say(message: str) -> None:
    print(f"· {message}", flush=True)


def redact(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def build_site(folder: Path, broker: str) -> dict:
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (folder / "broker").mkdir()
    (folder / "results").mkdir()
    env = {
        "DEMO_DIR": str(folder),
        "DEMO_BROKER": broker,
        "DEMO_BACKEND": f"file://{folder / 'results'}",
        "DEMO_QUEUE": f"omnitenant-demo-{os.getpid()}",
        "DJANGO_SETTINGS_MODULE": "demosite.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(folder))
    return env


def setup_django(folder: Path, env: dict) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from demosite.models import Tenant

    Tenant.objects.create(slug="acme", name="Acme Corp")
    Tenant.objects.create(slug="globex", name="Globex Inc")
    import demosite.celery  # noqa: F401  (the app the tasks bind to)


def start_worker(folder: Path, env: dict, pool: str) -> CeleryWorker:
    worker = CeleryWorker("demosite", queue=env["DEMO_QUEUE"], pool=pool, env=dict(
        env, PYTHONPATH=os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))),
        cwd=str(folder), log_path=folder / "worker.log")
    try:
        worker.start()
    except WorkerError as exc:
        raise DemoError(str(exc)) from None
    say(f"worker ready (pid {worker.pid})")
    return worker


def run_scenarios() -> List[Row]:
    from celery import chain, chord
    from demosite import tasks
    from demosite.models import Ran
    from django.test import Client

    client = Client()
    rows: List[Row] = []

    def check(what: str, expected: Any, produce: Callable[[], Any]) -> None:
        row = Row(what, show(expected))
        say(f"{what} …")
        try:
            seen = produce()
        except Exception as exc:  # a wrong row, not a crash: keep going
            seen = f"{type(exc).__name__}: {exc}"
        row.seen, row.ok = show(seen), seen == expected
        say(f"  {OK if row.ok else BAD} worker saw {row.seen}")
        rows.append(row)

    def via_http(tenant: str) -> Any:
        response = client.get("/report/", HTTP_HOST=f"{tenant}.demo.test")
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return tasks.report.AsyncResult(response.json()["task_id"]).get(timeout=30)

    check("GET acme.demo.test/report/ → report.delay()", "acme", lambda: via_http("acme"))
    check("GET globex.demo.test/report/ → report.delay()", "globex", lambda: via_http("globex"))
    check("report.apply_async(tenant_id='globex') outside any request", "globex",
          lambda: tasks.report.apply_async(("explicit",), tenant_id="globex").get(timeout=30))
    check("flaky.delay(tenant_id='acme'): fails once, self.retry()", "acme",
          lambda: tasks.flaky.delay("retry", tenant_id="acme").get(timeout=30))
    check("chain(step × 3).apply_async(tenant_id='globex')", ["globex"] * 3,
          lambda: chain(tasks.step.s(None, "step 1"), tasks.step.s("step 2"),
                        tasks.step.s("step 3")).apply_async(tenant_id="globex").get(timeout=30))
    check("chord([report × 3], summary) in a request context of acme", ["acme"] * 4,
          lambda: _chord_in_context(chord, tasks))
    check("GET ghost.demo.test/report/ (unknown tenant)", "HTTP 404", lambda: via_http("ghost"))

    def ghost() -> Any:
        result = tasks.report.apply_async(("ghost body",), tenant_id="ghost")
        try:
            result.get(timeout=30)
        except Exception as exc:
            ran = Ran.objects.filter(label="ghost body").exists()
            return f"{type(exc).__name__}, body ran: {ran}"
        return "SUCCESS (wrong)"

    check("report.apply_async(tenant_id='ghost') (unknown)",
          "TenantNotFound, body ran: False", ghost)
    return rows


def _chord_in_context(chord: Any, tasks: Any) -> Any:
    from demosite.models import Tenant

    from .context import TenantContext

    with TenantContext.use_tenant(Tenant.objects.get(slug="acme")):
        result = chord([tasks.report.s(f"chord part {i}") for i in range(3)],
                       tasks.summary.s()).apply_async()
    return result.get(timeout=40)


def show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_table(rows: List[Row]) -> None:
    headings = ("", "queued", "expected", "worker saw")
    table: List[Tuple[str, ...]] = [
        (OK if r.ok else BAD, r.what, r.expected, r.seen) for r in rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(headings, *table)]
    line = "  ".join("-" * w for w in widths)
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headings, widths)))
    print(line)
    for row in table:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
    print()
