# Celery docs: First steps with Django (proj/__init__.py: "This ensures that the app is loaded
# when Django starts so that the @shared_task decorator will use it"); the docs' proj/celery.py
# is this site's project/celery_app.py.
from .celery_app import app as celery_app

__all__ = ("celery_app",)
