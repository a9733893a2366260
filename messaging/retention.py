"""What a tenant may erase of its messages: a body (redaction) or a whole message. Only a
message that is done with may go; one still on its way needs its body to be sent, and its
row to record what happens to it."""

from __future__ import annotations

from django.db import connection, transaction

from core.errors import DomainError
from core.live import inbox_changed
from messaging.models import Message
from messaging.traffic import figures_of, traffic_count
from tenants.models import MessageRoute

MESSAGE_IN_PROGRESS = "message_in_progress"
IN_PROGRESS = (Message.Status.RECEIVED, Message.Status.QUEUED, Message.Status.SENDING)


def _locked_done(message_id: int) -> Message:
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.status in IN_PROGRESS:
        raise DomainError(MESSAGE_IN_PROGRESS,
                          f"The message is {message.status}; it can be erased once it is "
                          "sent, failed or processed.")
    return message


def message_redact(*, message_id: int) -> Message:
    """Empty the message's body, keeping the record that it was sent or received.
    Raises ``DomainError`` (``message_in_progress``) for a message still on its way."""
    with transaction.atomic():
        message = _locked_done(message_id)
        message.body = ""
        message.save(update_fields=["body", "updated_at"])
    inbox_changed()
    return message


def message_delete(*, message_id: int) -> None:
    """Delete the message, and the public route by which its provider's status reports
    found it; the dashboard's counts forget it. Raises ``DomainError``
    (``message_in_progress``) for a message still on its way."""
    with transaction.atomic():
        message = _locked_done(message_id)
        MessageRoute.objects.filter(schema_name=connection.schema_name,
                                    message_id=message.pk).delete()
        traffic_count(counts=[(message.created_at, figure) for figure in figures_of(
            direction=message.direction, status=message.status)], by=-1)
        message.delete()
    inbox_changed()
