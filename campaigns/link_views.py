"""The short links campaigns send, ``/l/<code>``: on the public host for any tenant's code
(``PUBLIC_BASE_URL`` is the public host), on a tenant's host for its own codes only. Open
to anyone; see ``campaigns.links``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from campaigns.links import link_open


@require_http_methods(["GET", "HEAD"])
def link_follow(request: HttpRequest, code: str) -> HttpResponse:
    """302 to the link's URL; a person's GET counts a click, a HEAD or a link preview does
    not. An unknown code is 404."""
    tenant = request.tenant
    url = link_open(code=code, host_schema=None if tenant.is_public else tenant.schema_name,
                    count=request.method == "GET",
                    user_agent=request.headers.get("User-Agent", ""),
                    client_address=request.META.get("REMOTE_ADDR", ""))
    if url is None:
        return render(request, "campaigns/link_unknown.html", status=404)
    response = HttpResponseRedirect(url)
    # Every visit must reach us to be counted: no browser or proxy keeps the redirect.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
