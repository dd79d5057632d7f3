# Celery docs: First steps with Django (proj/celery.py)
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from celery import Celery  # noqa: E402

app = Celery("tracing_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
