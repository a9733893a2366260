"""Messages at chosen moments, for the dashboard's tests: the pipelines stamp ``created_at``
with the time of the call, and the dashboard is all about when things happened. The
dashboard's rollup is then recounted from the messages, as the migration that added it
did (``messaging.traffic``). Call inside a tenant's schema."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from messaging.models import Conversation, Message
from messaging.traffic import traffic_backfill
from tests.support.factories import ContactFactory, ConversationFactory, MessageFactory

SENDER = "+14155550123"


class Text(NamedTuple):
    at: datetime
    direction: str = Message.Direction.INBOUND
    status: str = ""  # the direction's usual: processed, or delivered
    origin: str = ""  # the direction's usual: customer, or user (a staff reply)


def conversation_with(phone: str, *, active_at: datetime) -> Conversation:
    """A conversation between ``phone`` and the tenant's sender, last active at
    ``active_at``."""
    return ConversationFactory(contact=ContactFactory(phone=phone), last_activity_at=active_at)


def add_texts(conversation: Conversation, *texts: Text) -> list[Message]:
    overrides = [{key: value for key, value in (("status", text.status),
                                                ("origin", text.origin)) if value}
                 for text in texts]
    messages = Message.objects.bulk_create([
        MessageFactory.build(conversation=conversation, direction=text.direction, **extra)
        for text, extra in zip(texts, overrides, strict=True)])
    # created_at is stamped on insert (auto_now_add); an update sets it as told.
    for message, text in zip(messages, texts, strict=True):
        message.created_at = text.at
    Message.objects.bulk_update(messages, ["created_at"])
    traffic_backfill()
    return messages
