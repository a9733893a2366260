"""Event webhooks: subscriptions, emitting events, and delivering them.

An event is written by the service that caused it, in that service's transaction, and only
when an active subscription wants its type (otherwise nothing is written at all). Each
wanting subscription gets a ``Delivery``, attempted by a task after the commit: a JSON POST
signed per Standard Webhooks, 2xx within the timeout being success. Failures are retried on
``EVENT_WEBHOOK_RETRY_DELAYS`` (Standard Webhooks' schedule by default, about 27 hours),
every attempt is logged, and the sweep re-enqueues deliveries whose task was lost.

**Disabling.** A subscription is turned off when one of its deliveries exhausts its
retries while the subscription has had no successful delivery since that delivery's
first attempt: its URL then failed for the whole retry window, not just for one event.
An endpoint that fails now and then loses those deliveries (marked failed, in the log)
but stays on. The tenant's owners and admins get an email; turning the subscription back
on resets the streak and resumes its pending deliveries.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Role, User
from core.outbound_http import UnsafeURLError, signed_post, url_check, webhook_secret
from core.pruning import delete_in_batches
from events import error_codes
from events.error_codes import EventsError
from events.models import (
    SUBSCRIBABLE_TYPES,
    WEBHOOK_TEST,
    ConversationSequence,
    Delivery,
    DeliveryAttempt,
    Event,
    WebhookSubscription,
)
from events.selectors import event_type_wanted, subscribed_types_forget
from tenants.models import Tenant, site_url

logger = logging.getLogger(__name__)

# Connect within 3 s, answer within 5 s: receivers should queue the work and answer at once.
TIMEOUT = (3.05, 5)
EXCERPT_BYTES = 1000
# A retry due within this many seconds is enqueued with a countdown; a later one is left
# to the sweep, because Redis hands a task held longer than its visibility timeout to
# another worker, and long countdowns would multiply.
COUNTDOWN_MAX = 60.0
# A task arriving this much before its delivery is due is a duplicate: it leaves the
# delivery to the task (or the sweep) that comes on time.
EARLY_TOLERANCE = timedelta(seconds=1)


# --- Subscriptions ---------------------------------------------------------------------------

def _checked_url(url: str) -> str:
    try:
        url_check(url)
    except UnsafeURLError as exc:
        raise EventsError(error_codes.UNSAFE_URL, str(exc), "url") from exc
    return url


def _checked_types(events: list[str]) -> list[str]:
    unknown = [event for event in events if event not in SUBSCRIBABLE_TYPES]
    if unknown:
        raise EventsError(error_codes.UNKNOWN_EVENT_TYPE,
                          f"{unknown[0]!r} is not an event type; the types are "
                          f"{', '.join(SUBSCRIBABLE_TYPES)}.", "events")
    if not events:
        raise EventsError(error_codes.NO_EVENT_TYPES, "Choose at least one event type.",
                          "events")
    return list(dict.fromkeys(events))


def subscription_create(*, url: str, events: list[str], description: str = "",
                        active: bool = True) -> WebhookSubscription:
    """Subscribe ``url`` to ``events`` with a new signing secret (shown to the caller
    once). The URL must be one this installation may call (docs/ARCHITECTURE.md#security-rules)."""
    subscription = WebhookSubscription.objects.create(
        url=_checked_url(url), events=_checked_types(events), description=description,
        active=active, secret=webhook_secret(),
    )
    subscribed_types_forget()
    return subscription


def subscription_update(*, subscription: WebhookSubscription, url: str | None = None,
                        events: list[str] | None = None, description: str | None = None,
                        active: bool | None = None) -> WebhookSubscription:
    """Change what is given. Turning a subscription back on clears why it was turned off,
    resets its failure streak and resumes its pending deliveries."""
    changes: dict = {}
    if url is not None:
        changes["url"] = _checked_url(url)
    if events is not None:
        changes["events"] = _checked_types(events)
    if description is not None:
        changes["description"] = description
    if active is not None:
        changes["active"] = active
    with transaction.atomic():
        # Locked and read afresh: deliveries may have turned it off since it was loaded.
        # (NO KEY UPDATE: emitters holding it FOR KEY SHARE need not wait.)
        was_active = (WebhookSubscription.objects.select_for_update(no_key=True)
                      .values_list("active", flat=True).get(pk=subscription.pk))
        resumed = active is True and not was_active
        if resumed:
            changes.update(disabled_at=None, disabled_reason="", failing_since=None,
                           consecutive_failures=0)
        for name, value in changes.items():
            setattr(subscription, name, value)
        # Only what is asked: the streak moves under other writers.
        subscription.save(update_fields=[*changes, "updated_at"])
        if resumed:
            _deliveries_resume(subscription)
        subscription.refresh_from_db()
    subscribed_types_forget()
    return subscription


def _deliveries_resume(subscription: WebhookSubscription) -> None:
    pending = subscription.deliveries.filter(status=Delivery.Status.PENDING)
    pending.update(next_attempt_at=timezone.now())
    ids = list(pending.values_list("pk", flat=True))
    schema = connection.schema_name
    transaction.on_commit(lambda: [delivery_enqueue(pk, schema=schema) for pk in ids])


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Delete the subscription with its deliveries and their log.

    The row lock waits for transactions emitting to it (they hold it ``FOR KEY SHARE``)
    and keeps new ones out, so no delivery can be added after its deliveries are
    collected for deletion.
    """
    with transaction.atomic():
        WebhookSubscription.objects.select_for_update().filter(pk=subscription.pk).first()
        subscription.delete()
    subscribed_types_forget()


def subscription_test_send(*, subscription: WebhookSubscription) -> Delivery:
    """Send a ``webhook.test`` event to this subscription only, as any other delivery."""
    if not subscription.active:
        raise EventsError(error_codes.WEBHOOK_INACTIVE,
                          "The webhook is turned off; turn it on to send a test event.")
    with transaction.atomic():
        _, [delivery] = _event_create(
            type=WEBHOOK_TEST, conversation_id=None, subscription_ids=[subscription.pk],
            data={"subscription": subscription.pk,
                  "message": "A test event: your endpoint receives and verifies events."},
        )
    return delivery


# --- Emitting --------------------------------------------------------------------------------

def event_emit(*, type: str, data: dict, conversation_id: int | None = None) -> Event | None:
    """Record an event for every active subscription to ``type``; deliveries start after
    the caller's transaction commits (nothing is sent for a rolled-back change).

    Call inside the transaction that makes the change. Costs nothing when no subscription
    wants the type (see ``event_type_wanted``). ``conversation_id`` gives the event the
    conversation's next sequence number.
    """
    if not event_type_wanted(type=type):
        return None
    with transaction.atomic(savepoint=False):
        subscription_ids = _subscribers(type)
        if not subscription_ids:
            return None
        event, _ = _event_create(type=type, data=data, conversation_id=conversation_id,
                                 subscription_ids=subscription_ids)
    return event


def _subscribers(type: str) -> list[int]:
    """Active subscriptions to ``type``, held ``FOR KEY SHARE`` until the commit: a
    concurrent delete waits for this transaction (``subscription_delete``), while other
    emitters and deliveries updating the subscription's streak do not."""
    table = connection.ops.quote_name(WebhookSubscription._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE active AND %s = ANY(events) "  # noqa: S608
                       "ORDER BY id FOR KEY SHARE", [type])
        return [row[0] for row in cursor.fetchall()]


def _sequence_next(conversation_id: int) -> int:
    """The conversation's next sequence number. The counter row stays locked until the
    caller commits, so the events of one conversation are numbered in commit order."""
    table = connection.ops.quote_name(ConversationSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (conversation_id, last_sequence) VALUES (%s, 1) "  # noqa: S608
            f"ON CONFLICT (conversation_id) DO UPDATE SET last_sequence = "
            f"{table}.last_sequence + 1 RETURNING last_sequence", [conversation_id])
        return cursor.fetchone()[0]


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _event_create(*, type: str, data: dict, conversation_id: int | None,
                  subscription_ids: list[int]) -> tuple[Event, list[Delivery]]:
    now = timezone.now()
    event = Event(type=type, conversation_id=conversation_id, created_at=now,
                  sequence=_sequence_next(conversation_id) if conversation_id else None)
    event.payload = json.dumps({
        "id": event.public_id, "type": type, "timestamp": _timestamp(now),
        "sequence": event.sequence, "data": data,
    }, cls=DjangoJSONEncoder)
    event.save()
    deliveries = Delivery.objects.bulk_create([
        Delivery(event=event, subscription_id=pk, next_attempt_at=now)
        for pk in subscription_ids
    ])
    ids = [delivery.pk for delivery in deliveries]
    schema = connection.schema_name
    transaction.on_commit(lambda: [delivery_enqueue(pk, schema=schema) for pk in ids])
    return event, deliveries


class WebhookEventSink:
    """Where the domains' events (``core.domain_events``) become webhook deliveries."""

    def wanted(self, type: str) -> bool:
        return event_type_wanted(type=type)

    def publish(self, *, type: str, data: dict, conversation_id: int | None) -> None:
        event_emit(type=type, data=data, conversation_id=conversation_id)


# --- Delivering ------------------------------------------------------------------------------

def delivery_enqueue(delivery_id: int, *, schema: str, countdown: float | None = None) -> None:
    """Hand a delivery to its task; if the broker is down, the sweep enqueues it later."""
    from events.tasks import delivery_attempt

    try:
        delivery_attempt.apply_async(args=[delivery_id], countdown=countdown, queue="webhooks",
                                     headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; delivery %s in %s left to the sweep", delivery_id,
                       schema, exc_info=True)


def retry_delays() -> list[float]:
    return [float(delay) for delay in settings.EVENT_WEBHOOK_RETRY_DELAYS]


@dataclass
class _Outcome:
    succeeded: bool = False
    status: int | None = None
    excerpt: str = ""
    error: str = ""


def delivery_attempt(*, delivery_id: int) -> None:
    """Attempt one pending delivery, log the attempt, and schedule the next one or settle.

    The row is locked for the whole attempt, HTTP call included (at most ``TIMEOUT``): a
    redelivered task or the sweep skips it meanwhile. A worker dying mid-call rolls the
    attempt back, and the sweep retries it. Deliveries of a turned-off subscription wait.
    """
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("event", "subscription")
                    .filter(pk=delivery_id, status=Delivery.Status.PENDING).first())
        if delivery is None or not delivery.subscription.active:
            return
        started = timezone.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > started + EARLY_TOLERANCE:
            return
        began = time.monotonic()
        outcome = _post(delivery)
        duration_ms = round((time.monotonic() - began) * 1000)
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, started_at=started,
            duration_ms=duration_ms, response_status=outcome.status,
            response_excerpt=outcome.excerpt, error=outcome.error,
        )
        delay = _delivery_settle(delivery, succeeded=outcome.succeeded, started=started)
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    # The subscription's row is written after the delivery's commit, never while holding
    # it: ``subscription_delete`` locks the subscription, then the deliveries.
    _streak_record(delivery, succeeded=outcome.succeeded, started=started,
                   last_error=outcome.error)
    if delay is not None and delay <= COUNTDOWN_MAX:
        schema = connection.schema_name
        transaction.on_commit(lambda: delivery_enqueue(delivery_id, schema=schema,
                                                       countdown=delay))


