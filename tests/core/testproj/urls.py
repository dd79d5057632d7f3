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


async def async_whoami(request):
    return JsonResponse({"tenant": _seen()})


urlpatterns = [path("whoami/", whoami), path("async/", async_whoami)]
