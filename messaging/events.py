"""The events the messaging domain announces, and their payloads (delivered as event
webhooks by the ``events`` app; see ``core.domain_events``)."""

from __future__ import annotations

from accounts.models import User
from core.domain_events import event_publish, event_wanted
from messaging.models import Conversation, Message

MESSAGE_RECEIVED = "message.received"
MESSAGE_STATUS_CHANGED = "message.status_changed"
CONVERSATION_ASSIGNED = "conversation.assigned"
# The plan's monthly segments reached 80% or 100% (``messaging.quota``), once each a month.
USAGE_THRESHOLD = "usage.threshold"


def message_event_emit(*, type: str, message: Message,
                       previous_status: str | None = None) -> None:
    """A message event: ``data.message`` is the message as ``GET /api/v1/messages/{id}``
    shows it; a status change adds ``data.previous_status``."""
    if not event_wanted(type=type):
        return  # before serialising the message: the common case costs nothing
    from messaging.api.serializers import MessageSerializer

    data = {"message": MessageSerializer(message).data}
    if previous_status is not None:
        data["previous_status"] = previous_status
    event_publish(type=type, data=data, conversation_id=message.conversation_id)


def _user(user: User | None) -> dict | None:
    return None if user is None else {"id": user.pk, "email": user.email, "name": user.name}


def assignment_event_emit(*, conversation: Conversation, previous_assignee_id: int | None,
                          actor: User | None) -> None:
    """``conversation.assigned``; ``assigned_by`` is null when automation assigned it."""
    if not event_wanted(type=CONVERSATION_ASSIGNED):
        return
    previous = User.objects.filter(pk=previous_assignee_id).first() if (
        previous_assignee_id) else None
    event_publish(type=CONVERSATION_ASSIGNED, data={
        "conversation": {"id": conversation.pk, "contact": conversation.contact.phone,
                         "sender": conversation.sender.address, "status": conversation.status},
        "assignee": _user(conversation.assignee), "previous_assignee": _user(previous),
        "assigned_by": _user(actor),
    }, conversation_id=conversation.pk)
