"""Writes on conversations that staff (inbox, API) and automation make: assignment,
resolving and reopening, reading, private notes.

Each change saves only its own columns: inbound processing updates the same row (status,
unread count, activity) under a row lock, and a full save from a stale copy would undo it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import User
from core.errors import DomainError
from core.live import inbox_changed
from messaging import error_codes
from messaging.events import assignment_event_emit
from messaging.models import Conversation, ConversationActivity, ConversationNote

logger = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 5000


def conversation_assign(*, conversation: Conversation, assignee: User | None,
                        actor: User | None = None, actor_label: str = "") -> Conversation:
    """Give the conversation to ``assignee`` (None: to nobody); ``actor`` is who decided
    (``actor_label`` names an API key), neither for automation. Subscribers hear of a
    change, not of a repeat; the thread shows it."""
    if assignee is not None and not assignee.is_active:
        raise DomainError(error_codes.UNKNOWN_USER,
                             f"{assignee.email} is not an active member of your team.",
                             "assignee")
    with transaction.atomic():
        # Read under the row lock: two teammates taking it at once make one change, and
        # subscribers hear the assignee it really had.
        previous_id = (Conversation.objects.select_for_update()
                       .values_list("assignee_id", flat=True).get(pk=conversation.pk))
        conversation.assignee = assignee
        if previous_id == conversation.assignee_id:
            return conversation
        conversation.save(update_fields=["assignee"])
        _activity_record(conversation, assignee=assignee, actor=actor, actor_label=actor_label,
                         kind=(ConversationActivity.Kind.ASSIGNED if assignee
                               else ConversationActivity.Kind.UNASSIGNED))
        assignment_event_emit(conversation=conversation, previous_assignee_id=previous_id,
                              actor=actor)
    inbox_changed()
    logger.info("conversation %s assigned to %s by %s", conversation.pk,
                assignee.pk if assignee else None,
                actor.pk if actor else actor_label or "automation")
    return conversation


def conversations_unassign_member(*, member: User, actor: User | None = None) -> None:
    """Give every conversation assigned to ``member`` to nobody, as ``actor``: a member
    removed from the team leaves nothing stuck in a "Mine" no one reads (installed as
    ``accounts.services.member_removed_hook_install``'s hook)."""
    for conversation in Conversation.objects.filter(assignee=member):
        conversation_assign(conversation=conversation, assignee=None, actor=actor)


def conversation_resolve(*, conversation: Conversation, actor: User | None = None,
                         actor_label: str = "") -> Conversation:
    """Mark it done. The contact's next message reopens it (``message_process``)."""
    return _status_set(conversation, Conversation.Status.RESOLVED, actor=actor,
                       actor_label=actor_label)


def conversation_reopen(*, conversation: Conversation, actor: User | None = None,
                        actor_label: str = "") -> Conversation:
    return _status_set(conversation, Conversation.Status.OPEN, actor=actor,
                       actor_label=actor_label)


def _status_set(conversation: Conversation, status: str, *, actor: User | None,
                actor_label: str) -> Conversation:
    with transaction.atomic():
        # Under the row lock, as for assignment: a double click resolves once.
        previous = (Conversation.objects.select_for_update()
                    .values_list("status", flat=True).get(pk=conversation.pk))
        conversation.status = status
        if previous == status:
            return conversation
        conversation.save(update_fields=["status"])
        _activity_record(conversation, actor=actor, actor_label=actor_label,
                         kind=(ConversationActivity.Kind.RESOLVED
                               if status == Conversation.Status.RESOLVED
                               else ConversationActivity.Kind.REOPENED))
    inbox_changed()
    return conversation


def _activity_record(conversation: Conversation, *, kind: str, actor: User | None,
                     actor_label: str, assignee: User | None = None) -> None:
    # The actor's email is kept as text too: the thread still names a teammate whose
    # account was deleted since (the foreign key then goes null).
    ConversationActivity.objects.create(
        conversation=conversation, kind=kind, assignee=assignee, actor=actor,
        actor_label=actor_label or (actor.email if actor else ""))


def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    if conversation.unread_count:
        conversation.unread_count = 0
        conversation.save(update_fields=["unread_count"])
        inbox_changed()  # the unread badges follow
    return conversation


def note_create(*, conversation: Conversation, author: User | None, body: str,
                author_label: str = "") -> ConversationNote:
    """A private note for teammates. It is stored apart from messages, so no send path
    can ever pick it up, and it does not move the conversation up the inbox."""
    if not (body or "").strip():
        raise DomainError(error_codes.EMPTY_BODY, "The note is empty.", "body")
    if len(body) > NOTE_MAX_LENGTH:
        raise DomainError(error_codes.BODY_TOO_LONG,
                             f"A note has at most {NOTE_MAX_LENGTH} characters.", "body")
    note = ConversationNote.objects.create(conversation=conversation, author=author,
                                           author_label=author_label, body=body)
    inbox_changed()
    return note
