"""Outbound pipeline: validate -> store ``queued`` -> enqueue -> send -> record, in batches
(docs/ARCHITECTURE.md#outbound-pipeline).

Messages are written set-wise and handed to the send task up to ``DELIVER_BATCH`` at a
time; the task reserves each sender's rate with one token-bucket call, then claims, sends
and records a chunk at a time with a few set-based statements. Sending happens outside any
transaction, between the claim (``queued`` -> ``sending``) and the record of the provider's
answers. Whatever dies in between leaves ``sending`` rows that say exactly what is unknown;
they are resent only through a backend whose sends are idempotent, otherwise they fail with
``send_outcome_unknown`` — never a silent duplicate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import encoding
from core.bulk import rows_insert, values_insert
from core.domain_events import event_wanted
from core.errors import DomainError
from core.live import inbox_changed
from core.metrics import PROVIDER_ERRORS, SEND_OUTCOMES
from core.phones import inbound_address, phone_normalize
from core.rate_limit import tokens_reserve_many
from core.shared_rows import Statement, shared_rows_add
from core.statistics import statistics_refresh
from messaging import error_codes
from messaging.events import MESSAGE_STATUS_CHANGED, message_event_emit
from messaging.models import Contact, Conversation, Message, Sender
from messaging.providers import backend_for
from messaging.providers.base import (
    Backend,
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    SendError,
    SendResult,
    status_callback_url,
)
from messaging.quota import quota_refusal, quota_reserve, tenant_send_check, tenant_send_refusal
from messaging.response_waits import waits_answer
from messaging.traffic import OUTBOUND, OUTCOMES, traffic_count, traffic_statement
from optout.actions import phones_lock
from optout.selectors import optout_blocks, phones_opted_out
from tenants.connection_health import (
    ALLOW_NONE,
    ALLOW_TRIAL,
    Outcome,
    bind_states,
    breaker_trial_take,
    breakers_allow,
    outcomes_record,
)
from tenants.connections import connection_get_active
from tenants.models import MessageRoute, ProviderConnection
from tenants.routes import route_candidates, route_name_of, routes_refresh
from tenants.status import tenant_state
from tenants.usage import Metered, usage_statement

logger = logging.getLogger(__name__)

MAX_SEGMENTS = 10
DELIVER_BATCH = 50
# A campaign's messages go 100 to a task: the statements of a batch cost about the same for
# 50 rows or 500, yet a task of 500 held a worker process for long enough (0.4 s) that the
# replies to customers waiting for one doubled their latency; a pause still stops
# everything not yet claimed.
CAMPAIGN_DELIVER_BATCH = 100
MAX_ATTEMPTS = 8
# A worker waits in-process for its sender's tokens up to this long, then hands back.
MAX_RATE_WAIT = 2.0
# Marks the one message an opted-out contact may still receive (docs/ARCHITECTURE.md#opt-out).
OPTOUT_CONFIRMATION = "optout_confirmation"
HELP_CONFIRMATION = "optout:help"
# Sent whatever the tenant's status and quota: they answer the customer's own STOP or HELP
# (docs/ARCHITECTURE.md#plans-and-quotas).
ALWAYS_SENT = frozenset({OPTOUT_CONFIRMATION, HELP_CONFIRMATION})


def send_stuck_after() -> timedelta:
    """Longer than a send can take (connect + read timeouts): a ``sending`` row older than
    this belongs to a worker that died."""
    return timedelta(seconds=settings.SEND_STUCK_AFTER_SECONDS)

# Outbound status ranks: a message moves up, never down or sideways out of a terminal
# state.
RANK = {
    Message.Status.SCHEDULED: 0, Message.Status.QUEUED: 1, Message.Status.SENDING: 2,
    Message.Status.SENT: 3, Message.Status.DELIVERED: 4, Message.Status.UNDELIVERED: 4,
    Message.Status.FAILED: 4, Message.Status.CANCELED: 4,
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
    # This message's own send time (a recipient's quiet hours), else the batch's.
    send_at: datetime | None = None


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

    ``senders`` caches approved senders by ``from_address`` as given, across a bulk
    request, which checks opt-outs itself, for all its recipients at once
    (``check_optout=False``).
    """
    analysis = body_check(body)
    to = phone_normalize(to, field="to")
    sender = senders.get(from_address) if senders is not None else None
    if sender is None:
        sender = _approved_sender(inbound_address(from_address or ""))
        if senders is not None:
            senders[from_address] = sender
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
                 author=None, origin_ref: str = "", send_at: datetime | None = None) -> Message:
    """Validate and queue one message in the current tenant's schema; the send task runs
    after commit, at once: a lone message never waits for a batch. With ``send_at`` in the
    future the message is ``scheduled`` instead, and the sweep queues it when due. Only
    the opt-out confirmation (``origin_ref=OPTOUT_CONFIRMATION``) reaches an opted-out
    contact. A suspended or closed tenant, or one over its monthly cap, sends only the
    opt-out and HELP confirmations (403 ``tenant_suspended``, ``quota_exceeded``)."""
    always = origin_ref in ALWAYS_SENT
    tenant_send_check(exempt=always)
    draft = message_validate(from_address=from_address, to=to, body=body,
                             check_optout=origin_ref != OPTOUT_CONFIRMATION)
    with transaction.atomic():
        fits = always or quota_reserve(costs=[draft.analysis.segments])[0]
        message = _queue([draft], origin=origin, author=author, origin_ref=origin_ref,
                         send_at=send_at)[0] if fits else None
    if message is None:
        # Raised after the block: the warning that the cap is reached commits all the same.
        raise quota_refusal(tenant_state(db_connection.schema_name).monthly_segment_cap)
    return message


