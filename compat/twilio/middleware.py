"""Routes the Twilio dialect's paths (``/2010-04-01/...``, ``/v1/...``) to its own URL
configuration on every host: the public host serves every account (as api.twilio.com
does), a tenant's host its own. It runs after the tenant middleware, which tells the
views which host was called; the account in the credentials chooses the schema."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PREFIXES = ("/2010-04-01/", "/v1/")
URLCONF = "compat.twilio.urls"


class TwilioDialectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PREFIXES):
            request.urlconf = URLCONF
        return self.get_response(request)
