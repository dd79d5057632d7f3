# Celery docs: First steps with Django (proj/celery.py); django-omnitenant docs: Installation ›
# Celery Configuration › Basic Setup (config/celery.py, the same lines)
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from celery import Celery  # noqa: E402

app = Celery("omnitenant_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