def messages_send_bulk(*, items: list[dict], origin: str, origin_ref: str = "",
                       send_at: datetime | None = None) -> list[Message | DomainError]:
    """Validate every item, queue the valid ones in one transaction, and answer per item
    (``send_at`` as for ``message_send``).

    Contacts, conversations and messages are written with a few set-based statements, so a
    thousand messages cost about as much as a handful. A suspended or closed tenant is
    refused as a whole (403); items past the monthly cap are refused one by one
    (``quota_exceeded``).
    """
    tenant_send_check(exempt=origin_ref in ALWAYS_SENT)
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
    with transaction.atomic():
        if origin_ref not in ALWAYS_SENT:
            results = _within_quota(results)
        drafts = [result for result in results if isinstance(result, Draft)]
        queued = iter(_queue(drafts, origin=origin, origin_ref=origin_ref, send_at=send_at))
    return [next(queued) if isinstance(result, Draft) else result for result in results]


def _within_quota(results: list[Draft | DomainError]) -> list[Draft | DomainError]:
    """The drafts that fit this month's cap stay; the others become ``quota_exceeded``."""
    drafts = [result for result in results if isinstance(result, Draft)]
    fits = iter(quota_reserve(costs=[draft.analysis.segments for draft in drafts]))
    refusal = None
    kept: list[Draft | DomainError] = []
    for result in results:
        if isinstance(result, Draft) and not next(fits):
            refusal = refusal or quota_refusal(
                tenant_state(db_connection.schema_name).monthly_segment_cap)
            result = refusal
        kept.append(result)
    return kept


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


def messages_queue(*, drafts: list[Draft], origin: str, campaign_id: int | None = None,
                   contact_ids: dict[str, int] | None = None) -> int:
    """Store drafts the caller built and checked itself (bodies measured, senders approved,
    opt-outs excluded) as ``queued`` messages, or ``scheduled`` for a draft whose
    ``send_at`` is ahead, and enqueue the queued ones on commit; return how many. Call
    inside a transaction. A campaign's messages carry its id. ``contact_ids`` (every
    recipient's contact, by number) spares looking the contacts up. No model object is
    built: a campaign stores thousands at a time."""
    return len(_queue(drafts, origin=origin, campaign_id=campaign_id, objects=False,
                      batch=CAMPAIGN_DELIVER_BATCH, contact_ids=contact_ids))


def _queue(drafts: list[Draft], *, origin: str, author=None, origin_ref: str = "",
           send_at: datetime | None = None, campaign_id: int | None = None,
           objects: bool = True, batch: int = DELIVER_BATCH,
           contact_ids: dict[str, int] | None = None) -> list:
    """Insert ``queued`` (or ``scheduled``) messages with their contacts and conversations;
    enqueue the queued ones on commit. Returns the messages, or only their ids without
    ``objects``.

    Numbers and ids travel as one array parameter each: a statement with a placeholder per
    value cost more to build than to run."""
    if not drafts:
        return []
    now = timezone.now()
    contacts = contact_ids
    if contacts is None:
        phones = sorted({draft.to for draft in drafts})
        values_insert(Contact, [{"phone": phone, "created_at": now} for phone in phones],
                      conflict_target="(phone)")
        contacts = dict(_select(f"SELECT phone, id FROM {_table(Contact)} "  # noqa: S608
                                "WHERE phone = ANY(%s)", [phones]))
    pairs = {(contacts[d.to], d.sender.pk) for d in drafts}
    # One statement creates the missing conversations and brings the others' activity up
    # to now, returning both (in a deterministic order: concurrent sends lock alike).
    conversations = {
        (contact, sender): pk for contact, sender, pk in values_insert(
            Conversation, [{"contact_id": c, "sender_id": s, "last_activity_at": now,
                            "created_at": now} for c, s in sorted(pairs)],
            conflict_target="(contact_id, sender_id)", update=("last_activity_at",),
            returning=("contact_id", "sender_id", "id"))
    }
    conversation_ids = list(conversations.values())
    waited_from = (waits_answer(conversation_ids=conversation_ids)
                   if origin == Message.Origin.USER else {})
    rows = []
    for d in drafts:
        conversation_id = conversations[(contacts[d.to], d.sender.pk)]
        at = d.send_at or send_at
        scheduled = at is not None and at > now
        rows.append({
            "direction": Message.Direction.OUTBOUND, "sender_id": d.sender.pk,
            "contact_id": contacts[d.to], "conversation_id": conversation_id,
            "from_address": d.sender.address, "to_address": d.to, "body": d.body,
            "encoding": d.analysis.encoding, "segments": d.analysis.segments,
            "status": Message.Status.SCHEDULED if scheduled else Message.Status.QUEUED,
            "scheduled_for": at if scheduled else None,
            "queued_at": None if scheduled else now, "connection": d.sender.connection,
            "origin": origin, "author_id": author.pk if author else None,
            "origin_ref": origin_ref, "campaign_id": campaign_id, "created_at": now,
            "updated_at": now,
            # The first reply in a conversation ends its wait; any other in this batch
            # came after it.
            "answered_wait_from": waited_from.pop(conversation_id, None),
        })
    if objects:
        messages = []
        for d, row in zip(drafts, rows, strict=True):
            message = Message(**row)
            message.sender, message.author = d.sender, author
            messages.append(message)
        rows_insert(messages)
        ids = [m.pk for m in messages]
    else:
        messages = ids = values_insert(Message, rows)
    traffic_count(counts=[(now, OUTBOUND)] * len(rows))
    queued = [pk for pk, row in zip(ids, rows, strict=True)
              if row["status"] == Message.Status.QUEUED]
    if queued:
        schema = db_connection.schema_name
        transaction.on_commit(lambda: messages_enqueue(queued, schema=schema, batch=batch))
    inbox_changed()
    return messages


