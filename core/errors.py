"""The base of every refusal a domain service raises, and the codes more than one app
raises. The API answers a ``DomainError`` as ``{"code", "detail", "fields"?}``
(``core.api_errors``); pages show its detail beside the field it names."""

from __future__ import annotations

INVALID_PHONE_NUMBER = "invalid_phone_number"
INVALID_ADDRESS = "invalid_address"
UNKNOWN_SENDER = "unknown_sender"
RECIPIENT_OPTED_OUT = "recipient_opted_out"


class DomainError(Exception):
    """A refused request, with the field it concerns (if one) and a stable code."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
