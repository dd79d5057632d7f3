from django.http import JsonResponse
from django.urls import path


def report(request):
    """A view that reports an error to sentry-sdk (its event says which tenant it came from) and
    queues the probe task (to the queue the test names): the request's tenant, by the site's own
    notion, and the task's id."""
    import sentry_sdk
    from probes.tasks import whoami
    from tenancy import current_id

    sentry_sdk.capture_message(request.GET["message"])
    sentry_sdk.flush()
    queued = whoami.apply_async(("http",), queue=request.GET["queue"])
    return JsonResponse({"tenant": current_id(), "task_id": queued.id})


urlpatterns = [path("report/", report)]
