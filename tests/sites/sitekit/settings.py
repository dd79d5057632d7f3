"""What every site's settings share, read from SITE_* variables so that the test process and
each `celery worker` read the same: a throwaway secret, the database, Celery on Redis (or
RabbitMQ, results in Redis).

Only what Django itself needs and what Celery's "First steps with Django" page asks for; each
library's settings are in its site's own ``project/settings.py``, as its docs give them.
"""

import os

SECRET_KEY = "site-tests-only"  # Django: required setting (test plumbing: a throwaway value)
DEBUG = False  # Django: Settings › DEBUG (never on outside development)
ALLOWED_HOSTS = ["*"]  # test plumbing: requests name each tenant's host (acme.localhost, ...)
USE_TZ = True  # Django: startproject's settings.py
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"  # Django: startproject's apps.py / settings
ROOT_URLCONF = "project.urls"  # Django: required setting (each site's project/urls.py)

# Celery docs: First steps with Django (config_from_object(..., namespace="CELERY"): every
# Celery setting is CELERY_-prefixed); test plumbing: the run's broker and result backend.
CELERY_BROKER_URL = os.environ.get("SITE_BROKER", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("SITE_RESULTS", "cache+memory://")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SITE_QUEUE", "celery")  # test plumbing: per-run queue
# test plumbing: a chord body gets its header's results in header order: Celery 5's default,
# which Celery 4.4's Redis backend only follows when asked (otherwise completion order, and the
# chord scenario's comparison would depend on which member finished first).
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"result_chord_ordered": True}

#: test plumbing: SITE_PATCH=none leaves the patch out: every scenario must then fail.
PATCHED = os.environ.get("SITE_PATCH") != "none"


def tracing(when):
    """SITE_TRACING's integration, if it is set up ``when`` ("before" or "after") the one line
    (see sitekit.telemetry). Any site can run one."""
    from sitekit import telemetry

    telemetry.set_up(when)


def database(engine, default_name):
    """The site's PostgreSQL database (test plumbing: the run's name, and its CONN_MAX_AGE: 0,
    60 or None); ``engine`` is the one the site's library docs name."""
    age = os.environ.get("SITE_CONN_MAX_AGE", "0")
    return {"ENGINE": engine, "NAME": os.environ.get("SITE_DB", default_name),
            "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
            "CONN_MAX_AGE": None if age == "None" else int(age)}


#: test plumbing: SITE_BEAT=1 installs django-celery-beat (each site's settings say where, as the
#: docs do) and runs the beat scenarios (sitekit/beat.py) only.
BEAT = os.environ.get("SITE_BEAT") == "1"


def beat_schedule():
    """test plumbing: the beat scenarios' entries (sitekit/beat.py), each writing a note labelled
    SITE_BEAT_LABEL: one in SITE_BEAT_ONE's tenant, one in every tenant."""
    label = os.environ.get("SITE_BEAT_LABEL")
    if not label:
        return {}
    return {
        "one": {"task": "site.write", "schedule": 1.0, "args": (f"{label}:one",),
                "options": {"tenant_id": os.environ["SITE_BEAT_ONE"]}},
        "every": {"task": "site.write", "schedule": 1.0, "args": (f"{label}:every",),
                  "options": {"tenants": "__all__"}},
    }
