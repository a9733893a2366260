"""Who may use the operator console: active staff of the public schema. Writes may need
a permission on top (superusers have every one)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# The sender review's permission, as before the console had pages of its own.
REVIEW_PERMISSION = "tenants.change_senderroute"
CONNECTION_PERMISSION = "tenants.change_providerconnection"
ROUTE_PERMISSION = "tenants.change_route"


def operator_required(perm: str | None = None) -> Callable:
    """Send anyone but active operator staff to the console's sign-in; refuse (403) staff
    without ``perm``."""
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not (user.is_authenticated and user.is_active and user.is_staff):
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('console:login')}?{query}")
            if perm is not None and not user.has_perm(perm):
                raise PermissionDenied(f"This needs the permission {perm}.")
            return view(request, *args, **kwargs)
        return wrapped
    return decorate
