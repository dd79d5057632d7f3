"""What every site's settings share, read from SITE_* variables so that the test process and
each `celery worker` read the same: a throwaway secret, the database, Celery on Redis (or
RabbitMQ, results in Redis)."""

import os

SECRET_KEY = "site-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "project.urls"

CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_RESULTS", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A chord body gets its header's results in header order: Celery 5's default, which Celery 4.4's
# Redis backend only follows when asked (otherwise completion order, and the chord scenario's
# comparison would depend on which member finished first).
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"result_chord_ordered": True}

#: SITE_PATCH=none leaves the patch out: every scenario must then fail.
PATCHED = os.environ.get("SITE_PATCH") != "none"


def tracing(when):
    """SITE_TRACING's integration, if it is set up ``when`` ("before" or "after") the one line
    (see sitekit.telemetry). Any site can run one."""
    from sitekit import telemetry

    telemetry.set_up(when)


def database(engine, default_name):
    """The site's PostgreSQL database, with the run's CONN_MAX_AGE (0, 60 or None)."""
    age = os.environ.get("SITE_CONN_MAX_AGE", "0")
    return {"ENGINE": engine, "NAME": os.environ.get("SITE_DB", default_name),
            "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
            "CONN_MAX_AGE": None if age == "None" else int(age)}