def _delivery_settle(delivery: Delivery, *, succeeded: bool, started: datetime) -> float | None:
    """Set the delivery's status and next attempt; return the delay before that attempt,
    or None when the delivery is settled."""
    delays = retry_delays()
    if not succeeded and delivery.attempts <= len(delays):
        delay = delays[delivery.attempts - 1]
        delivery.next_attempt_at = started + timedelta(seconds=delay)
        return delay
    delivery.status = Delivery.Status.SUCCEEDED if succeeded else Delivery.Status.FAILED
    delivery.next_attempt_at = None
    return None


def _streak_record(delivery: Delivery, *, succeeded: bool, started: datetime,
                   last_error: str) -> None:
    subscriptions = WebhookSubscription.objects.filter(pk=delivery.subscription_id)
    if succeeded:
        subscriptions.filter(consecutive_failures__gt=0).update(consecutive_failures=0,
                                                                failing_since=None)
        return
    with transaction.atomic():
        subscriptions.update(consecutive_failures=F("consecutive_failures") + 1,
                             failing_since=Coalesce(F("failing_since"), Value(started)))
        if delivery.status == Delivery.Status.FAILED:
            _disable_if_failing(delivery, last_error=last_error)


def _disable_if_failing(delivery: Delivery, *, last_error: str) -> None:
    """Turn the subscription off if nothing succeeded since this delivery's first
    attempt (the rule in the module docstring), and tell the tenant's admins."""
    subscription = WebhookSubscription.objects.filter(pk=delivery.subscription_id).first()
    first_attempt = delivery.attempt_log.order_by("number").values_list(
        "started_at", flat=True).first()
    if (subscription is None or subscription.failing_since is None
            or subscription.failing_since > first_attempt):
        return
    reason = (f"Every delivery failed from {subscription.failing_since:%Y-%m-%d %H:%M} UTC "
              f"({subscription.consecutive_failures} attempts in a row, across the whole "
              f"retry schedule). The last error: {last_error}")
    turned_off = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, disabled_at=timezone.now(), disabled_reason=reason)
    if turned_off:
        subscribed_types_forget()
        schema = connection.schema_name
        transaction.on_commit(lambda: _notify_enqueue(subscription.pk, schema=schema))


