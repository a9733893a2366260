"""CAMARA's error answers: ``{"status", "code", "detail"}`` with CAMARA's codes, for every
refusal of this dialect, never a 500 without that envelope.

ShortMessageService r0.1 names the text ``detail`` (SMS.yaml); Commonalities and r0.1's
subscription file name it ``message``. One envelope serves the whole dialect, as the
contract in docs/CAMARA.md says.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core import errors as core_errors
from core.errors import DomainError

logger = logging.getLogger(__name__)

INVALID_ARGUMENT = "INVALID_ARGUMENT"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
INTERNAL = "INTERNAL"

# Commonalities' code for each status this dialect answers with.
CODES = {
    400: INVALID_ARGUMENT, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED, 406: NOT_ACCEPTABLE, 415: UNSUPPORTED_MEDIA_TYPE,
    429: TOO_MANY_REQUESTS, 500: INTERNAL,
}

# The domain's refusals that are about what the client may do rather than what it sent:
# a sender that is not the client's or not approved, a recipient who opted out, a tenant
# that may not send now. Every other domain refusal is a bad argument.
_PERMISSION_CODES = frozenset({
    core_errors.UNKNOWN_SENDER, "sender_not_approved", core_errors.RECIPIENT_OPTED_OUT,
    "tenant_suspended", "quota_exceeded",
})


class CamaraError(Exception):
    """A refusal in CAMARA's terms."""

    def __init__(self, http_status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = http_status
        self.code = CODES[http_status]
        self.detail = detail


def from_domain(exc: DomainError) -> CamaraError:
    """The CAMARA refusal for a domain error; the detail names our code, so a client can
    tell an opted-out recipient from an unapproved sender."""
    http_status = 403 if exc.code in _PERMISSION_CODES else 400
    return CamaraError(http_status, f"{exc.detail} ({exc.code})")


def envelope(http_status: int, detail: str) -> dict:
    return {"status": http_status, "code": CODES[http_status], "detail": detail}


def _validation_detail(detail, path: str = "") -> str:
    """The first problem of DRF's nested errors, with the field it concerns."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        name = "" if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
        return _validation_detail(value, name)
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, dict | list):
            index = next(i for i, item in enumerate(detail) if item)
            return _validation_detail(detail[index], f"{path}.{index}" if path else str(index))
        return _validation_detail(first, path)
    return f"{path}: {detail}" if path else str(detail)


def camara_exception_handler(exc, context) -> Response:
    """Every exception of a view of this dialect, as CAMARA's envelope. Unexpected ones are
    logged and answered 500 ``INTERNAL``: the envelope holds even then."""
    if isinstance(exc, DomainError):
        exc = from_domain(exc)
    if isinstance(exc, CamaraError):
        return Response(envelope(exc.status, exc.detail), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)  # sets Retry-After and the like
    if response is None:
        logger.exception("CAMARA request failed", exc_info=exc)
        return Response(envelope(500, "Something failed on our side; it has been logged."),
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        detail = _validation_detail(exc.detail)
    else:
        detail = str(getattr(exc, "detail", exc))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    http_status = response.status_code if response.status_code in CODES else 400
    response.status_code = http_status
    response.data = envelope(http_status, detail)
    return response
