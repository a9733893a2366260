"""The API's documentation pages, served offline (drf-spectacular-sidecar).

Redoc's bundle draws its maker's logo from a CDN whatever its options, so the page loads
a copy of the bundle whose logo is an inline image (``redoc_bundle``); a Content-Security-
Policy keeps every other fetch of these pages on this host, so a reader's browser never
calls out.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# The pages start their bundles with inline scripts (drf-spectacular's templates); Redoc
# renders in a blob: worker and Swagger UI draws its icons from data: URLs.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
            "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'")
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# An empty picture in the logo's place: the footer link keeps its text.
INLINE_LOGO = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


class _SameHostOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerView(_SameHostOnly, SpectacularSwaggerView):
    pass


class RedocView(_SameHostOnly, SpectacularRedocView):
    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api_redoc_bundle")


@functools.cache
def _redoc_bundle() -> bytes:
    bundle = Path(finders.find(REDOC_BUNDLE)).read_bytes()
    if REDOC_LOGO not in bundle:
        # Another Redoc release: its logo moved, and this page would call out again.
        raise RuntimeError(f"{REDOC_BUNDLE} no longer holds {REDOC_LOGO.decode()}")
    return bundle.replace(REDOC_LOGO, INLINE_LOGO)


@require_GET
@cache_control(max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """Redoc's bundle with its logo inline, read and changed once per process."""
    return HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")
