"""Inbound pipeline: route -> store idempotently -> commit -> wake a worker -> process
(docs/ARCHITECTURE.md#inbound-pipeline).

The webhook does the least that makes the message safe (one routing lookup, one insert) and
answers; contacts, conversations and every automatic reaction happen in a worker, which
claims the tenant's unprocessed messages itself (``messages_process_pending``). The webhook
only makes sure such a worker is coming: a Redis ``SET NX`` (one per tenant and web
process every ``WAKE_GATHER_SECONDS`` under a burst), and one task for all the messages
that arrive before a worker takes it, instead of a broker publish per message. A periodic
sweep wakes a worker for anything committed but not processed, so a broker outage loses
nothing.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django_tenants.utils import schema_context

from core import encoding
from core.bulk import PLAIN_TYPES, values_insert
from core.errors import DomainError
from core.live import inbox_changed
from core.memo import memo_scope
from core.phones import inbound_address, inbound_sender_normalize, phone_normalize
from core.shared_rows import Statement, shared_rows_add
from core.statistics import statistics_refresh
from messaging import error_codes
from messaging.automation import batch_facts, message_react
from messaging.events import MESSAGE_RECEIVED, message_event_emit
from messaging.models import Contact, Conversation, InboundPart, Message, Sender
from messaging.outbound import sends_inline
from messaging.providers.base import InboundSMS
from messaging.selectors import campaigns_answered_by_contact
from messaging.traffic import INBOUND, traffic_statement
from tenants.models import ProviderConnection
from tenants.routing_cache import route_cached
from tenants.status import tenant_state
from tenants.usage import Metered, usage_statement

logger = logging.getLogger(__name__)


def message_receive(*, connection: ProviderConnection, sms: InboundSMS) -> int | None:
    """Store an inbound SMS in the tenant that owns its recipient address.

    Call on the public schema. Returns the message's id, or None while a concatenated
    message still lacks parts. A retried webhook (same provider message id) returns the
    stored message's id and enqueues nothing new. Raises DomainError, storing nothing, when
    the sender is no number or sender ID (``invalid_address`` or ``invalid_phone_number`` on
    ``from``) or no approved sender has the recipient (``unrouted_recipient``).
    """
    sms = replace(sms, from_address=inbound_sender_normalize(sms.from_address))
    to_address = _recipient(sms.to_address)
    route = route_cached(to_address, connection.pk)
    if route is None:
        raise DomainError(error_codes.UNROUTED_RECIPIENT,
                             f"No approved sender {to_address} on connection {connection.name}.",
                             "to")
    sender_id, schema = route
    if sms.concat is None:
        return _store(schema=schema, sender_id=sender_id, connection=connection, sms=sms,
                      to_address=to_address)
    # Keeping a part and storing the whole message are one transaction: a crash between
    # them must not lose the parts already received.
    with schema_context(schema), transaction.atomic():
        whole = _reassemble(connection=connection, sms=sms, to_address=to_address)
        if whole is None:
            return None
        return _store(schema=schema, sender_id=sender_id, connection=connection, sms=whole,
                      to_address=to_address)


# A provider writes the few numbers of its senders the same way each time: parsing them
# with phonenumbers once per process, not per webhook, is a few percent of the webhook.
_recipient = functools.lru_cache(maxsize=1024)(inbound_address)


def _store(*, schema: str, sender_id: int, connection: ProviderConnection, sms: InboundSMS,
           to_address: str) -> int:
    analysis = encoding.analyse(sms.body)
    now = timezone.now()
    message_id, new = _insert_unless_known(schema=schema, values={
        "sender_id": sender_id, "from_address": sms.from_address, "to_address": to_address,
        "body": sms.body, "encoding": analysis.encoding, "segments": analysis.segments,
        "received_at": now, "connection": connection.name,
        "provider_message_id": sms.provider_message_id, "created_at": now, "updated_at": now,
    })
    if new:
        # Runs at once in autocommit, after the commit inside a transaction.
        transaction.on_commit(lambda: inbound_wake_soon(schema=schema))
    return message_id


@functools.cache
def _inbound_fields() -> list:
    return [field for field in Message._meta.concrete_fields if not field.primary_key]


@functools.cache
def _inbound_row() -> tuple[list, dict[str, int], set[str], list]:
    """An inbound row as the database takes it, with the values every inbound message
    shares (direction, status, origin, the fields' defaults) converted once per process;
    the position of each column; the columns whose values need the field's conversion;
    and the fields whose default is made anew for each row (a callable). Building a model
    object and converting thirty values per webhook cost about a quarter of its Python
    time."""
    fields = _inbound_fields()
    usual = Message(direction=Message.Direction.INBOUND, status=Message.Status.RECEIVED,
                    origin=Message.Origin.CUSTOMER)
    row = [field.get_db_prep_save(getattr(usual, field.attname), db_connection)
           for field in fields]
    converted = {field.attname for field in fields
                 if field.get_internal_type() not in PLAIN_TYPES}
    fresh = [field for field in fields if field.has_default() and callable(field.default)]
    return row, {field.attname: index for index, field in enumerate(fields)}, converted, fresh


@functools.lru_cache(maxsize=256)
def _insert_sql(schema: str) -> tuple[str, str]:
    """The statements of ``_insert_unless_known`` in ``schema``, built once per process:
    quoting thirty column names per webhook cost more than a tenth of its Python time."""
    quote = db_connection.ops.quote_name
    table = f"{quote(schema)}.{quote(Message._meta.db_table)}"
    fields = _inbound_fields()
    insert = (f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
              f"VALUES ({', '.join(['%s'] * len(fields))}) "
              "ON CONFLICT (connection, direction, provider_message_id) "
              "WHERE provider_message_id IS NOT NULL DO NOTHING RETURNING id")
    known = (f"SELECT id FROM {table} WHERE connection = %s AND direction = %s "  # noqa: S608
             "AND provider_message_id = %s")
    return insert, known


def _insert_unless_known(*, schema: str, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert an inbound message with ``values`` (by attribute name; every other column
    takes its inbound value or default) into ``schema`` unless its provider id is already
    stored; return its id and whether the row is new.

    One schema-qualified ``INSERT ... ON CONFLICT DO NOTHING``: no search-path switch, no
    savepoint, no transaction of its own. This statement is most of a webhook's cost, and
    the ORM would spend five round trips where one suffices.
    """
    insert, known = _insert_sql(schema)
    usual, position, converted, fresh = _inbound_row()
    row = list(usual)
    for field in fresh:
        row[position[field.attname]] = field.get_db_prep_save(field.get_default(),
                                                              db_connection)
    for name, value in values.items():
        if name in converted:
            value = Message._meta.get_field(name).get_db_prep_save(value, db_connection)
        row[position[name]] = value
    with _bound_cursor() as cursor:
        cursor.execute(insert, row)
        found = cursor.fetchone()
        if found is not None:
            return found[0], True
        cursor.execute(known, [values["connection"], Message.Direction.INBOUND,
                               values["provider_message_id"]])
        return cursor.fetchone()[0], False


def _bound_cursor() -> CursorWrapper:
    """A cursor that sends its values beside the statement (server-side binding) instead of
    quoting them into its text: for the thirty values of an inbound row that is a third
    less of the insert's Python time. The statements are unnamed, never prepared, so a
    transaction-mode pooler can carry them (docs/ARCHITECTURE.md#pooled-connections), and
    name their schema, so they need no search_path."""
    db_connection.ensure_connection()
    cursor = ServerBindingCursor(db_connection.connection)
    if db_connection.queries_logged:
        return db_connection.make_debug_cursor(cursor)
    return db_connection.make_cursor(cursor)


def message_receive_simulated(*, from_address: str, to: str, body: str) -> Message:
    """A customer's message typed into the simulator: the same path as a webhook, on the
    current tenant's simulator sender."""
    sender = Sender.objects.filter(address=inbound_address(to)).first()
    if sender is None or sender.connection != ProviderConnection.SIMULATOR_NAME:
        raise DomainError(error_codes.UNKNOWN_SENDER,
                             f"{to!r} is not one of your simulator senders.", "to")
    if sender.status != Sender.Status.APPROVED:
        raise DomainError(error_codes.SENDER_NOT_APPROVED,
                             f"{sender.address} is {sender.status}.", "to")
    if not body:
        raise DomainError(error_codes.EMPTY_BODY, "The message body is empty.", "body")
    from_address = phone_normalize(from_address, field="from")
    analysis = encoding.analyse(body)
    schema = db_connection.schema_name
    with transaction.atomic():
        message = Message.objects.create(
            direction=Message.Direction.INBOUND, sender=sender, from_address=from_address,
            to_address=sender.address, body=body, encoding=analysis.encoding,
            segments=analysis.segments, status=Message.Status.RECEIVED,
            received_at=timezone.now(), connection=sender.connection,
            origin=Message.Origin.CUSTOMER,
        )
        transaction.on_commit(lambda: inbound_wake_soon(schema=schema))
    return message


def _reassemble(*, connection: ProviderConnection, sms: InboundSMS,
                to_address: str) -> InboundSMS | None:
    """Keep a part; when the last one arrives, return the whole message. ``sms`` has its
    sender normalised (``message_receive``).

    A transaction-scoped advisory lock per (connection, sender, reference) serialises the
    parts of one message, so two last parts arriving together cannot both miss completion.
    """
    concat, from_address = sms.concat, sms.from_address
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"{db_connection.schema_name}:{connection.name}:{from_address}:"
                        f"{concat.reference}"])
    scope = {"connection": connection.name, "from_address": from_address,
             "reference": concat.reference}
    same_slot = InboundPart.objects.filter(**scope, number=concat.number).first()
    if same_slot is not None and same_slot.completed_at is not None:
        if same_slot.provider_message_id == sms.provider_message_id:
            return None  # a retried part of a message already assembled
        # The reference came round again: the old message's parts are done with.
        InboundPart.objects.filter(**scope, completed_at__isnull=False).delete()
    InboundPart.objects.bulk_create([InboundPart(
        **scope, to_address=to_address, total=concat.total, number=concat.number,
        provider_message_id=sms.provider_message_id, body=sms.body,
    )], ignore_conflicts=True)
    parts = list(InboundPart.objects.filter(**scope, completed_at__isnull=True)
                 .order_by("number"))
    if len(parts) < concat.total:
        return None
    InboundPart.objects.filter(pk__in=[part.pk for part in parts]).update(
        completed_at=timezone.now())
    return InboundSMS(
        # The first part's id: a retried part after completion finds this message.
        provider_message_id=parts[0].provider_message_id, from_address=from_address,
        to_address=to_address, body="".join(part.body for part in parts),
    )


