"""Reads of the messaging domain, shared by the API, the UI and commands."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from messaging.models import Message, Sender
from messaging.outbound import OPTOUT_CONFIRMATION
from tenants.models import ProviderConnection

logger = logging.getLogger(__name__)


def message_list(*, direction: str | None = None, status: str | None = None,
                 contact: str | None = None, conversation: int | None = None,
                 since: datetime | None = None, until: datetime | None = None
                 ) -> QuerySet[Message]:
    messages = Message.objects.all()
    if direction:
        messages = messages.filter(direction=direction)
    if status:
        messages = messages.filter(status=status)
    if contact:
        # By address, not by the contact row: an inbound message gets its contact only
        # once processed.
        messages = messages.filter(
            Q(direction=Message.Direction.INBOUND, from_address=contact)
            | Q(direction=Message.Direction.OUTBOUND, to_address=contact)
        )
    if conversation:
        messages = messages.filter(conversation_id=conversation)
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    return messages.order_by("-id")


def simulator_sender_list() -> QuerySet[Sender]:
    """The current tenant's approved senders on the simulator connection: the numbers a
    simulated customer can text."""
    return Sender.objects.filter(connection=ProviderConnection.SIMULATOR_NAME,
                                 status=Sender.Status.APPROVED).order_by("address")


def simulator_thread(*, sender: Sender, phone: str, limit: int = 50) -> list[Message]:
    """The last ``limit`` messages between ``phone`` and ``sender``, oldest first.

    By address rather than by conversation: an inbound message has no conversation until
    it is processed, and the simulator shows it at once.
    """
    latest = (Message.objects.filter(sender=sender)
              .filter(Q(direction=Message.Direction.INBOUND, from_address=phone)
                      | Q(direction=Message.Direction.OUTBOUND, to_address=phone))
              .order_by("-id")[:limit])
    return list(reversed(latest))


# Origins of automatic replies: what loop protection counts.
AUTOMATIC = [Message.Origin.RULE, Message.Origin.SURVEY, Message.Origin.SYSTEM]


def auto_replies_left(*, phone: str) -> bool:
    """Whether ``phone`` may get another automatic reply this hour (loop protection)."""
    since = timezone.now() - timedelta(hours=1)
    sent = (Message.objects.filter(direction=Message.Direction.OUTBOUND, to_address=phone,
                                   origin__in=AUTOMATIC, created_at__gte=since)
            .exclude(origin_ref=OPTOUT_CONFIRMATION).count())
    if sent >= settings.AUTO_REPLY_LIMIT_PER_HOUR:
        logger.info("automatic replies paused: %d in the last hour", sent)
        return False
    return True
