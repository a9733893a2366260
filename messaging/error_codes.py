"""Stable error codes of the messaging domain; the API and UI show them as is
(docs/API.md lists them). Refusals are ``core.errors.DomainError``s carrying one of these."""

from __future__ import annotations

# Shared with other apps; re-exported so messaging code reads its codes from one module.
from core.errors import (  # noqa: F401
    INVALID_ADDRESS,
    INVALID_PHONE_NUMBER,
    RECIPIENT_OPTED_OUT,
    UNKNOWN_SENDER,
)

SENDER_NOT_APPROVED = "sender_not_approved"
EMPTY_BODY = "empty_body"
BODY_TOO_LONG = "body_too_long"
INVALID_KIND = "invalid_kind"
UNKNOWN_CONNECTION = "unknown_connection"
SENDER_EXISTS = "sender_exists"
SENDER_LIMIT_REACHED = "sender_limit_reached"
ADDRESS_TAKEN = "address_taken"
SEND_OUTCOME_UNKNOWN = "send_outcome_unknown"
UNROUTED_RECIPIENT = "unrouted_recipient"
INVALID_SIGNATURE = "invalid_signature"
UNKNOWN_MESSAGE = "unknown_message"
# The inbox's "New message" form, given a name for its recipient.
UNKNOWN_RECIPIENT = "unknown_recipient"
AMBIGUOUS_RECIPIENT = "ambiguous_recipient"
# Contacts.
CONTACT_EXISTS = "contact_exists"
PHONE_IMMUTABLE = "phone_immutable"
INVALID_FIELDS = "invalid_fields"
INVALID_TAGS = "invalid_tags"
# Keyword rules.
INVALID_KEYWORD = "invalid_keyword"
INVALID_MATCH = "invalid_match"
INVALID_PATTERN = "invalid_pattern"
INVALID_SCHEDULE = "invalid_schedule"
NO_ACTION = "no_action"
UNKNOWN_USER = "unknown_user"
# Surveys.
INVALID_SURVEY = "invalid_survey"
INVALID_QUESTION = "invalid_question"
INVALID_BRANCH = "invalid_branch"
SURVEY_LOCKED = "survey_locked"
SURVEY_IN_USE = "survey_in_use"
SURVEY_INACTIVE = "survey_inactive"
SURVEY_DELETED = "survey_deleted"
# Canned responses.
INVALID_SHORTCODE = "invalid_shortcode"
CANNED_RESPONSE_DELETED = "canned_response_deleted"
SHORTCODE_EXISTS = "shortcode_exists"
# API requests.
INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"

NO_ROUTE = "no_route"  # a route sender, and no entry of its route matches the number
