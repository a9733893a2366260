"""Routes the Twilio dialect's paths (``/2010-04-01/...``, ``/v1/...``) to its own URL
configuration on every host: the public host serves every account (as api.twilio.com
does), a tenant's host its own. It runs after the tenant middleware, which tells the
views which host was called; the account in the credentials chooses the schema.

The dialect's views then answer every request themselves, in Twilio's error format:
the project's later view middleware (CSRF, which Basic-auth calls do not need, and the
check of unstorable text, which ``compat.twilio.http`` makes itself) are not run for
them."""

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

    def process_view(self, request: HttpRequest, view_func: Callable[..., HttpResponse],
                     view_args: tuple, view_kwargs: dict) -> HttpResponse | None:
        if getattr(request, "urlconf", None) != URLCONF:
            return None
        return view_func(request, *view_args, **view_kwargs)
