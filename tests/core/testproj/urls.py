from django.http import JsonResponse
from django.urls import path

from omnitenant_patch import TenantContext


def _seen():
    tenant = TenantContext.get_tenant()
    return None if tenant is None else tenant.tenant_id


def whoami(request):
    from testproj.tasks import whoami as task

    result = task.delay("http")  # no tenant_id: the request's tenant is captured
    return JsonResponse({"tenant": _seen(), "request_tenant": str(request.tenant),
                         "task_id": result.id})


def customer_orders(request):
    """Queue the customer's orders task (to the worker the test names: its broker and queue)."""
    from testproj.tasks import customer_orders as task

    with task.app.connection_for_write(request.GET["broker"]) as connection:
        result = task.apply_async(("http",), queue=request.GET["queue"], connection=connection)
    return JsonResponse({"task_id": result.id})


async def async_whoami(request):
    return JsonResponse({"tenant": _seen()})


urlpatterns = [path("whoami/", whoami), path("async/", async_whoami),
               path("customer-orders/", customer_orders)]
