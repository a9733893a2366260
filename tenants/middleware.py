"""A closed tenant's host answers nothing but why (docs/ARCHITECTURE.md#tenant-status):
no sign-in, no pages, no API. Provider webhooks and health checks are answered earlier in
the stack, and a closed tenant's senders are unrouted there."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.errors import TENANT_CLOSED
from tenants.models import Tenant


class ClosedTenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.status != Tenant.Status.CLOSED:
            return self.get_response(request)
        detail = "This account is closed" + (f": {tenant.status_reason}"
                                             if tenant.status_reason else ".")
        if request.path.startswith("/api/"):
            return JsonResponse({"code": TENANT_CLOSED, "detail": detail}, status=403)
        return render(request, "tenants/closed.html", {"detail": detail}, status=403)
