from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def tenant_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Owners and admins only; agents get 403 (roles are enforced here, not in templates)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_tenant_admin:
            raise PermissionDenied("Only owners and admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapper
