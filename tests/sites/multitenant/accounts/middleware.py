"""The request's account, set and unset around the view, as django-multitenant's docs advise
projects to write it: here from the host, ``<account name>.localhost``."""

from django_multitenant.utils import set_current_tenant, unset_current_tenant

from accounts.models import Account


class MultitenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.get_host().split(":")[0].rsplit(".localhost", 1)[0]
        account = Account._base_manager.filter(name=name).first()
        if account is not None:
            set_current_tenant(account)
        try:
            return self.get_response(request)
        finally:
            unset_current_tenant()
