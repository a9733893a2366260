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
from messaging.outbound import message_send, messages_cancel

EARLIEST = timedelta(seconds=300)
LATEST = timedelta(days=35)


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
    """Accept a message now (every check a send makes) and keep it ``scheduled`` until
    ``send_at``, when the sweep queues it."""
    return message_send(from_address=from_address, to=to, body=body, origin=origin,
                        origin_ref=origin_ref, send_at=send_at)


def scheduled_cancel(*, message_id: int) -> bool:
    """Withdraw a message that is still ``scheduled``; False when it is not (or no longer):
    Twilio cancels scheduled messages only, not those already queued to leave."""
    if not Message.objects.filter(pk=message_id, status=Message.Status.SCHEDULED).exists():
        return False
    return bool(messages_cancel(message_ids=[message_id]))
