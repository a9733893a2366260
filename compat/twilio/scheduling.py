"""Scheduled messages as Twilio takes them: ``ScheduleType=fixed`` with a ``SendAt``
between 300 seconds and 35 days ahead, through a Messaging Service; ``Status=canceled``
withdraws one that is still waiting."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from compat.twilio.errors import (
    BAD_REQUEST,
    SCHEDULING_NEEDS_SERVICE,
    SEND_AT_MISSING,
    SEND_AT_OUT_OF_RANGE,
    TwilioError,
)
from compat.twilio.models import MessagingService
from messaging.models import Message

EARLIEST = timedelta(seconds=300)
LATEST = timedelta(days=35)
SCHEDULING_UNAVAILABLE = 35100


def schedule_parse(*, schedule_type: str, send_at: str,
                   service: MessagingService | None) -> datetime | None:
    """When a create request asks its message to be sent, or None to send it now;
    TwilioError with Twilio's code for a schedule Twilio would refuse."""
    if not schedule_type and not send_at:
        return None
    if schedule_type != "fixed":
        raise TwilioError(BAD_REQUEST, "ScheduleType must be 'fixed' to schedule a message.")
    if not send_at:
        raise TwilioError(SEND_AT_MISSING, "SendAt is required to schedule a message.")
    if service is None:
        raise TwilioError(SCHEDULING_NEEDS_SERVICE,
                          "MessagingServiceSid is required to schedule a message.")
    try:
        moment = datetime.fromisoformat(send_at.replace("Z", "+00:00"))
    except ValueError:
        raise TwilioError(SEND_AT_OUT_OF_RANGE, "SendAt must be a date and time in ISO 8601 "
                                                "(2030-01-01T12:00:00Z).") from None
    if moment.tzinfo is None:
        raise TwilioError(SEND_AT_OUT_OF_RANGE, "SendAt must say its time zone (UTC: Z).")
    ahead = moment - timezone.now()
    if not EARLIEST <= ahead <= LATEST:
        raise TwilioError(SEND_AT_OUT_OF_RANGE, "SendAt must be between 300 seconds and 35 "
                                                "days from now.")
    return moment


def scheduled_send(*, from_address: str, to: str, body: str, origin: str, origin_ref: str,
                   send_at: datetime) -> Message:
    """Queue a message to leave at ``send_at``. The outbound pipeline of this build has
    no ``scheduled`` state yet, so a valid schedule is refused rather than sent at once."""
    raise TwilioError(SCHEDULING_UNAVAILABLE,
                      "Scheduled messages are not available on this installation yet; send "
                      "without ScheduleType and SendAt.")


def scheduled_cancel(*, message_id: int) -> bool:
    """Withdraw a scheduled message; False when it is not (or no longer) scheduled."""
    return False
