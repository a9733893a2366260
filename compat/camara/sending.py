"""``POST /sms/v0alpha1/short-message``: one text to several numbers, sent through the
outbound pipeline every other send path uses, under one msgId."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from compat.camara.errors import from_domain
from compat.camara.models import ShortMessage
from core.errors import DomainError
from core.phones import phone_normalize
from messaging.models import Message
from messaging.outbound import messages_send_bulk

CATEGORIES = ("PROMOTION", "SERVICE", "TRANSACTION")
# As many as one bulk send of /api/v1 takes.
MAX_RECIPIENTS = 1000


@dataclass(frozen=True)
class ShortMessageSent:
    msg_id: str
    timestamp: datetime
    messages: list[Message]


def short_message_send(*, to: list[str], from_address: str, message: str,
                       category: str = "", origin_ref: str = "") -> ShortMessageSent:
    """Queue ``message`` from ``from_address`` to every number of ``to`` (each once) in
    the current tenant, all or none: one refusal refuses the call and queues nothing.

    The checks are the outbound pipeline's (a number in international format, a body
    that is not blank and fits 10 segments, an approved sender of this tenant, recipients
    who have not opted out). Raises CamaraError: 400 for what the request says, 403 for
    what it may not do, preferring the first 400.
    """
    recipients = list(dict.fromkeys(phone_normalize(number, field="to") for number in to))
    now = timezone.now()
    msg_id = uuid.uuid4()
    with transaction.atomic():
        results = messages_send_bulk(
            items=[{"from": from_address, "to": phone, "body": message} for phone in recipients],
            origin=Message.Origin.API, origin_ref=origin_ref)
        refusals = [from_domain(result) for result in results if isinstance(result, DomainError)]
        if refusals:
            # Leaves the transaction: the messages queued for the other recipients go too.
            raise min(refusals, key=lambda refusal: refusal.status)
        ShortMessage.objects.bulk_create([
            ShortMessage(msg_id=msg_id, message=queued, category=category)
            for queued in results
        ])
    return ShortMessageSent(msg_id=str(msg_id), timestamp=now, messages=results)
