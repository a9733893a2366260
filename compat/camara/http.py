"""What every operation of the dialect shares: API keys as Bearer, CAMARA's error envelope,
and the ``x-correlator`` header, checked against Commonalities' pattern and echoed."""

from __future__ import annotations

import re

from django.http import HttpRequest, JsonResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from compat.camara.errors import CamaraError, camara_exception_handler, envelope

# Commonalities' XCorrelator: at most 256 of these characters.
X_CORRELATOR = re.compile(r"[a-zA-Z0-9\-_:;./<>{}]{0,256}")


def correlator(request: HttpRequest) -> str | None:
    """The request's ``x-correlator`` when it is well formed, else None."""
    value = request.META.get("HTTP_X_CORRELATOR")
    return value if value is not None and X_CORRELATOR.fullmatch(value) else None


class CamaraView(APIView):
    """A CAMARA operation: the project's API keys (``Authorization: Bearer <key>``, their
    scopes and rate limit), never a browser session; JSON in and out; every refusal in
    CAMARA's envelope."""

    authentication_classes = [cls for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
                              if not issubclass(cls, SessionAuthentication)]
    # Not in /api/schema/: the dialect has its own document (/sms/v0alpha1/openapi.json).
    schema = None

    def get_exception_handler(self):
        return camara_exception_handler

    def initial(self, request: Request, *args, **kwargs) -> None:
        # First: an answer that cannot echo the correlator must say why before anything.
        if ("HTTP_X_CORRELATOR" in request.META) and correlator(request) is None:
            raise CamaraError(400, "x-correlator must be at most 256 letters, digits and "
                                   "the characters -_:;./<>{}.")
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Response, *args,
                          **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (value := correlator(request)) is not None:
            response["x-correlator"] = value
        return response


def not_found(request: HttpRequest) -> JsonResponse:
    """A path under the dialect's base paths that names no operation."""
    response = JsonResponse(envelope(404, "No such path in this API."), status=404)
    if (value := correlator(request)) is not None:
        response["x-correlator"] = value
    return response
