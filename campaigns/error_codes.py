"""Stable error codes of the subscription lists; the API and the pages show them as is."""

from __future__ import annotations

from core.errors import INVALID_PHONE_NUMBER, RECIPIENT_OPTED_OUT, UNKNOWN_SENDER, DomainError

__all__ = ["INVALID_PHONE_NUMBER", "RECIPIENT_OPTED_OUT", "UNKNOWN_SENDER", "ListError"]
INVALID_KEYWORD = "invalid_keyword"
# An opt-out, opt-in or help keyword, or a word that confirms a subscription (YES, Y, OK).
KEYWORD_RESERVED = "keyword_reserved"
KEYWORD_TAKEN = "keyword_taken"
INVALID_NAME = "invalid_name"
CONFIRMATION_NEEDS_YES = "confirmation_needs_yes"
EVIDENCE_REQUIRED = "evidence_required"
NO_SENDER = "no_sender"
NOT_A_MEMBER = "not_a_member"
FILE_TOO_LARGE = "file_too_large"
INVALID_FILE = "invalid_file"
MISSING_PHONE_COLUMN = "missing_phone_column"
# Per-row import outcomes.
DUPLICATE_ROW = "duplicate"
UNSUBSCRIBED_BEFORE = "unsubscribed"


class ListError(DomainError):
    """A refused change to a list or its members."""


# Campaigns.
SENDER_NOT_APPROVED = "sender_not_approved"
EMPTY_AUDIENCE = "empty_audience"
# Starting a campaign that is not a draft, editing one that has started, pausing one that
# is not running...: 409.
INVALID_STATE = "invalid_state"
INVALID_TEMPLATE = "invalid_template"
EMPTY_BODY = "empty_body"
SEND_AT_IN_PAST = "send_at_in_past"
INVALID_EXPIRY = "invalid_expiry"
INVALID_QUIET_HOURS = "invalid_quiet_hours"
INVALID_AUDIENCE = "invalid_audience"
UNKNOWN_LIST = "unknown_list"


class CampaignError(DomainError):
    """A refused change to a campaign."""


# Reply actions and their code pools (``campaigns.replies``).
INVALID_REPLY = "invalid_reply"
INVALID_CODE = "invalid_code"
TOO_MANY_CODES = "too_many_codes"


class ReplyActionError(DomainError):
    """A refused reply action or code upload."""
