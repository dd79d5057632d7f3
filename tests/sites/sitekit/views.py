"""A view every site serves: it queues the probe task (to the queue the test names) and says which
tenant the request ran in, by the library's own notion."""

from django.http import JsonResponse
from django.urls import path


def queue_probe(request):
    from notes.tasks import probe
    from tenancy import current_id

    result = probe.apply_async(("http",), queue=request.GET["queue"])
    return JsonResponse({"tenant": current_id(), "task_id": result.id})


urlpatterns = [path("queue/", queue_probe)]
