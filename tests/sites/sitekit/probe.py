"""Inside a task: where its queries ran and what they read (the probe tasks' answer)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional


def where(model: Any, tenant_id: Callable[[], Optional[str]], label: Any = None) -> Dict[str, Any]:
    """The library's current tenant, PostgreSQL's ``current_schema()`` / ``current_database()``
    on the connection ``model`` is read through, and ``model``'s rows (``None`` where its table
    does not exist, as in the shared schema)."""
    from django.db import connections, router, transaction

    alias = router.db_for_read(model)
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_schema(), current_database()")
        schema, database = cursor.fetchone()
    try:
        with transaction.atomic(using=alias):
            rows = sorted(model._default_manager.values_list("text", flat=True))
    except Exception as exc:  # the table is not there: the shared schema / master database
        rows = None if "does not exist" in str(exc) else f"{type(exc).__name__}: {exc}"
    return {"tenant": tenant_id(), "schema": schema, "database": database, "rows": rows,
            "label": label}