# A wake-up older than this is taken as lost (the task never ran: a killed worker, a
# broker that dropped it), so the next message publishes another. Longer than a task
# usually waits in the queue, short enough that a loss delays little.
WAKE_TTL_MS = 2000
# How long one task processes before it hands over to a fresh one: other tenants' tasks
# and the replies wait behind it.
DRAIN_SECONDS = 1.0


@functools.cache
def _redis() -> redis.Redis:
    # Short timeouts: a slow Redis must not hold up the webhook's answer.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def _wake_key(schema: str) -> str:
    return f"inbound:wake:{schema}"


def inbound_wake(*, schema: str) -> None:
    """Make sure a worker processes the tenant's messages committed before this call.

    The first caller sets the tenant's wake-up key in Redis and publishes one
    ``messages_process`` task; later callers find the key and publish nothing. The task
    holds the key while it drains and deletes it before its last claim, so a message
    committed after that wakes another task, and one committed before it is claimed by
    this one (``messages_process_pending``). With Redis away every call publishes; with
    the broker away too, the sweep wakes a worker.
    """
    try:
        if not _redis().set(_wake_key(schema), "1", nx=True, px=WAKE_TTL_MS):
            return  # a task is on its way and has not started claiming yet
    except redis.RedisError:
        logger.warning("Redis unavailable; waking a worker for %s without coalescing",
                       schema, exc_info=True)
    inbound_drain_enqueue(schema=schema)


