from django.http import HttpRequest

from tenants.models import Tenant


def tenant(request: HttpRequest) -> dict:
    current = getattr(request, "tenant", None)
    notice = ""
    if current is not None and current.status == Tenant.Status.SUSPENDED:
        # Shown on every page, the sign-in page first: why nothing can be sent.
        notice = ("This account is suspended" + (f": {current.status_reason}"
                                                 if current.status_reason else ".")
                  + " Messages cannot be sent; reading and receiving still work.")
    return {"tenant": current, "is_public_site": current is None or current.is_public,
            "tenant_notice": notice}
