from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from messaging.onboarding import onboarding_pending


def onboarding(request: HttpRequest) -> dict:
    """``onboarding``: the first-run checklist while a step is left (``base.html``'s banner,
    the dashboard), for owners and admins on a tenant's host; computed only when a
    template reads it."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or tenant.is_public or user is None or not user.is_authenticated \
            or not user.is_tenant_admin:
        return {"onboarding": None}
    return {"onboarding": SimpleLazyObject(onboarding_pending)}
