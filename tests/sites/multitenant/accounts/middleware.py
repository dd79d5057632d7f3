"""The request's account, set and unset around the view, as django-multitenant's docs advise."""

from django_multitenant.utils import set_current_tenant, unset_current_tenant


class MultitenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        account = getattr(getattr(request, "user", None), "account", None)
        if account is not None:
            set_current_tenant(account)
        try:
            return self.get_response(request)
        finally:
            unset_current_tenant()
