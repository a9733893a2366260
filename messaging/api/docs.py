"""The API's documentation pages, served offline (drf-spectacular-sidecar).

Redoc's bundle draws its maker's logo from a CDN whatever its options; a Content-Security-
Policy keeps every fetch of these pages on this host, so a reader's browser never calls out.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# The pages start their bundles with inline scripts (drf-spectacular's templates); Redoc
# renders in a blob: worker and Swagger UI draws its icons from data: URLs.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
            "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'")


class _SameHostOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerView(_SameHostOnly, SpectacularSwaggerView):
    pass


class RedocView(_SameHostOnly, SpectacularRedocView):
    pass
