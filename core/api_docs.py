"""What every app's API reference shares (docs/ARCHITECTURE.md#api-reference): the error
format as a schema component with an example per status, the way an operation lists the
domain codes it answers (``refusals``), and the words for fields every resource has.

In ``core`` so that each app describes its own operations without importing another's
API module.
"""

from __future__ import annotations

from collections.abc import Sequence

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

ID = "Its id, unique within your account."
CREATED_AT = "When it was created (ISO 8601, UTC)."
UPDATED_AT = "When it last changed (ISO 8601, UTC)."
# The moment the examples happen at.
DATE = "2026-11-23T14:00:00Z"


class FieldErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable reason.")
    detail = serializers.CharField(help_text="What is wrong, for people.")


def _example(status: int, code: str, detail: str, **extra) -> OpenApiExample:
    return OpenApiExample(code, response_only=True, status_codes=[str(status)],
                          value={"code": code, "detail": detail, **extra})


@extend_schema_serializer(examples=[
    _example(400, "validation_error", "This field is required.",
             fields={"to": [{"code": "required", "detail": "This field is required."}]}),
    _example(401, "not_authenticated", "Unknown or revoked API key."),
    _example(403, "permission_denied", "This key lacks the scope settings."),
    _example(404, "not_found", "No Message matches the given query."),
    _example(409, "idempotency_key_in_use", "A request with this Idempotency-Key is still "
                                            "running; retry in a few seconds."),
    _example(413, "payload_too_large", "The request body is over 21 MB: send less at once."),
    _example(415, "unsupported_media_type",
             'Unsupported media type "text/plain" in request.'),
    _example(422, "idempotency_key_reused", "This Idempotency-Key was used with another "
                                            "request; use a new key for a new request."),
    _example(429, "throttled", "Request was throttled. Expected available in 1 second."),
])
class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=(
        "A stable code: the domain's (`invalid_phone_number`, `recipient_opted_out`, "
        "`idempotency_key_reused`, ...) or `validation_error`, `not_authenticated`, "
        "`permission_denied`, `not_found`, `method_not_allowed`, `payload_too_large`, "
        "`unsupported_media_type`, `throttled`. Program against it, not against `detail`."))
    detail = serializers.CharField(help_text="What went wrong and how to fix it, for people.")
    fields = serializers.DictField(
        child=FieldErrorSerializer(many=True), required=False,
        help_text="Per-field errors: a field's name (dotted for nested ones, "
                  "`messages.3.to`) to its errors.")


GENERIC_ERRORS = {
    400: "The request is invalid (`validation_error`); `fields` names what to fix.",
    401: "No API key, or an unknown or revoked one: `not_authenticated`.",
    403: "The key lacks the scope this operation needs: `permission_denied`; or, on a "
         "send, the account may not send now: `tenant_suspended`, `tenant_closed`, "
         "`quota_exceeded` (the plan's monthly segments are used up).",
    404: "No such object for this tenant, or no such path: `not_found`.",
    409: "`idempotency_key_in_use`: a request with this Idempotency-Key is still running; "
         "retry in a few seconds.",
    413: "The body is over the size a request may have (21 MB): `payload_too_large`.",
    415: "The body is not `application/json`: `unsupported_media_type`.",
    422: "`idempotency_key_reused`: this Idempotency-Key came with another request.",
    429: "Too many requests for this key: `throttled`; retry after `Retry-After` seconds.",
}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def refusals(by_status: dict[int, Sequence[str]]) -> dict[int, OpenApiResponse]:
    """The error answers of an operation that refuses with domain codes, for
    ``extend_schema(responses=...)``: each status lists its codes (400 adds them to
    ``validation_error``; a POST's 409 should name ``idempotency_key_in_use`` too)."""
    responses = {}
    for status, codes in by_status.items():
        listed = ", ".join(f"`{code}`" for code in codes)
        if status == 400:
            listed = f"`validation_error`, {listed}"
        responses[status] = error_response(f"Refused: {listed}.")
    return responses
