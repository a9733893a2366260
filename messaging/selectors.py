"""Reads of the messaging domain, shared by the API, the UI and commands."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from messaging.models import Message


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
