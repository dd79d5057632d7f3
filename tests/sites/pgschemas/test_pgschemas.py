"""django-pgschemas: the scenarios every library passes, static and dynamic tenants alike."""

from sitekit.scenarios import *  # noqa: F401,F403
