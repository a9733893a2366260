"""The base of every refusal a domain service raises, and the codes more than one app
raises. The API answers a ``DomainError`` as ``{"code", "detail", "fields"?}``
(``core.api_errors``); pages show its detail beside the field it names."""

from __future__ import annotations

INVALID_PHONE_NUMBER = "invalid_phone_number"
INVALID_ADDRESS = "invalid_address"
UNKNOWN_SENDER = "unknown_sender"
RECIPIENT_OPTED_OUT = "recipient_opted_out"
# The tenant may not send now: the operator suspended or closed it, or its plan's monthly
# segments are spent (docs/ARCHITECTURE.md#tenant-status).
TENANT_SUSPENDED = "tenant_suspended"
TENANT_CLOSED = "tenant_closed"
QUOTA_EXCEEDED = "quota_exceeded"


class DomainError(Exception):
    """A refused request, with the field it concerns (if one) and a stable code."""

    # What the API answers it with: the request is wrong, unless a subclass says the
    # caller may not do this at all.
    http_status = 400

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


class ForbiddenError(DomainError):
    """A refusal that no change to the request would lift: the account may not do it
    (403)."""

    http_status = 403
