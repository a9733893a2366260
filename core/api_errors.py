"""One error format for the whole API (docs/API.md): ``{"code", "detail", "fields"?}``."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.api_parsers import InvalidEncoding
from core.errors import DomainError

logger = logging.getLogger(__name__)

CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    # Django's own, raised by get_object_or_404 and the like; DRF answers them as its own.
    Http404: "not_found",
    PermissionDenied: "permission_denied",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
    InvalidEncoding: "invalid_encoding",
    exceptions.ParseError: "parse_error",
}


PAYLOAD_TOO_LARGE = "payload_too_large"


def payload_too_large() -> dict[str, str]:
    """The answer to a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, which Django refuses to
    read (its own answer would be an HTML 400)."""
    megabytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    return {"code": PAYLOAD_TOO_LARGE,
            "detail": f"The request body is over {megabytes:g} MB: send less at once."}


def domain_error_response(exc: DomainError, http_status: int = 400) -> Response:
    body = {"code": exc.code, "detail": exc.detail}
    if exc.field:
        body["fields"] = {exc.field: [{"code": exc.code, "detail": exc.detail}]}
    return Response(body, status=http_status)


def _fields(detail, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """Flatten DRF's nested errors into ``{"field" or "a.0.b": [{code, detail}]}``."""
    found: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            found.update(_fields(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list) and detail and not all(
        isinstance(item, exceptions.ErrorDetail) for item in detail
    ):
        for index, value in enumerate(detail):
            found.update(_fields(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, list):
        found[prefix or "non_field_errors"] = [
            {"code": item.code, "detail": str(item)} for item in detail
        ]
    else:
        found[prefix or "non_field_errors"] = [{"code": detail.code, "detail": str(detail)}]
    return found


def api_exception_handler(exc, context) -> Response | None:
    if isinstance(exc, DomainError):
        return domain_error_response(exc, exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(payload_too_large(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        first = next(iter(fields.values()))[0]
        response.data = {"code": "validation_error", "detail": first["detail"], "fields": fields}
        return response
    code = next((code for cls, code in CODES.items() if isinstance(exc, cls)), None)
    if code is None:
        code = getattr(exc, "default_code", "error")
    if response.status_code == status.HTTP_403_FORBIDDEN and code == "not_authenticated":
        response.status_code = status.HTTP_401_UNAUTHORIZED
    response.data = {"code": code, "detail": str(getattr(exc, "detail", exc))}
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 for paths no view matched: JSON under /api/, the HTML page elsewhere
    (``templates/404.html``, with the navigation of whoever is signed in)."""
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": "No such path in this API."},
                            status=404)
    return defaults.page_not_found(request, exception)


def unknown_host(request: HttpRequest) -> HttpResponse:
    """The answer on a host that is no tenant's (``DEFAULT_NOT_FOUND_TENANT_VIEW``): an API
    client learns that the host, not the path, is wrong; a browser gets the 404 page
    pointing to the public site."""
    host = request.get_host().rsplit(":", 1)[0]
    if _is_api(request):
        return JsonResponse({"code": "unknown_tenant",
                             "detail": f"No workspace is served at {host}: check the host "
                                       "name in the URL."}, status=404)
    return render(request, "404.html", {
        "unknown_host": host, "public_url": settings.PUBLIC_BASE_URL,
        # No tenant, so no navigation: not even the public site's, whose paths are not here.
        "is_public_site": False}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """JSON under /api/; elsewhere ``templates/500.html``, with the navigation when the
    request can still tell who is signed in (the failure may be the database's, and then
    the page is rendered without it)."""
    if _is_api(request):
        return JsonResponse({"code": "server_error",
                             "detail": "Something failed on our side; it has been logged."},
                            status=500)
    try:
        return render(request, "500.html", status=500)
    except Exception:  # whatever broke the page may break this one too
        logger.exception("the 500 page could not be rendered with the request")
        return defaults.server_error(request)