def _table(model) -> str:
    return db_connection.ops.quote_name(model._meta.db_table)


def _select(sql: str, params: list) -> list[tuple]:
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def messages_cancel(*, message_ids: list[int]) -> list[int]:
    """Withdraw messages that have not left (``scheduled`` or ``queued``): they end
    ``canceled`` and are never sent, as the send task claims only ``queued`` rows under
    their lock. Returns the ids canceled; others (sending, sent, ...) are left alone."""
    now = timezone.now()
    moved = _status_moves(ids=message_ids,
                          leaving=[Message.Status.SCHEDULED, Message.Status.QUEUED],
                          fixed={"status": Message.Status.CANCELED, "updated_at": now})
    return [pk for pk, _ in moved]


def messages_hold(*, campaign_id: int) -> int:
    """Hold a campaign's messages that have not left (``queued``, ``scheduled``): they
    become ``scheduled`` without a time, which neither the sweep nor the send task touches,
    until ``messages_unhold`` gives them one. Returns how many.

    One statement, locking in id order (the order the send tasks go in): a row a send task
    has claimed is waited for and then left (it is ``sending``), and rows locked here are
    skipped by every claim until the commit, so nothing more leaves once the statement has
    passed the senders' position."""
    now = timezone.now()
    table = db_connection.ops.quote_name(Message._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = %s, scheduled_for = NULL, "  # noqa: S608
            "queued_at = NULL, updated_at = %s "
            f"FROM (SELECT id FROM {table} WHERE campaign_id = %s AND direction = %s "
            "AND status = ANY(%s) ORDER BY id FOR UPDATE) AS held WHERE m.id = held.id",
            [Message.Status.SCHEDULED, now, campaign_id, Message.Direction.OUTBOUND,
             [Message.Status.QUEUED, Message.Status.SCHEDULED]])
        count = cursor.rowcount
    if count:
        inbox_changed()
    return count


def messages_held(*, campaign_id: int, limit: int | None = None) -> list[tuple[int, str]]:
    """``(id, recipient)`` of a campaign's held messages (``scheduled`` without a time),
    the first ``limit`` by id."""
    held = Message.objects.filter(
        campaign_id=campaign_id, direction=Message.Direction.OUTBOUND,
        status=Message.Status.SCHEDULED, scheduled_for__isnull=True,
    ).order_by("pk").values_list("pk", "to_address")
    return list(held[:limit] if limit else held)


def messages_unhold(*, message_ids: list[int], times: list[datetime], now: datetime
                    ) -> list[int]:
    """Give held messages their time back: ``queued`` where it has come (returned, for the
    caller to enqueue after commit), else ``scheduled`` for it. A message no longer held
    (canceled meanwhile) is left alone."""
    if not message_ids:
        return []
    table = db_connection.ops.quote_name(Message._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET "  # noqa: S608
            "status = CASE WHEN v.at <= %s THEN %s ELSE %s END, "
            "scheduled_for = CASE WHEN v.at <= %s THEN NULL ELSE v.at END, "
            "queued_at = CASE WHEN v.at <= %s THEN %s::timestamptz ELSE NULL END, "
            "updated_at = %s "
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) "
            "WHERE m.id = v.id AND m.status = %s AND m.scheduled_for IS NULL "
            "RETURNING m.id, m.status",
            [now, Message.Status.QUEUED, Message.Status.SCHEDULED, now, now, now, now,
             message_ids, times, Message.Status.SCHEDULED])
        moved = cursor.fetchall()
    if moved:
        inbox_changed()
    return sorted(pk for pk, status in moved if status == Message.Status.QUEUED)


def messages_release_due(*, now: datetime) -> list[int]:
    """Move ``scheduled`` messages whose time has come to ``queued``; return their ids.
    One without a time (``scheduled_for`` null) waits until something gives it one."""
    with db_connection.cursor() as cursor:
        table = db_connection.ops.quote_name(Message._meta.db_table)
        cursor.execute(
            f"UPDATE {table} SET status = %s, queued_at = %s, updated_at = %s "  # noqa: S608
            "WHERE status = %s AND scheduled_for <= %s RETURNING id",
            [Message.Status.QUEUED, now, now, Message.Status.SCHEDULED, now])
        ids = sorted(row[0] for row in cursor.fetchall())
    if ids:
        inbox_changed()
    return ids


