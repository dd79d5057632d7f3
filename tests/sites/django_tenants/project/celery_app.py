"""The site's Celery app: plain Celery, or (SITE_CELERY=tenant-schemas-celery) the CeleryApp of a
site that has not finished moving off tenant-schemas-celery."""

# Celery docs: First steps with Django (proj/celery.py)
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

if os.environ.get("SITE_CELERY") == "tenant-schemas-celery":
    # tenant-schemas-celery docs: README › Usage (its CeleryApp), configured the Celery-docs way
    # below (namespace="CELERY"; its README's config_from_object has no namespace)
    from tenant_schemas_celery.app import CeleryApp as Celery
else:
    from celery import Celery

app = Celery("django_tenants_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
