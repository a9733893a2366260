"""Twilio's error answers: ``{"code", "message", "more_info", "status"}`` and no other key
(the official clients raise a different exception for a body with ``type`` and ``title``),
and how the portal's own refusals translate into Twilio's codes."""

from __future__ import annotations

from django.http import JsonResponse

from core.errors import DomainError

MISSING_PARAMETER = 20001
AUTHENTICATE = 20003
METHOD_NOT_ALLOWED = 20004
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429
INTERNAL_ERROR = 20500
DELETE_IN_PROGRESS = 20009
BAD_REQUEST = 70002
BODY_REQUIRED = 21602
FROM_REQUIRED = 21603
TO_REQUIRED = 21604
INVALID_TO = 21211
INVALID_FROM = 21212
FROM_NOT_OURS = 21606
INVALID_STATUS_CALLBACK = 21609
UNSUBSCRIBED = 21610
BODY_TOO_LONG = 21617
MEDIA_NOT_SUPPORTED = 21620
INVALID_URL = 21502
SERVICE_NOT_FOUND = 21701
SERVICE_WITHOUT_SENDERS = 21703
NUMBER_IN_SERVICE = 21710
SEND_AT_MISSING = 35111
SEND_AT_OUT_OF_RANGE = 35114
SCHEDULING_NEEDS_SERVICE = 35118
NOT_SCHEDULED = 30409
# A message's error that Twilio has no code of its own for: ours goes in error_message.
UNKNOWN_FAILURE = 30008


class TwilioError(Exception):
    """A refusal as Twilio words it; the views answer it with ``error_response``."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def error_response(code: int, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status=status)


def twilio_error_from_domain(exc: DomainError) -> TwilioError:
    """The Twilio refusal for one of the messaging services' refusals of a send."""
    detail = exc.detail
    if exc.code == "empty_body":
        return TwilioError(BODY_REQUIRED, "Message body is required.")
    if exc.code == "body_too_long":
        return TwilioError(BODY_TOO_LONG, f"The message body is too long: {detail}")
    if exc.code in ("invalid_phone_number", "invalid_address"):
        if exc.field in ("from", "address"):
            return TwilioError(INVALID_FROM, f"Invalid 'From' Phone Number: {detail}")
        return TwilioError(INVALID_TO, f"Invalid 'To' Phone Number: {detail}")
    if exc.code in ("unknown_sender", "sender_not_approved"):
        return TwilioError(FROM_NOT_OURS, "The 'From' phone number is not a valid, "
                                          f"message-capable number of this account: {detail}")
    if exc.code == "recipient_opted_out":
        return TwilioError(UNSUBSCRIBED, f"Attempt to send to unsubscribed recipient: {detail}")
    # tenant_suspended, tenant_closed, quota_exceeded keep their 403.
    return TwilioError(UNKNOWN_FAILURE, f"{exc.code}: {detail}", exc.http_status)


def message_error_code(code: str) -> int | None:
    """A message's ``error_code`` as Twilio's integer: a provider's Twilio code as is, an
    opt-out as 21610, anything else of ours as 30008 (its own code then leads
    ``error_message``)."""
    if not code:
        return None
    if code.isdigit():
        return int(code)
    if code == "recipient_opted_out":
        return UNSUBSCRIBED
    return UNKNOWN_FAILURE
