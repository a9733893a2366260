"""The plumbing every dialect endpoint shares: HTTP Basic credentials checked against the
account, the tenant chosen by the account (never by the host alone), the per-credential
rate limit, form-encoded bodies, and Twilio's error answers."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from compat.twilio.credentials import Principal, twilio_authenticate
from compat.twilio.errors import (
    AUTHENTICATE,
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    TOO_MANY_REQUESTS,
    TwilioError,
    error_response,
)
from core.rate_limit import tokens_reserve
from core.text import text_problem, text_storable

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Endpoint = Callable[..., HttpResponse]


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, colon, password = base64.b64decode(encoded.strip(), validate=True
                                                      ).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    # Checked before any lookup: a NUL or a lone surrogate cannot reach the database.
    if not (colon and username) or text_problem(username) or text_problem(password):
        return None
    return username, password


def _refused() -> HttpResponse:
    response = error_response(AUTHENTICATE, "Authenticate", 401)
    response["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


def _principal(request: HttpRequest, account_sid: str | None) -> Principal | None:
    """Who sends the request, if their credentials open ``account_sid`` (the path's; any
    account of theirs when the path names none) on this host: the public host serves
    every account, a tenant's host only that tenant's."""
    credentials = _credentials(request)
    if credentials is None:
        return None
    principal = twilio_authenticate(username=credentials[0], password=credentials[1])
    if principal is None:
        return None
    if account_sid is not None and principal.account.sid != account_sid:
        return None
    host_tenant = getattr(request, "tenant", None)
    if host_tenant is not None and not host_tenant.is_public \
            and host_tenant.pk != principal.account.tenant_id:
        return None
    return principal


def _throttled(principal: Principal) -> HttpResponse | None:
    allowed, wait = tokens_reserve(
        key=f"api:{connection.schema_name}:twilio:{principal.label}",
        rate=settings.API_THROTTLE_RATE, cost=1, max_wait=0)
    if allowed:
        return None
    response = error_response(TOO_MANY_REQUESTS, "Too Many Requests", 429)
    response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def form_params(request: HttpRequest) -> QueryDict:
    """The request's parameters: the query string of a GET, the form of a POST (a body
    in another format is refused, not guessed at)."""
    if request.method != "POST":
        return request.GET
    if request.content_type not in FORM_TYPES and request.body:
        raise TwilioError(BAD_REQUEST, "The request body must be form-encoded "
                                       "(application/x-www-form-urlencoded), as Twilio's "
                                       "API takes it; this one is "
                                       f"{request.content_type or 'of no declared type'}.")
    return request.POST


def _text_checked(request: HttpRequest) -> None:
    """Refuse parameters holding text no column can store (NUL, lone surrogates) before
    anything reads them."""
    params = [*request.GET.lists()]
    if request.method == "POST":
        params += form_params(request).lists()
    for name, values in params:
        for text in (name, *values):
            if (problem := text_problem(text)) is not None:
                raise TwilioError(BAD_REQUEST, f"{text_storable(name)}: {problem[1]}")


def twilio_endpoint(*methods: str, account_in_path: bool = True) -> Callable[[Endpoint], Endpoint]:
    """Make a view a dialect endpoint answering ``methods`` (HEAD as GET).

    The view runs in the principal's tenant schema and is called as
    ``view(request, principal, **path_kwargs)``; a ``TwilioError`` it raises becomes
    Twilio's error answer. Without ``account_in_path`` (the v1 APIs), the credentials
    alone name the account.
    """
    def decorate(view: Endpoint) -> Endpoint:
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            account_sid = kwargs.pop("account_sid") if account_in_path else None
            principal = _principal(request, account_sid)
            if principal is None:
                return _refused()
            method = "GET" if request.method == "HEAD" else request.method
            if method not in methods:
                return error_response(METHOD_NOT_ALLOWED, "Method not allowed", 405)
            connection.set_tenant(principal.account.tenant)
            if (refusal := _throttled(principal)) is not None:
                return refusal
            try:
                _text_checked(request)
                return view(request, principal, **kwargs)
            except TwilioError as exc:
                return error_response(exc.code, exc.message, exc.status)
        endpoint.twilio_methods = methods  # type: ignore[attr-defined] # read by the matrices
        return endpoint
    return decorate


def resource_response(data: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def not_found_error(request: HttpRequest) -> TwilioError:
    return TwilioError(NOT_FOUND, f"The requested resource {request.path} was not found",
                       status=404)
