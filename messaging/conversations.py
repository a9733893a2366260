"""Writes of conversations."""

from __future__ import annotations

from accounts.models import User
from messaging.models import Conversation


def conversation_assign(*, conversation: Conversation, assignee: User | None,
                        actor: User | None = None) -> Conversation:
    """Give the conversation to ``assignee`` (None: nobody); ``actor`` is who did it (None:
    automation). Re-assigning to the current assignee changes nothing."""
    if conversation.assignee_id == (assignee.pk if assignee else None):
        return conversation
    conversation.assignee = assignee
    conversation.save(update_fields=["assignee"])
    return conversation
