"""Stable error codes of the opt-out domain; the API and UI show them as is."""

from __future__ import annotations

from core.errors import RECIPIENT_OPTED_OUT, DomainError

__all__ = ["RECIPIENT_OPTED_OUT", "OptOutError"]
REQUIRED_KEYWORD = "required_keyword"
INVALID_KEYWORD = "invalid_keyword"
DUPLICATE_KEYWORD = "duplicate_keyword"
NOT_OPTED_OUT = "not_opted_out"
REPLY_TOO_LONG = "reply_too_long"
INVALID_SCOPE = "invalid_scope"
FILE_TOO_LARGE = "file_too_large"
INVALID_FILE = "invalid_file"


class OptOutError(DomainError):
    """A refused opt-out request; the API answers it like any other domain error."""
