"""The OpenAPI description of the API (drf-spectacular): the bearer-key scheme, the one
error format on every operation, and the headers every client meets (``Idempotency-Key``,
``Retry-After``).

Errors are declared here once rather than on each view: every operation can answer 400, 401,
403, 404 and 429 in the same shape, so a client generated from the schema handles them all.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class FieldErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable reason.")
    detail = serializers.CharField(help_text="What is wrong, for people.")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=(
        "A stable code: the domain's (`invalid_phone_number`, `recipient_opted_out`, "
        "`idempotency_key_reused`, ...) or `validation_error`, `not_authenticated`, "
        "`permission_denied`, `not_found`, `method_not_allowed`, `unsupported_media_type`, "
        "`throttled`."))
    detail = serializers.CharField(help_text="What went wrong and how to fix it.")
    fields = serializers.DictField(
        child=FieldErrorSerializer(many=True), required=False,
        help_text="Per-field errors: a field's name (dotted for nested ones) to its errors.")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


_ERRORS = {
    "400": _error("The request is invalid; `fields` names what to fix."),
    "401": _error("No API key, or an unknown or revoked one."),
    "403": _error("The key lacks the scope this operation needs; or, on a send, the "
                  "account may not send now: `tenant_suspended`, `tenant_closed`, "
                  "`quota_exceeded` (the plan's monthly segments are used up)."),
    "404": _error("No such object for this tenant, or no such path."),
    "429": _error("Too many requests for this key; retry after `Retry-After` seconds."),
}
_BODY_ERRORS = {
    "415": _error("The body is not `application/json`."),
}
_POST_ERRORS = {
    "422": _error("`idempotency_key_reused`: this Idempotency-Key came with another body."),
}

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
