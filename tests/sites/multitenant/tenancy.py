"""The site's own notion of the current tenant: django-multitenant's current account."""


def current_id():
    from django_multitenant.utils import get_current_tenant

    account = get_current_tenant()
    return None if account is None else str(account.pk)


def leak(tenant_id):
    """Set the account with django-multitenant's own API, and never unset it."""
    from accounts.models import Account
    from django_multitenant.utils import set_current_tenant

    set_current_tenant(Account._base_manager.get(pk=tenant_id))
