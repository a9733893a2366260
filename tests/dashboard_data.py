"""Messages at chosen moments, for the dashboard's tests: the pipelines stamp ``created_at``
with the time of the call, and the dashboard is all about when things happened. Call
inside a tenant's schema."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from messaging.models import Contact, Conversation, Message, Sender

SENDER = "+14155550123"


class Text(NamedTuple):
    at: datetime
    direction: str = Message.Direction.INBOUND
    status: str = ""  # the direction's usual: processed, or delivered
    origin: str = ""  # the direction's usual: customer, or user (a staff reply)


def conversation_with(phone: str, *, active_at: datetime) -> Conversation:
    """A conversation between ``phone`` and the tenant's sender, last active at
    ``active_at``."""
    sender, _ = Sender.objects.get_or_create(
        address=SENDER, defaults={"kind": Sender.Kind.LONG_CODE, "connection": "simulator",
                                  "status": Sender.Status.APPROVED})
    contact, _ = Contact.objects.get_or_create(phone=phone)
    return Conversation.objects.create(contact=contact, sender=sender,
                                       last_activity_at=active_at)


def add_texts(conversation: Conversation, *texts: Text) -> list[Message]:
    inbound = Message.Direction.INBOUND
    messages = [Message(
        direction=text.direction, sender=conversation.sender, contact=conversation.contact,
        conversation=conversation,
        from_address=(conversation.contact.phone if text.direction == inbound
                      else conversation.sender.address),
        to_address=(conversation.sender.address if text.direction == inbound
                    else conversation.contact.phone),
        body="Hello", encoding="GSM-7", segments=1, connection="simulator",
        status=text.status or ("processed" if text.direction == inbound else "delivered"),
        origin=text.origin or ("customer" if text.direction == inbound else "user"),
    ) for text in texts]
    messages = Message.objects.bulk_create(messages)
    # created_at is stamped on insert (auto_now_add); an update sets it as told.
    for message, text in zip(messages, texts, strict=True):
        message.created_at = text.at
    Message.objects.bulk_update(messages, ["created_at"])
    return messages
