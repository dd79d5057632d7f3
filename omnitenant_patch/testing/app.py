"""What ``tenant_worker`` runs ``celery -A`` on: the project's own Celery app, consuming the test
run's own queue, on the test run's databases.

Read from the environment the fixture sets: ``OMNITENANT_TESTING_APP`` (what ``celery -A``
would take), ``OMNITENANT_TESTING_QUEUE``, and ``OMNITENANT_TESTING_DATABASES`` (JSON:
alias -> database name, the test databases pytest-django made).
"""

import json
import os

from omnitenant_patch.celery_compat import find_app, set_default_queue

app = find_app(os.environ["OMNITENANT_TESTING_APP"])
set_default_queue(app, os.environ["OMNITENANT_TESTING_QUEUE"])

_databases = json.loads(os.environ.get("OMNITENANT_TESTING_DATABASES") or "{}")
if _databases:
    from django.conf import settings

    for _alias, _name in _databases.items():
        settings.DATABASES[_alias]["NAME"] = _name
