"""The OpenAPI description of the API (drf-spectacular): the bearer-key scheme, the one
error format on every operation, and the headers every client meets (``Idempotency-Key``,
``Retry-After``).

Errors are declared here once rather than on each view: every operation can answer 400, 401,
403, 404 and 429 in the same shape, so a client generated from the schema handles them all.
An operation names the domain codes it answers with ``core.api_docs.refusals``
(docs/ARCHITECTURE.md#api-reference).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core.api_docs import GENERIC_ERRORS, error_response

_ERRORS = {str(status): error_response(GENERIC_ERRORS[status])
           for status in (400, 401, 403, 404, 429)}
_BODY_ERRORS = {str(status): error_response(GENERIC_ERRORS[status]) for status in (413, 415)}
_POST_ERRORS = {str(status): error_response(GENERIC_ERRORS[status]) for status in (409, 422)}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description=(
        "Any unique string (a UUID, say) up to 255 characters. Repeating a POST with the same "
        "key and body within 24 hours returns the first response (with "
        "`Idempotent-Replayed: true`) and does nothing again, even when the requests race; "
        "the same key with another body answers 422 `idempotency_key_reused`."),
)


class AutoSchema(BaseAutoSchema):
    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _resolve_path_parameters(self, variables) -> list[dict]:
        """A path's ids are described by the word before them: ``/lists/{id}`` is "The
        list's id."; other path parameters describe themselves (``extend_schema``)."""
        parameters = super()._resolve_path_parameters(variables)
        words = self.path.split("/")
        for parameter in parameters:
            placeholder = f"{{{parameter['name']}}}"
            if not parameter.get("description") and placeholder in words:
                resource = words[words.index(placeholder) - 1]
                parameter["description"] = (
                    f"The {resource.removesuffix('s').replace('-', ' ')}'s id.")
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        errors = dict(_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(_BODY_ERRORS)
        if self.method == "POST":
            errors.update(_POST_ERRORS)
        for code, response in errors.items():
            responses.setdefault(code, self._get_response_for_code(response, code,
                                                                   direction=direction))
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response") -> dict:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before the next request.",
            }
        return headers


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "messaging.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http", "scheme": "bearer",
            "description": ("`Authorization: Bearer <key>`. Keys are created by a tenant's "
                            "admins (API keys page or `create_api_key`) and shown once."),
        }