def _notify_enqueue(subscription_id: int, *, schema: str) -> None:
    from events.tasks import subscription_disabled_notify

    try:
        subscription_disabled_notify.apply_async(kwargs={"subscription_id": subscription_id},
                                                 headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.error("broker unavailable; the admins of %s were not told that webhook %s "
                     "was turned off", schema, subscription_id, exc_info=True)


def _post(delivery: Delivery) -> _Outcome:
    answer = signed_post(
        url=delivery.subscription.url, secret=delivery.subscription.secret,
        # The event's id: the same on every retry, so receivers can drop duplicates.
        webhook_id=delivery.event.public_id, body=delivery.event.payload, timeout=TIMEOUT,
        max_bytes=EXCERPT_BYTES, user_agent="cpaas-webhooks/1")
    return _Outcome(succeeded=answer.succeeded, status=answer.status, excerpt=answer.body,
                    error=answer.error)


def events_sweep(*, schema: str, stale_before: datetime) -> int:
    """Re-enqueue pending deliveries of active subscriptions that are overdue: their
    task was lost (a broker outage, a killed worker) or, for retries hours apart, was
    never enqueued (see ``COUNTDOWN_MAX``)."""
    due = list(Delivery.objects.filter(status=Delivery.Status.PENDING,
                                       next_attempt_at__lt=stale_before,
                                       subscription__active=True)
               .values_list("pk", flat=True))
    for delivery_id in due:
        delivery_enqueue(delivery_id, schema=schema)
    return len(due)


def events_prune(*, before: datetime) -> int:
    """Delete the events created before ``before`` with their deliveries and attempt
    logs, and return how many events went. An event with a delivery still pending stays:
    a subscription turned off keeps its backlog until it is turned back on."""
    return delete_in_batches(Event.objects.filter(created_at__lt=before)
                             .exclude(deliveries__status=Delivery.Status.PENDING))


def subscription_disabled_notify(*, subscription_id: int) -> None:
    """Email the tenant's owners and admins that the platform turned a webhook off.

    At least once: a worker dying after sending may send it again.
    """
    subscription = WebhookSubscription.objects.filter(pk=subscription_id,
                                                      disabled_at__isnull=False).first()
    if subscription is None:
        return
    recipients = list(User.objects.filter(is_active=True, role__in=[Role.OWNER, Role.ADMIN])
                      .values_list("email", flat=True))
    if not recipients:
        return
    tenant = Tenant.objects.get(schema_name=connection.schema_name)
    context = {"subscription": subscription, "tenant_name": tenant.name,
               "url": site_url(tenant.primary_host, f"/webhooks/{subscription.pk}/")}
    send_mail(
        subject=f"{tenant.name}: a webhook was turned off after failing",
        message=render_to_string("events/email/webhook_disabled.txt", context),
        from_email=None, recipient_list=recipients,
    )
