"""Outbound pipeline: validate -> store ``queued`` -> enqueue -> send -> record
(docs/ARCHITECTURE.md#outbound-pipeline).

Sending happens outside any transaction, between two single-row updates: the claim
(``queued`` -> ``sending``) and the record of the provider's answer. Whatever dies in
between leaves a ``sending`` row that says exactly what is unknown; it is resent only
through a backend whose sends are idempotent, otherwise it fails with
``send_outcome_unknown`` — never a silent duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import encoding
from core.domain_events import event_wanted
from core.errors import DomainError
from core.live import inbox_changed
from core.phones import inbound_address, phone_normalize
from core.rate_limit import tokens_reserve
from messaging import error_codes
from messaging.events import MESSAGE_STATUS_CHANGED, message_event_emit
from messaging.models import Contact, Conversation, Message, Sender
from messaging.providers import backend_for
from messaging.providers.base import (
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    TransientSendError,
    status_callback_url,
)
from messaging.response_waits import waits_answer
from optout.actions import phone_lock
from optout.selectors import optout_blocks, phones_opted_out
from tenants.connections import connection_get_active
from tenants.models import MessageRoute

logger = logging.getLogger(__name__)

MAX_SEGMENTS = 10
MAX_ATTEMPTS = 8
# A worker waits in-process for its sender's tokens up to this long, then hands back.
MAX_RATE_WAIT = 2.0
# Marks the one message an opted-out contact may still receive (docs/ARCHITECTURE.md#opt-out).
OPTOUT_CONFIRMATION = "optout_confirmation"


def send_stuck_after() -> timedelta:
    """Longer than a send can take (connect + read timeouts): a ``sending`` row older than
    this belongs to a worker that died."""
    return timedelta(seconds=settings.SEND_STUCK_AFTER_SECONDS)

# Outbound status ranks: a callback moves a message up, never down or sideways out of a
# terminal state.
RANK = {
    Message.Status.QUEUED: 0, Message.Status.SENDING: 1, Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3, Message.Status.UNDELIVERED: 3, Message.Status.FAILED: 3,
}
TIMESTAMP_FIELD = {
    Message.Status.SENT: "sent_at", Message.Status.DELIVERED: "delivered_at",
    Message.Status.UNDELIVERED: "failed_at", Message.Status.FAILED: "failed_at",
}


@dataclass(frozen=True)
class Draft:
    sender: Sender
    to: str
    body: str
    analysis: encoding.Analysis


def body_check(body: str) -> encoding.Analysis:
    """Refuse a body that is blank or needs more than ``MAX_SEGMENTS`` segments: every
    text the platform may send (typed, canned, ...) is held to this."""
    if not (body or "").strip():
        raise DomainError(error_codes.EMPTY_BODY, "The message body is empty.", "body")
    analysis = encoding.analyse(body)
    if analysis.segments > MAX_SEGMENTS:
        raise DomainError(
            error_codes.BODY_TOO_LONG,
            f"The body needs {analysis.segments} {analysis.encoding} segments; the limit is "
            f"{MAX_SEGMENTS}.", "body",
        )
    return analysis


def message_validate(*, from_address: str, to: str, body: str,
                     senders: dict[str, Sender] | None = None,
                     check_optout: bool = True) -> Draft:
    """Check one outbound message; raise DomainError with the first problem's code.

    ``senders`` caches approved senders by address across a bulk request, which checks
    opt-outs itself, for all its recipients at once (``check_optout=False``).
    """
    analysis = body_check(body)
    to = phone_normalize(to, field="to")
    address = inbound_address(from_address or "")
    sender = senders.get(address) if senders is not None else None
    if sender is None:
        sender = _approved_sender(address)
        if senders is not None:
            senders[address] = sender
    if check_optout and optout_blocks(phone=to, sender_address=sender.address):
        raise _opted_out(to)
    return Draft(sender=sender, to=to, body=body, analysis=analysis)


def _opted_out(phone: str) -> DomainError:
    return DomainError(error_codes.RECIPIENT_OPTED_OUT,
                          f"{phone} has opted out of your messages.", "to")


def _approved_sender(address: str) -> Sender:
    sender = Sender.objects.filter(address=address).first()
    if sender is None:
        raise DomainError(error_codes.UNKNOWN_SENDER,
                             f"{address!r} is not one of your senders.", "from")
    if sender.status != Sender.Status.APPROVED:
        raise DomainError(error_codes.SENDER_NOT_APPROVED,
                             f"{sender.address} is {sender.status}; only approved senders send.",
                             "from")
    return sender


def message_send(*, from_address: str, to: str, body: str, origin: str,
                 author=None, origin_ref: str = "") -> Message:
    """Validate and queue one message in the current tenant's schema; the send task runs
    after commit. Only the opt-out confirmation (``origin_ref=OPTOUT_CONFIRMATION``)
    reaches an opted-out contact."""
    draft = message_validate(from_address=from_address, to=to, body=body,
                             check_optout=origin_ref != OPTOUT_CONFIRMATION)
    with transaction.atomic():
        message = _queue([draft], origin=origin, author=author, origin_ref=origin_ref)[0]
    return message


def messages_send_bulk(*, items: list[dict], origin: str,
                       origin_ref: str = "") -> list[Message | DomainError]:
    """Validate every item, queue the valid ones in one transaction, and answer per item.

    Contacts, conversations and messages are written with a few set-based statements, so a
    thousand messages cost about as much as a handful.
    """
    senders: dict[str, Sender] = {}
    results: list[Message | DomainError | Draft] = []
    for item in items:
        try:
            results.append(message_validate(
                from_address=str(item.get("from", "")), to=str(item.get("to", "")),
                body=str(item.get("body", "")), senders=senders, check_optout=False,
            ))
        except DomainError as exc:
            results.append(exc)
    blocked = _opted_out_drafts([r for r in results if isinstance(r, Draft)])
    results = [_opted_out(r.to) if isinstance(r, Draft) and (r.to, r.sender.address) in blocked
               else r for r in results]
    drafts = [result for result in results if isinstance(result, Draft)]
    with transaction.atomic():
        queued = iter(_queue(drafts, origin=origin, origin_ref=origin_ref))
    return [next(queued) if isinstance(result, Draft) else result for result in results]


def _opted_out_drafts(drafts: list[Draft]) -> set[tuple[str, str]]:
    """(phone, sender address) pairs among ``drafts`` that opt-outs block: one query per
    sender, however many recipients."""
    blocked: set[tuple[str, str]] = set()
    by_sender: dict[str, set[str]] = {}
    for draft in drafts:
        by_sender.setdefault(draft.sender.address, set()).add(draft.to)
    for address, phones in by_sender.items():
        blocked |= {(phone, address)
                    for phone in phones_opted_out(phones=phones, sender_address=address)}
    return blocked


def _queue(drafts: list[Draft], *, origin: str, author=None, origin_ref: str = "") -> list[Message]:
    """Insert ``queued`` messages with their contacts and conversations; enqueue on commit."""
    if not drafts:
        return []
    now = timezone.now()
    phones = {draft.to for draft in drafts}
    Contact.objects.bulk_create([Contact(phone=phone) for phone in phones],
                                ignore_conflicts=True)
    contacts = {c.phone: c for c in Contact.objects.filter(phone__in=phones)}
    pairs = {(contacts[d.to].pk, d.sender.pk) for d in drafts}
    Conversation.objects.bulk_create(
        [Conversation(contact_id=c, sender_id=s, last_activity_at=now) for c, s in pairs],
        ignore_conflicts=True,
    )
    # The query finds every phone with every sender of the batch; only the pairs written
    # to are this batch's conversations (the others must keep their activity and waits).
    conversations = {
        (c.contact_id, c.sender_id): c
        for c in Conversation.objects.filter(contact__phone__in=phones,
                                             sender__in={d.sender.pk for d in drafts})
        if (c.contact_id, c.sender_id) in pairs
    }
    conversation_ids = [c.pk for c in conversations.values()]
    Conversation.objects.filter(pk__in=conversation_ids).update(last_activity_at=now)
    waited_from = (waits_answer(conversation_ids=conversation_ids)
                   if origin == Message.Origin.USER else {})
    messages = Message.objects.bulk_create([
        Message(
            direction=Message.Direction.OUTBOUND, sender=d.sender, contact=contacts[d.to],
            conversation=conversations[(contacts[d.to].pk, d.sender.pk)],
            from_address=d.sender.address, to_address=d.to, body=d.body,
            encoding=d.analysis.encoding, segments=d.analysis.segments,
            status=Message.Status.QUEUED, queued_at=now, connection=d.sender.connection,
            origin=origin, author=author, origin_ref=origin_ref,
            # The first reply in a conversation ends its wait; any other in this batch
            # came after it.
            answered_wait_from=waited_from.pop(
                conversations[(contacts[d.to].pk, d.sender.pk)].pk, None),
        )
        for d in drafts
    ])
    ids = [m.pk for m in messages]
    schema = db_connection.schema_name
    transaction.on_commit(lambda: messages_enqueue(ids, schema=schema))
    inbox_changed()
    return messages


DELIVER_BATCH = 50


def messages_enqueue(message_ids: list[int], *, schema: str,
                     countdown: float | None = None) -> None:
    """Hand messages to the send task in batches: one task per message would cap the
    pipeline at the broker's task rate (docs/ARCHITECTURE.md#measured-constraints).
    ``schema`` travels with the task."""
    from messaging.tasks import messages_deliver

    try:
        for start in range(0, len(message_ids), DELIVER_BATCH):
            messages_deliver.apply_async(args=[message_ids[start:start + DELIVER_BATCH]],
                                         countdown=countdown, queue="outbound",
                                         headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        # Committed as ``queued``: the sweep enqueues them once the broker is back.
        logger.warning("broker unavailable; %d message(s) in %s left to the sweep",
                       len(message_ids), schema, exc_info=True)


def backoff(attempt: int) -> float:
    """Exponential: 2, 4, 8 ... seconds, capped at ten minutes."""
    return float(min(2 ** attempt, 600))


def message_deliver(*, message_id: int) -> float | None:
    """Send one queued message through its backend and record the answer.

    Returns the delay after which the caller must try again (rate limit or transient
    error), or None when there is nothing more to do. Safe to call twice, concurrently or
    after a crash: only the caller that moves the row from ``queued`` to ``sending`` sends.
    """
    message = Message.objects.select_related("sender").filter(pk=message_id).first()
    if message is None or message.direction != Message.Direction.OUTBOUND:
        return None
    if message.status == Message.Status.SENDING:
        _resolve_stuck(message)
        return None
    if message.status != Message.Status.QUEUED:
        return None
    if message.sender.status != Sender.Status.APPROVED:
        _fail(message, error_codes.SENDER_NOT_APPROVED,
              f"{message.sender.address} is {message.sender.status}.")
        return None
    provider = connection_get_active(message.connection)
    if provider is None:
        _fail(message, "connection_inactive", f"Connection {message.connection!r} is inactive.")
        return None
    if message.sender.rate_limit:
        reserved, wait = tokens_reserve(
            key=f"{db_connection.schema_name}:{message.sender_id}",
            rate=message.sender.rate_limit, cost=message.segments, max_wait=MAX_RATE_WAIT,
        )
        if not reserved:
            return wait
        time.sleep(wait)
    if not _claim(message):
        return None
    backend = backend_for(provider)
    sms = _outbound_sms(message, provider.name)
    try:
        result = backend.send(sms)
    except PermanentSendError as exc:
        _fail(message, exc.code, exc.detail)
        return None
    except OutcomeUnknownError as exc:
        if backend.idempotent_send:
            return _requeue(message, exc.code, exc.detail, None)
        _fail(message, error_codes.SEND_OUTCOME_UNKNOWN, exc.detail)
        return None
    except TransientSendError as exc:
        return _requeue(message, exc.code, exc.detail, exc.retry_after)
    if result.status == Message.Status.SENDING:
        return None  # the process it was handed to records the outcome (``hands_off``)
    _record_sent(message, result.provider_message_id, result.status)
    return None


def _outbound_sms(message: Message, connection_name: str) -> OutboundSMS:
    return OutboundSMS(
        message_id=message.pk, tenant_schema=db_connection.schema_name,
        from_address=message.from_address, to=message.to_address, body=message.body,
        encoding=message.encoding, segments=message.segments,
        status_callback=status_callback_url(connection_name), sender_kind=message.sender.kind,
    )


def _claim(message: Message) -> bool:
    """Move the row from ``queued`` to ``sending`` unless the recipient opted out meanwhile.

    The opt-out check and the claim commit together under the number's opt-out lock
    (shared), so a STOP committing concurrently is either seen here or comes after the
    claim: a send queued before a STOP never leaves after it. A refused message is failed
    once the lock is released: failing it may write a status event, which locks the
    conversation's event sequence, and message processing takes that lock before the
    number's opt-out lock.
    """
    blocked = False
    with transaction.atomic():
        if message.origin_ref != OPTOUT_CONFIRMATION:
            phone_lock(phone=message.to_address, shared=True)
            blocked = optout_blocks(phone=message.to_address,
                                    sender_address=message.from_address)
        claimed = not blocked and Message.objects.filter(
            pk=message.pk, status=Message.Status.QUEUED).update(
            status=Message.Status.SENDING, sending_at=timezone.now(),
            attempts=F("attempts") + 1, next_attempt_at=None, updated_at=timezone.now(),
        )
    if blocked:
        _fail(message, error_codes.RECIPIENT_OPTED_OUT,
              f"{message.to_address} opted out before the message was sent.",
              leaving=[Message.Status.QUEUED])
        return False
    if claimed:
        message.attempts += 1
    return bool(claimed)


def _record_sent(message: Message, provider_message_id: str, status: str) -> None:
    now = timezone.now()
    fields = {"status": status, "provider_message_id": provider_message_id, "sent_at": now,
              "updated_at": now, "error_code": "", "error_message": ""}
    if status == Message.Status.DELIVERED:
        fields["delivered_at"] = now
    with transaction.atomic():
        updated = _status_move(message.pk, leaving=[Message.Status.SENDING], **fields)
        if updated:
            MessageRoute.objects.get_or_create(
                connection=message.connection, provider_message_id=provider_message_id,
                defaults={"schema_name": db_connection.schema_name, "message_id": message.pk},
            )


def _fail(message: Message, code: str, detail: str, *,
          leaving: Sequence[str] = (Message.Status.QUEUED, Message.Status.SENDING)) -> None:
    now = timezone.now()
    _status_move(message.pk, leaving=leaving, status=Message.Status.FAILED,
                 error_code=code[:50], error_message=detail[:2000], failed_at=now,
                 updated_at=now)


def _status_move(message_id: int, *, leaving: Sequence[str], **fields) -> bool:
    """Move an outbound message from one of the ``leaving`` statuses to
    ``fields["status"]`` with one conditional UPDATE; return whether it moved.

    With a subscriber to ``message.status_changed``, the old status is read under the
    row's lock first and the event is written in the same transaction; without one, this
    costs nothing more.
    """
    rows = Message.objects.filter(pk=message_id, direction=Message.Direction.OUTBOUND,
                                  status__in=leaving)
    if not event_wanted(type=MESSAGE_STATUS_CHANGED):
        moved = bool(rows.update(**fields))
    else:
        with transaction.atomic():
            previous = rows.select_for_update().values_list("status", flat=True).first()
            moved = previous is not None and bool(rows.update(**fields))
            if moved:
                message_event_emit(type=MESSAGE_STATUS_CHANGED,
                                   message=Message.objects.get(pk=message_id),
                                   previous_status=previous)
    if moved:
        inbox_changed()  # the bubble's status follows in every open inbox
    return moved


def _requeue(message: Message, code: str, detail: str, retry_after: float | None) -> float | None:
    if message.attempts >= MAX_ATTEMPTS:
        _fail(message, code, f"Gave up after {message.attempts} attempts: {detail}")
        return None
    delay = max(retry_after or 0.0, backoff(message.attempts))
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, error_code=code[:50], error_message=detail[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=delay), updated_at=timezone.now(),
    )
    return delay


def _resolve_stuck(message: Message) -> None:
    """A ``sending`` row whose worker died: resend only where that cannot duplicate."""
    if message.sending_at and timezone.now() - message.sending_at < send_stuck_after():
        return  # another worker may be sending it right now
    provider = connection_get_active(message.connection)
    backend = backend_for(provider) if provider is not None else None
    if backend is not None and backend.hands_off:
        # Still the connector's (it may be waiting for its SMSC): hand it over again in
        # case the hand-over itself was lost; a message handed over twice is sent once.
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            sending_at=timezone.now())
        backend.send(_outbound_sms(message, provider.name))
        return
    if backend is not None and backend.idempotent_send:
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED, updated_at=timezone.now()
        )
        messages_enqueue([message.pk], schema=db_connection.schema_name)
        return
    _fail(message, error_codes.SEND_OUTCOME_UNKNOWN,
          "The worker stopped while the provider was being called; the message may or may "
          "not have left. It was not resent, to avoid a duplicate.")


def status_apply(*, message_id: int, status: str, error_code: str = "",
                 error_message: str = "") -> bool:
    """Apply a provider's status report; a status never moves backwards
    (docs/ARCHITECTURE.md#statuses).

    One conditional UPDATE, so late, repeated and out-of-order callbacks need no lock.
    Returns whether the message changed.
    """
    lower = [s for s, rank in RANK.items() if rank < RANK[status]]
    now = timezone.now()
    fields = {"status": status, "updated_at": now, TIMESTAMP_FIELD[status]: now}
    if error_code or error_message:
        fields.update(error_code=error_code[:50], error_message=error_message[:2000])
    return _status_move(message_id, leaving=lower, **fields)