# A lone message goes to ``outbound``, which replies share; batches go to ``bulk``, so a
# reply never waits behind thousands of bulk sends; sends handed back to wait (a sender's
# rate, a retry's backoff, a route's breaker) go to ``retries``, so a rate-limited sender
# never waits behind another campaign's backlog either (a free worker takes ``inbound`` and
# ``outbound`` first, the other queues in turn: cpaas/queue_order.py).
LONE_QUEUE, BULK_QUEUE, RETRY_QUEUE = "outbound", "bulk", "retries"


def messages_enqueue(message_ids: list[int], *, schema: str,
                     countdown: float | None = None, batch: int = DELIVER_BATCH) -> None:
    """Hand messages to the send task, ``batch`` per task: one task per message would cap
    the pipeline at the broker's task rate (docs/ARCHITECTURE.md#measured-constraints).
    ``schema`` travels with the task. Inside ``sends_inline`` a lone message is kept for
    the scope to send instead."""
    from messaging.tasks import messages_deliver

    inline = _inline.get()
    if inline is not None and countdown is None and len(message_ids) == 1:
        inline.extend(message_ids)
        return
    queue = (RETRY_QUEUE if countdown is not None
             else LONE_QUEUE if len(message_ids) == 1 else BULK_QUEUE)
    try:
        for start in range(0, len(message_ids), batch):
            messages_deliver.apply_async(args=[message_ids[start:start + batch]],
                                         countdown=countdown, queue=queue,
                                         headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        # Committed as ``queued``: the sweep enqueues them once the broker is back.
        logger.warning("broker unavailable; %d message(s) in %s left to the sweep",
                       len(message_ids), schema, exc_info=True)


# The lone messages queued (and committed) inside ``sends_inline``, for it to send.
_inline: ContextVar[list[int] | None] = ContextVar("sends_inline", default=None)


@contextmanager
def sends_inline() -> Iterator[None]:
    """Send the lone messages queued in the block from this process once it ends (their
    transaction committed), instead of through the ``outbound`` queue: the automatic
    replies of an inbound batch leave as soon as it commits, even while every worker
    process is busy with a campaign's batches (docs/ARCHITECTURE.md#automation-order). The
    block never waits for a rate: what a sender's rate does not let go at once is handed
    to the ``retries`` queue; with the database or a backend failing, the messages go to
    the queue as they would have."""
    collected: list[int] = []
    token = _inline.set(collected)
    try:
        yield
    finally:
        _inline.reset(token)
    if collected:
        schema = db_connection.schema_name
        try:
            messages_dispatch(message_ids=collected, max_wait=0.0)
        except Exception:
            logger.exception("replies %s of %s not sent in-process; queued", collected, schema)
            messages_enqueue(collected, schema=schema)


def messages_dispatch(*, message_ids: list[int], max_wait: float = MAX_RATE_WAIT) -> None:
    """``messages_deliver``, then enqueue what must be tried again, each after its delay,
    and have the tables a batch's sends grew measured again: what the send task does with
    its batch."""
    retry: dict[float, list[int]] = {}
    for message_id, delay in messages_deliver(message_ids=message_ids,
                                              max_wait=max_wait).items():
        retry.setdefault(round(delay, 1), []).append(message_id)
    for delay, ids in retry.items():
        messages_enqueue(ids, schema=db_connection.schema_name, countdown=delay)
    if len(message_ids) > 1:
        # Batches come from bulk sends, which grow these tables faster than autovacuum
        # measures them (docs/ARCHITECTURE.md#measured-constraints).
        statistics_refresh(models=(Contact, Conversation, Message))


def backoff(attempt: int) -> float:
    """Exponential: 2, 4, 8 ... seconds, capped at ten minutes."""
    return float(min(2 ** attempt, 600))


def message_deliver(*, message_id: int) -> float | None:
    """``messages_deliver`` for one message: the delay after which to try it again, or
    None when there is nothing more to do."""
    return messages_deliver(message_ids=[message_id]).get(message_id)


# Sends whose rate-limit waits fall in the same step go out together: never early, at
# most this late.
WAVE_STEP = 0.05
# What sending reads of a message and its sender: loading the rest cost more than the
# statements of a batch.
_DELIVERY_FIELDS = (
    "direction", "status", "from_address", "to_address", "body", "encoding", "segments",
    "connection", "origin_ref", "attempts", "sending_at", "sender__address", "sender__kind",
    "sender__status", "sender__rate_limit", "sender__connection",
)


def messages_deliver(*, message_ids: list[int],
                     max_wait: float = MAX_RATE_WAIT) -> dict[int, float]:
    """Send queued messages through their backends and record the answers.

    Returns, per message to try again later (a rate limit, a transient error), the delay
    after which to enqueue it. The task waits in-process up to ``max_wait`` for its
    senders' rates. Safe to call twice, concurrently or after a crash: only the
    caller that moves a row from ``queued`` to ``sending`` sends it.
    """
    retry: dict[int, float] = {}
    queued: list[Message] = []
    # A refused message is dropped here already, not only at the claim: a canceled
    # campaign's send tasks still in the queue then cost one query each, instead of holding
    # every send queued behind them for seconds.
    for message in (Message.objects.select_related("sender").only(*_DELIVERY_FIELDS)
                    .annotate(refused=_refused())
                    .filter(pk__in=message_ids, direction=Message.Direction.OUTBOUND)
                    .order_by("pk")):
        if message.status == Message.Status.SENDING:
            _resolve_stuck(message)
        elif message.status == Message.Status.QUEUED and not message.refused:
            queued.append(message)
    schedule: list[tuple[float, Message]] = []
    sendable, tenant_waits, later = _tenant_rate_reserve(_sendable(queued), max_wait)
    retry.update(later)
    for _, group in groupby(sendable, key=lambda m: m.sender_id):
        waits, later = _rate_reserve(list(group), max_wait)
        schedule += [(max(wait, tenant_waits.get(message.pk, 0.0)), message)
                     for wait, message in waits]
        retry.update(later)
    started = time.monotonic()
    schedule.sort(key=lambda item: (item[0], item[1].pk))
    for at, wave in groupby(schedule, key=lambda item: math.ceil(item[0] / WAVE_STEP)):
        time.sleep(max(0.0, started + at * WAVE_STEP - time.monotonic()))
        chosen, later = _connections_choose([message for _, message in wave])
        retry.update(later)
        chosen.sort(key=lambda m: (m.connection, m.pk))
        for name, same in groupby(chosen, key=lambda m: m.connection):
            retry.update(_send_through(name, list(same)))
    return retry


def _connections_choose(messages: list[Message]) -> tuple[list[Message], dict[int, float]]:
    """Give each message of a sender on a route the connection it leaves through
    (docs/ARCHITECTURE.md#routing): the first of its longest matching prefix's connections
    that is active, bound (SMPP) and not skipped by its breaker; a half-open breaker takes
    one trial message. Returns the messages that have a connection now (``connection`` set
    in memory; the claim records it), and when to try the others again: those for whom
    every connection is down wait, still ``queued``, for the first breaker to half-open.
    A number no entry matches fails with ``no_route``."""
    routed = [m for m in messages if route_name_of(m.sender.connection) is not None]
    if not routed:
        return messages, {}
    routes_refresh()
    candidates = {m.pk: route_candidates(route_name_of(m.sender.connection), m.to_address)
                  for m in routed}
    names = sorted({name for names in candidates.values() for name in names})
    providers = {name: connection_get_active(name) for name in names}
    usable = [name for name in names if providers[name] is not None]
    bound = bind_states([name for name in usable
                         if providers[name].kind == ProviderConnection.Kind.SMPP])
    allowed = breakers_allow([name for name in usable if bound.get(name, True)])
    chosen = [m for m in messages if route_name_of(m.sender.connection) is None]
    later: dict[int, float] = {}
    unroutable: list[tuple[Message, str, str]] = []
    for message in routed:
        if not candidates[message.pk]:
            unroutable.append((message, error_codes.NO_ROUTE,
                               f"No entry of route {route_name_of(message.sender.connection)}"
                               f" matches {message.to_address}."))
            continue
        name = next((name for name in candidates[message.pk]
                     if _breaker_lets_through(allowed, name)), None)
        if name is None:
            later[message.pk] = float(max(1, settings.ROUTE_BREAKER_COOLDOWN_SECONDS))
            continue
        message.connection = name
        chosen.append(message)
    _fail_many(unroutable)
    return chosen, later


def _breaker_lets_through(allowed: dict[str, int], name: str) -> bool:
    """Whether ``name`` takes the next message; a half-open breaker takes one, the trial
    (``allowed`` remembers it for the rest of the batch)."""
    state = allowed.get(name, ALLOW_NONE)
    if state == ALLOW_TRIAL:
        allowed[name] = ALLOW_NONE
        return breaker_trial_take(name)
    return state != ALLOW_NONE


def _sendable(messages: list[Message]) -> list[Message]:
    """The messages whose sender may still send on an active connection, by sender; fail
    the others (``sender_not_approved``, ``connection_inactive``, and ``tenant_suspended``
    or ``tenant_closed`` but for the confirmations always sent)."""
    failures: list[tuple[Message, str, str]] = []
    sendable: list[Message] = []
    refusal = tenant_send_refusal(tenant_state(db_connection.schema_name))
    for message in messages:
        if refusal is not None and message.origin_ref not in ALWAYS_SENT:
            failures.append((message, refusal.code, refusal.detail))
        elif message.sender.status != Sender.Status.APPROVED:
            failures.append((message, error_codes.SENDER_NOT_APPROVED,
                             f"{message.sender.address} is {message.sender.status}."))
        elif (route_name_of(message.sender.connection) is None
              and connection_get_active(message.connection) is None):
            failures.append((message, "connection_inactive",
                             f"Connection {message.connection!r} is inactive."))
        else:
            sendable.append(message)
    _fail_many(failures)
    return sorted(sendable, key=lambda m: (m.sender_id, m.pk))


def _tenant_rate_reserve(messages: list[Message], max_wait: float
                         ) -> tuple[list[Message], dict[int, float], dict[int, float]]:
    """The plan's cap on the tenant's segments per second, across its senders: one more
    token bucket before the senders' own. Returns the messages that fit within
    ``max_wait`` (in order), their waits, and when to try the others again."""
    state = tenant_state(db_connection.schema_name)
    if not messages or state is None or not state.segments_per_second_cap:
        return messages, {}, {}
    waits, retry = tokens_reserve_many(
        key=f"tenant:{db_connection.schema_name}", rate=state.segments_per_second_cap,
        costs=[message.segments for message in messages], max_wait=max_wait)
    fitting = messages[:len(waits)]
    later = {message.pk: max(0.1, (retry or 0.0) - max_wait)
             for message in messages[len(waits):]}
    return fitting, {m.pk: wait for m, wait in zip(fitting, waits, strict=True)}, later


def _rate_reserve(messages: list[Message], max_wait: float
                  ) -> tuple[list[tuple[float, Message]], dict[int, float]]:
    """Reserve one sender's segments for ``messages`` with one token-bucket call (shared by
    every worker; carriers count segments). Returns when to send each that fits within
    ``max_wait``, and when to try the others again: early enough that the next
    reservation is made before the sender's rate would leave a gap."""
    sender = messages[0].sender
    if not sender.rate_limit:
        return [(0.0, message) for message in messages], {}
    waits, retry = tokens_reserve_many(
        key=f"{db_connection.schema_name}:{sender.pk}", rate=sender.rate_limit,
        costs=[message.segments for message in messages], max_wait=max_wait)
    later = {message.pk: max(0.1, (retry or 0.0) - max_wait)
             for message in messages[len(waits):]}
    return list(zip(waits, messages, strict=False)), later


def _send_through(connection_name: str, messages: list[Message]) -> dict[int, float]:
    """Claim, send and record ``messages`` of one connection, a chunk at a time.

    A backend whose resend could duplicate a message is given as many at once as it sends
    concurrently, so a worker killed mid-batch leaves at most that many with an unknown
    outcome; an idempotent or hand-off backend takes the whole batch.
    """
    provider = connection_get_active(connection_name)
    if provider is None:
        _fail_many([(m, "connection_inactive", f"Connection {connection_name!r} is inactive.")
                    for m in messages])
        return {}
    backend = backend_for(provider)
    size = (len(messages) if backend.idempotent_send or backend.hands_off
            else backend.send_concurrency)
    retry: dict[int, float] = {}
    for start in range(0, len(messages), size):
        claimed = _claim(messages[start:start + size])
        if claimed:
            results = backend.send_batch([_outbound_sms(m, provider.name) for m in claimed])
            outcomes_record([_outcome(provider.name, results)])
            retry.update(_record(claimed, results, backend))
    return retry


def _outcome(connection_name: str, results: list[SendResult | SendError]) -> Outcome:
    """What a chunk's answers say of the connection: its breaker counts the transient
    failures (and the unknown outcomes: a connection lost mid-answer), not the refusals."""
    errors = [result for result in results if isinstance(result, SendError)]
    permanent = sum(isinstance(result, PermanentSendError) for result in errors)
    return Outcome(connection=connection_name, sent=len(results) - len(errors),
                   transient=len(errors) - permanent, permanent=permanent,
                   last_error=(errors[-1].code, errors[-1].detail) if errors else None)


def _outbound_sms(message: Message, connection_name: str) -> OutboundSMS:
    return OutboundSMS(
        message_id=message.pk, tenant_schema=db_connection.schema_name,
        from_address=message.from_address, to=message.to_address, body=message.body,
        encoding=message.encoding, segments=message.segments,
        status_callback=status_callback_url(connection_name), sender_kind=message.sender.kind,
    )


# SQL conditions on a queued message (the row ``q``) under which no send task claims it,
# registered by the apps above this one: a canceled campaign's messages, which its task
# withdraws a chunk at a time after the cancel has answered (campaigns/apps.py).
_claim_refusals: list[str] = []


def claim_refusal_register(condition: str) -> None:
    """Refuse to send the queued messages ``condition`` holds for (SQL on the message row,
    which it names ``{message}``; never NULL); they stay ``queued`` for the registering
    app to end."""
    if condition not in _claim_refusals:
        _claim_refusals.append(condition)


def _refused() -> RawSQL:
    """True on a message a registered refusal holds for, in a query on the message table."""
    table = db_connection.ops.quote_name(Message._meta.db_table)
    conditions = [f"({condition.format(message=table)})" for condition in _claim_refusals]
    # The conditions are the apps' own SQL, registered at start-up: no input reaches them.
    return RawSQL(" OR ".join(conditions) or "false", [],  # noqa: S611
                  output_field=BooleanField())


def _claim(messages: list[Message]) -> list[Message]:
    """Move the rows from ``queued`` to ``sending``, except for recipients who opted out
    meanwhile and rows a registered refusal holds for (``claim_refusal_register``); return
    the messages claimed (``attempts`` counted).

    The opt-out check and the claim commit together under the numbers' opt-out locks
    (shared), so a STOP committing concurrently is either seen here or comes after the
    claim: a send queued before a STOP never leaves after it. Rows another transaction
    holds are skipped, not waited for: a second copy of the task is sending them, or they
    are being withdrawn. A refused message is failed once the locks are released: failing
    it may write a status event, which locks the conversation's event sequence, and
    message processing takes that lock before the number's opt-out lock.
    """
    checked = [m for m in messages if m.origin_ref != OPTOUT_CONFIRMATION]
    now = timezone.now()
    with transaction.atomic():
        phones_lock(phones={m.to_address for m in checked}, shared=True)
        blocked = _opted_out_pairs([(m.to_address, m.from_address) for m in checked])
        refused = [m for m in checked if (m.to_address, m.from_address) in blocked]
        refused_ids = {m.pk for m in refused}
        candidates = [m.pk for m in messages if m.pk not in refused_ids]
        table = db_connection.ops.quote_name(Message._meta.db_table)
        # The connection is recorded as the claim is: a route chose it just now.
        connections = {m.pk: m.connection for m in messages}
        refused_sql = "".join(f" AND NOT ({condition.format(message='q')})"
                              for condition in _claim_refusals)
        with db_connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS m SET status = %s, sending_at = %s, "  # noqa: S608
                "attempts = m.attempts + 1, next_attempt_at = NULL, updated_at = %s, "
                "connection = v.connection "
                f"FROM (SELECT q.id FROM {table} AS q WHERE q.id = ANY(%s) AND q.status = %s"
                f"{refused_sql} FOR UPDATE OF q SKIP LOCKED) AS free, "
                "unnest(%s::bigint[], %s::varchar[]) AS v(id, connection) "
                "WHERE m.id = free.id AND v.id = m.id RETURNING m.id, m.attempts",
                [Message.Status.SENDING, now, now, candidates, Message.Status.QUEUED,
                 candidates, [connections[pk] for pk in candidates]])
            attempts = dict(cursor.fetchall())
    _fail_many([(m, error_codes.RECIPIENT_OPTED_OUT,
                 f"{m.to_address} opted out before the message was sent.") for m in refused],
               leaving=[Message.Status.QUEUED])
    claimed = [m for m in messages if m.pk in attempts]
    for message in claimed:
        message.status, message.attempts = Message.Status.SENDING, attempts[message.pk]
    return claimed


