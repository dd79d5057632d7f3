"""django-multitenant: the scenarios every library passes, judged by the rows each task reads."""

from sitekit.scenarios import *  # noqa: F401,F403
