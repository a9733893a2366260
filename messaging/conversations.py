"""Writes of conversations."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from events.actions import assignment_event_emit
from messaging.models import Conversation


def conversation_assign(*, conversation: Conversation, assignee: User | None,
                        actor: User | None = None) -> Conversation:
    """Give the conversation to ``assignee`` (None: nobody); ``actor`` is who did it (None:
    automation). Subscribers hear of a change, not of a repeat."""
    previous_id = conversation.assignee_id
    if previous_id == (assignee.pk if assignee else None):
        return conversation
    with transaction.atomic():
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee"])
        assignment_event_emit(conversation=conversation, previous_assignee_id=previous_id,
                              actor=actor)
    return conversation