def _opted_out_pairs(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(phone, sender address) pairs that opt-outs block: one query per sender."""
    by_sender: dict[str, set[str]] = {}
    for phone, address in pairs:
        by_sender.setdefault(address, set()).add(phone)
    return {(phone, address) for address, phones in by_sender.items()
            for phone in phones_opted_out(phones=phones, sender_address=address)}


def _record(messages: list[Message], results: list[SendResult | SendError],
            backend: Backend) -> dict[int, float]:
    """Store what the provider answered for each claimed message, a few statements for
    the whole chunk; return the delays of those to try again."""
    sent: list[tuple[Message, SendResult]] = []
    failures: list[tuple[Message, str, str]] = []
    retries: list[tuple[Message, str, str, float | None]] = []
    for message, result in zip(messages, results, strict=True):
        if isinstance(result, SendResult):
            if result.status != Message.Status.SENDING:  # else the hand-off records it
                sent.append((message, result))
        elif isinstance(result, PermanentSendError):
            failures.append((message, result.code, result.detail))
        elif isinstance(result, OutcomeUnknownError) and not backend.idempotent_send:
            failures.append((message, error_codes.SEND_OUTCOME_UNKNOWN, result.detail))
        else:  # transient, or an unknown outcome that a resend cannot duplicate
            retries.append((message, result.code, result.detail,
                            getattr(result, "retry_after", None)))
    if sent:
        _record_sent(sent)
    _fail_many(failures)
    _count_outcomes(sent=[m for m, _ in sent], failures=failures, retries=retries)
    return _requeue_many(retries)


def _count_outcomes(*, sent: list[Message], failures: list[tuple[Message, str, str]],
                    retries: list[tuple[Message, str, str, float | None]]) -> None:
    """For /metrics: sends by connection and outcome, and the providers' error codes."""
    for outcome, messages in (("sent", sent), ("failed", [m for m, *_ in failures]),
                              ("retry", [m for m, *_ in retries])):
        for name, same in groupby(sorted(m.connection for m in messages)):
            SEND_OUTCOMES.labels(name, outcome).inc(len(list(same)))
    for message, code, *_ in [*failures, *retries]:
        PROVIDER_ERRORS.labels(message.connection, code[:50] or "unknown").inc()


def _record_sent(sent: list[tuple[Message, SendResult]]) -> None:
    now = timezone.now()
    with transaction.atomic():
        moved = _status_moves(
            ids=[message.pk for message, _ in sent], leaving=[Message.Status.SENDING],
            fixed={"sent_at": now, "updated_at": now, "error_code": "", "error_message": ""},
            per_row={
                "status": [result.status for _, result in sent],
                "provider_message_id": [result.provider_message_id for _, result in sent],
                "delivered_at": [now if result.status == Message.Status.DELIVERED else None
                                 for _, result in sent],
            },
            usage=lambda moved_ids: _sent_usage(
                [message for message, _ in sent if message.pk in moved_ids], now=now))
        moved_ids = {pk for pk, _ in moved}
        values_insert(MessageRoute, [
            {"connection": message.connection,
             "provider_message_id": result.provider_message_id,
             "schema_name": db_connection.schema_name, "message_id": message.pk,
             "created_at": now}
            for message, result in sent if message.pk in moved_ids
        ], conflict_target="(connection, provider_message_id)")


def _sent_usage(messages: list[Message], *, now: datetime) -> Statement | None:
    """The counters' statement for the messages just recorded as accepted: that move
    happens once per message, so a retried or redelivered send is counted once
    (docs/ARCHITECTURE.md#metering)."""
    state = tenant_state(db_connection.schema_name)
    if state is None or not messages:
        return None
    day = now.date()
    return usage_statement(tenant_id=state.tenant_id, messages=[
        Metered(day=day, direction=Message.Direction.OUTBOUND, sender=m.from_address,
                connection=m.connection, customer=m.to_address, segments=m.segments)
        for m in messages])


def _fail_many(failures: list[tuple[Message, str, str]], *,
               leaving: Sequence[str] = (Message.Status.QUEUED, Message.Status.SENDING)
               ) -> None:
    """End each message ``failed`` with its code and text, if it is still ``leaving``."""
    if not failures:
        return
    now = timezone.now()
    _status_moves(ids=[message.pk for message, _, _ in failures], leaving=leaving,
                  fixed={"status": Message.Status.FAILED, "failed_at": now, "updated_at": now},
                  per_row={"error_code": [code[:50] for _, code, _ in failures],
                           "error_message": [detail[:2000] for _, _, detail in failures]})


def _fail(message: Message, code: str, detail: str) -> None:
    _fail_many([(message, code, detail)])


def _requeue_many(retries: list[tuple[Message, str, str, float | None]]) -> dict[int, float]:
    """Back to ``queued`` with exponential backoff (or the provider's ``Retry-After`` when
    longer), each ``next_attempt_at`` recorded; after ``MAX_ATTEMPTS``, ``failed``."""
    exhausted = [(m, code, f"Gave up after {m.attempts} attempts: {detail}")
                 for m, code, detail, _ in retries if m.attempts >= MAX_ATTEMPTS]
    _fail_many(exhausted)
    again = [(m, code, detail, max(retry_after or 0.0, backoff(m.attempts)))
             for m, code, detail, retry_after in retries if m.attempts < MAX_ATTEMPTS]
    if not again:
        return {}
    now = timezone.now()
    _status_moves(ids=[m.pk for m, *_ in again], leaving=[Message.Status.SENDING],
                  fixed={"status": Message.Status.QUEUED, "updated_at": now},
                  per_row={"error_code": [code[:50] for _, code, _, _ in again],
                           "error_message": [detail[:2000] for _, _, detail, _ in again],
                           "next_attempt_at": [now + timedelta(seconds=delay)
                                               for *_, delay in again]})
    return {m.pk: delay for m, *_, delay in again}


def _status_moves(*, ids: list[int], leaving: Sequence[str], fixed: dict[str, Any],
                  per_row: dict[str, list] | None = None,
                  usage: Callable[[set[int]], Statement | None] | None = None,
                  ) -> list[tuple[int, str]]:
    """Move outbound messages from one of the ``leaving`` statuses with one conditional
    UPDATE: ``fixed`` columns take one value, ``per_row`` ones a value per id (in the
    order of ``ids``). Returns ``(id, previous status)`` of the rows that moved.

    A move into ``delivered``, ``undelivered`` or ``failed`` is counted for the dashboard
    in the same transaction (``messaging.traffic``), and ``usage`` (given the ids moved)
    adds the counters' statement to the same round trip: only rows that moved are
    returned, so a repeated callback counts nothing.

    Each move emits ``message.status_changed`` in the same transaction when a subscriber
    wants it (the previous status is read under the row's lock, by the statement itself);
    without one this costs nothing more. Bumps the inbox version once.
    """
    if not ids:
        return []
    per_row = per_row or {}
    field = Message._meta.get_field
    quote = db_connection.ops.quote_name
    table = quote(Message._meta.db_table)
    sets = [f"{quote(field(name).column)} = %s" for name in fixed]
    sets += [f"{quote(field(name).column)} = v.c{index}"
             for index, name in enumerate(per_row, start=1)]
    arrays = ", ".join(f"%s::{field(name).cast_db_type(db_connection)}[]" for name in per_row)
    names = ", ".join(f"c{index}" for index in range(1, len(per_row) + 1))
    sql = (f"UPDATE {table} AS m SET {', '.join(sets)} "  # noqa: S608
           f"FROM (SELECT id, status FROM {table} WHERE id = ANY(%s) AND direction = %s "
           "AND status = ANY(%s) FOR UPDATE) AS old, "
           f"unnest(%s::bigint[]{', ' if per_row else ''}{arrays}) AS v(id"
           f"{', ' if per_row else ''}{names}) "
           "WHERE m.id = old.id AND v.id = m.id "
           "RETURNING m.id, old.status, m.status, m.created_at")
    params = [field(name).get_db_prep_save(value, db_connection) for name, value in fixed.items()]
    params += [ids, Message.Direction.OUTBOUND, list(leaving), ids, *per_row.values()]
    with transaction.atomic():
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        moved = [(pk, previous) for pk, previous, _, _ in rows]
        shared_rows_add(
            traffic_statement(counts=[(created_at, OUTCOMES[status])
                                      for _, _, status, created_at in rows
                                      if status in OUTCOMES]),
            usage({pk for pk, _ in moved}) if usage else None)
        if moved and event_wanted(type=MESSAGE_STATUS_CHANGED):
            previous = dict(moved)
            for message in Message.objects.filter(pk__in=previous).order_by("pk"):
                message_event_emit(type=MESSAGE_STATUS_CHANGED, message=message,
                                   previous_status=previous[message.pk])
    if moved:
        inbox_changed()  # the bubbles' statuses follow in every open inbox
    return moved


def _status_move(message_id: int, *, leaving: Sequence[str], **fields) -> bool:
    return bool(_status_moves(ids=[message_id], leaving=leaving, fixed=fields))


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
