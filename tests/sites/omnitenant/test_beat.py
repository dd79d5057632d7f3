"""Periodic tasks per tenant on this site, with a real `celery beat` (SITE_BEAT=1): every
scheduler, and each tenant's own django-celery-beat rows."""

from sitekit.beat import *  # noqa: F401,F403
