"""What the publish and worker sides share: the scope of the task running in this context.

The worker opens a task's ``Scope`` at ``task_prerun`` and closes it at ``task_postrun``
(``worker``); while it is open, whatever Celery publishes on the task's behalf (its retry, and
after the body returned its chain's next step, callbacks and chord body) inherits its tenant
(``publish``). Neither side imports the other: both import this.
"""

from __future__ import annotations

import contextvars
from typing import Any, Optional

#: The scope of the task between its task_prerun and task_postrun in this context.
current_scope: contextvars.ContextVar[Optional[Scope]] = contextvars.ContextVar(
    "omnitenant_current_scope", default=None
)


class Scope:
    """A task's tenant, from its task_prerun to its task_postrun, and how to leave it.

    Made current when created; ``worker.close_scope`` leaves the tenant and puts back the
    scope that was current before.
    """

    __slots__ = ("task", "task_id", "request", "tenant_id", "error", "backend", "token",
                 "entered", "in_body", "outer")

    def __init__(self, task: Any, task_id: Any, request: Any) -> None:
        self.task = task
        self.task_id = task_id
        self.request = request
        self.tenant_id: Optional[str] = None
        self.error: Optional[BaseException] = None
        self.backend: Any = None
        self.token: Any = None
        self.entered = False
        self.in_body = False
        self.outer: Any = current_scope.set(self)


def is_tenant_agnostic(task: Any, name: Optional[str] = None) -> bool:
    """Celery's own tasks, and tasks marked ``tenant_agnostic``, may run with no tenant."""
    name = name or getattr(task, "name", None) or ""
    return name.startswith("celery.") or bool(getattr(task, "tenant_agnostic", False))