# A web process under a burst commits a message every millisecond or two, and asking Redis
# for each (a round trip through the client) cost about a tenth of the webhook's CPU. A
# wake-up that follows another of the same tenant in this process within this time waits
# for the rest of it, and the wake-ups gathered meanwhile are made with one call.
WAKE_GATHER_SECONDS = 0.02


class _WakeGatherer:
    """Wake-ups of one process, made at once when they are rare and gathered when they come
    close together. Every gathered wake-up is made after the call that asked for it, so a
    message committed before that call is taken by the task it wakes, as with
    ``inbound_wake``; a gathered wake-up lost with its process (killed within the
    gathering time) leaves its messages to the next message or to the sweep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._pending: set[str] = set()
        self._last: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def wake(self, schema: str) -> None:
        now = time.monotonic()
        with self._lock:
            at_once = (schema not in self._pending
                       and now - self._last.get(schema, float("-inf")) >= WAKE_GATHER_SECONDS)
            if at_once:
                self._last[schema] = now
            elif not self._pending:
                self._pending.add(schema)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="inbound-wake")
                    self._thread.start()
                self._due.set()
            else:
                self._pending.add(schema)  # the thread is already due
        if at_once:
            inbound_wake(schema=schema)

    def flush(self) -> None:
        """Make the gathered wake-ups now (the thread does after the gathering time; a
        process that stops does before it exits)."""
        with self._lock:
            schemas, self._pending = self._pending, set()
            self._due.clear()
            now = time.monotonic()
            for schema in schemas:
                self._last[schema] = now
        for schema in sorted(schemas):
            try:
                inbound_wake(schema=schema)
            except Exception:  # the thread must outlive any one failure; the sweep covers
                logger.exception("wake-up of %s failed; left to the sweep", schema)

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(WAKE_GATHER_SECONDS)
            self.flush()

    def forked(self) -> None:
        # A child of a forking server starts with no thread and nothing of its parent's.
        self.__init__()


_wakes = _WakeGatherer()
os.register_at_fork(after_in_child=_wakes.forked)
atexit.register(_wakes.flush)


def inbound_wake_soon(*, schema: str) -> None:
    """``inbound_wake`` for a message just committed: at once, unless this process woke
    the tenant less than ``WAKE_GATHER_SECONDS`` ago; then within that time, together with
    the other wake-ups asked for meanwhile."""
    _wakes.wake(schema)


def inbound_drain_enqueue(*, schema: str) -> None:
    """Publish one ``messages_process`` task for the tenant; if the broker is down, say so
    and move on: the messages are committed, and the sweep wakes a worker later."""
    from messaging.tasks import messages_process

    try:
        messages_process.apply_async(queue="inbound", headers={"_schema_name": schema},
                                     retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; messages in %s left to the sweep", schema,
                       exc_info=True)
        # No task is coming: the next message must try again rather than wait out the key.
        _wake_clear(schema)


def _wake_hold(schema: str) -> None:
    """Keep the tenant's wake-up key set for another ``WAKE_TTL_MS`` while this task
    drains: it expires if the task dies, and the next message wakes another."""
    try:
        _redis().set(_wake_key(schema), "1", px=WAKE_TTL_MS)
    except redis.RedisError:
        logger.warning("Redis unavailable; messages of %s may wake more tasks", schema)


def _wake_clear(schema: str) -> None:
    try:
        _redis().delete(_wake_key(schema))
    except redis.RedisError:
        logger.warning("Redis unavailable; wake-up key of %s left to expire", schema)


# How many received messages one transaction claims and processes together. A flood
# then costs a few statements per batch instead of a dozen per message; a lone message is
# a batch of one, processed as soon as it is claimed.
BATCH_SIZE = 100
# While messages keep coming, the drain waits this long after a batch of several that was
# not full, so that the next one fills: a batch costs about the same for five messages as
# for a hundred, and a stream of tiny batches spent as much CPU as the webhooks themselves
# on the cores they share. A message arriving alone is not delayed, nor is the task after
# it; one arriving just after a batch waits at most this.
BATCH_LINGER = 0.05
# A batch this large is a burst of texts, which grows these tables faster than autovacuum
# measures them (docs/ARCHITECTURE.md#measured-constraints); a lone text, whose customer
# waits for its reply, never pays for the check.
GROWTH_BATCH = 20
GROWING = (Contact, Conversation, Message)


def messages_process_pending() -> int:
    """Process the current tenant's received messages, oldest first, in batches of up to
    ``BATCH_SIZE``; return how many. Several workers may run this at once: each claims
    messages nobody holds (``SKIP LOCKED``).

    The tenant's wake-up key stays set while the task drains, so the webhooks meanwhile
    publish nothing and their messages go into its next batches. The key is cleared only
    when a claim comes back empty, and then the task claims once more: a message committed
    before the clear is taken by that claim, one committed after it wakes another task
    (``inbound_wake``). Stops after ``DRAIN_SECONDS`` and wakes a fresh task for what is
    left, so a flood in one tenant does not hold a worker from the others.
    """
    schema = db_connection.schema_name
    deadline = time.monotonic() + DRAIN_SECONDS
    processed = 0
    failed: set[int] = set()
    with memo_scope():
        while True:
            _wake_hold(schema)
            claimed = _process_batch(failed=failed)
            if not claimed:
                _wake_clear(schema)
                claimed = _process_batch(failed=failed)
                if not claimed:
                    break
            processed += claimed
            if claimed >= GROWTH_BATCH:
                statistics_refresh(models=GROWING)
            if time.monotonic() > deadline:
                _wake_clear(schema)
                inbound_wake(schema=schema)
                break
            if 1 < claimed < BATCH_SIZE:
                time.sleep(BATCH_LINGER)
    return processed - len(failed)


def _process_batch(*, failed: set[int]) -> int:
    """Claim the oldest received messages no other worker holds, except ``failed`` ones
    and at most one per customer, and process them in one transaction; return how many.

    One message per customer: the reactions to a batch read its customers' opt-out and
    survey state once (``messaging.automation.batch_facts``), which holds only while no
    reaction in the batch changes another message's customer. A customer's next message
    waits for the next batch, so their texts are still answered in order.

    If processing the batch raises, each message is processed again on its own, so one
    bad message holds up no other: the one that raises is rolled back, logged and added
    to ``failed``, and stays ``received`` for a later task (the sweep's).
    """
    with sends_inline(), transaction.atomic():
        claimed = list(Message.objects.select_for_update(skip_locked=True)
                       .filter(status=Message.Status.RECEIVED,
                               direction=Message.Direction.INBOUND)
                       .exclude(pk__in=failed).order_by("updated_at", "pk")[:BATCH_SIZE])
        batch = list({message.from_address: message for message in reversed(claimed)}
                     .values())[::-1]
        if not batch:
            return 0
        try:
            with transaction.atomic():
                _process(batch)
        except Exception:
            logger.exception("a batch of %s inbound messages failed; processing them one "
                             "by one", len(batch))
            for message in batch:
                try:
                    with transaction.atomic():
                        _process([Message.objects.get(pk=message.pk)])
                except Exception:
                    logger.exception("inbound message %s not processed; left for a later "
                                     "try", message.pk)
                    failed.add(message.pk)
    return len(batch)


def message_process(*, message_id: int) -> None:
    """Attach the contact and conversation, tell event-webhook subscribers, then run the
    automatic reactions (``messaging.automation``), once.

    The row is locked for the whole step, so a redelivered task and the sweeper cannot
    process the same message twice; a processed message is left alone.
    """
    with transaction.atomic():
        message = (Message.objects.select_for_update()
                   .filter(pk=message_id, direction=Message.Direction.INBOUND).first())
        if message is not None and message.status == Message.Status.RECEIVED:
            _process([message])


def _process(messages: list[Message]) -> None:
    """``message_process`` for received messages of distinct customers, locked by the
    caller's transaction, oldest first: contacts, conversations, campaign attribution and
    the status change in one statement each for the whole batch; then, message by message,
    the event and the reactions; the metering last."""
    now = timezone.now()
    contacts, new_phones = _contacts_for({message.from_address for message in messages},
                                         now=now)
    conversations = _conversations_touch(messages=messages, contacts=contacts, now=now)
    # Before the keywords and steps, so a STOP counts for the campaign as any reply does
    # (docs/ARCHITECTURE.md#campaign-replies). A new contact was never sent a campaign.
    answered = campaigns_answered_by_contact(texts={
        contacts[message.from_address].pk: message.created_at for message in messages
        if message.from_address not in new_phones})
    for message in messages:
        message.contact = contacts[message.from_address]
        message.conversation = conversations[message.contact.pk, message.sender_id]
        message.status = Message.Status.PROCESSED
        message.processed_at = now
        message.campaign_id = answered.get(message.contact.pk)
    _processed_save(messages, now=now)
    facts = batch_facts(messages=messages)
    for message in messages:
        # Before the reactions, so the conversation's sequence puts it ahead of them.
        message_event_emit(type=MESSAGE_RECEIVED, message=message)
        message_react(message=message, contact=message.contact,
                      conversation=message.conversation, facts=facts)
    inbox_changed()
    # Last: the rollup's and the counters' rows are held only while this commits.
    shared_rows_add(
        traffic_statement(counts=[(message.created_at, INBOUND) for message in messages]),
        _received_usage(messages, now=now))


def _contacts_for(phones: set[str], *, now: datetime) -> tuple[dict[str, Contact], set[str]]:
    """The contacts of ``phones`` by phone, created where missing, and the phones whose
    contact is new: one query, and one insert when some are new (``get_or_create`` spends
    four statements on each new one)."""
    contacts = {contact.phone: contact for contact in Contact.objects.filter(phone__in=phones)}
    missing = sorted(phones - contacts.keys())
    if not missing:
        return contacts, set()
    inserted = values_insert(Contact, [{"phone": phone, "created_at": now} for phone in missing],
                             conflict_target="(phone)", returning=("id", "phone"))
    for pk, phone in inserted:
        contact = Contact(pk=pk, phone=phone, created_at=now)
        contact._state.adding = False
        contacts[phone] = contact
    if len(inserted) < len(missing):  # concurrent workers inserted the others first
        contacts.update((contact.phone, contact) for contact in
                        Contact.objects.filter(phone__in=set(missing) - contacts.keys()))
    return contacts, {phone for _, phone in inserted}


_CONVERSATION_FIELDS = list(Conversation._meta.concrete_fields)


def _conversations_touch(*, messages: list[Message], contacts: dict[str, Contact],
                         now: datetime) -> dict[tuple[int, int], Conversation]:
    """Open the conversation of each message's (contact, sender) with one more unread
    message, or create it; one statement that also locks the rows until the processing
    commits, in key order so that two batches never wait for each other in a cycle. The
    messages are of distinct customers, so no row is touched twice.

    A wait already open goes on: texting again does not restart the clock
    (``messaging.response_waits``)."""
    rows = sorted((contacts[message.from_address].pk, message.sender_id, message.created_at)
                  for message in messages)
    quote = db_connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    columns = ", ".join(quote(f.column) for f in _CONVERSATION_FIELDS)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS c (contact_id, sender_id, status, unread_count, "  # noqa: S608
            "last_activity_at, waiting_since, created_at) "
            "SELECT u.contact_id, u.sender_id, %s, 1, %s, u.waiting_from, %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) "
            "WITH ORDINALITY AS u(contact_id, sender_id, waiting_from, n) ORDER BY u.n "
            "ON CONFLICT (contact_id, sender_id) DO UPDATE SET status = EXCLUDED.status, "
            "unread_count = c.unread_count + 1, last_activity_at = EXCLUDED.last_activity_at, "
            "waiting_since = COALESCE(c.waiting_since, EXCLUDED.waiting_since) "
            f"RETURNING {columns}",
            [Conversation.Status.OPEN, now, now, *map(list, zip(*rows, strict=True))])
        found = cursor.fetchall()
    by_id = {contact.pk: contact for contact in contacts.values()}
    conversations = {}
    for row in found:
        conversation = Conversation.from_db(db_connection.alias,
                                            [f.attname for f in _CONVERSATION_FIELDS], row)
        conversation.contact = by_id[conversation.contact_id]
        conversations[conversation.contact_id, conversation.sender_id] = conversation
    return conversations


def _processed_save(messages: list[Message], *, now: datetime) -> None:
    """Record the batch's contacts, conversations, campaigns and ``processed`` status in
    one statement."""
    table = db_connection.ops.quote_name(Message._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET contact_id = u.contact_id, "  # noqa: S608
            "conversation_id = u.conversation_id, campaign_id = u.campaign_id, "
            "status = %s, processed_at = %s, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            "AS u(id, contact_id, conversation_id, campaign_id) WHERE m.id = u.id",
            [Message.Status.PROCESSED, now, now,
             [message.pk for message in messages], [message.contact_id for message in messages],
             [message.conversation_id for message in messages],
             [message.campaign_id for message in messages]])
    for message in messages:
        message.updated_at = now


def _received_usage(messages: list[Message], *, now: datetime) -> Statement | None:
    """The counters' statement for the messages as they leave ``received``, which happens
    once: a retried webhook stores nothing new and a processed message is never processed
    again (docs/ARCHITECTURE.md#metering)."""
    state = tenant_state(db_connection.schema_name)
    if state is None:
        return None
    return usage_statement(tenant_id=state.tenant_id, messages=[Metered(
        day=now.date(), direction=Message.Direction.INBOUND, sender=message.to_address,
        connection=message.connection, customer=message.from_address,
        segments=message.segments) for message in messages])
