"""CAMARA notifications: what the subscriptions want of the messaging domain's events,
recorded as CloudEvents in the transaction that made the change, then POSTed to each
subscription's ``notificationUrl`` with its token as Bearer.

**Recording.** Messaging publishes ``message.status_changed`` and ``message.received``
through ``core.domain_events``; ``CamaraEventSink`` turns them into
``sms-delivery-status`` events (a message sent through short-message reaching
``delivered``: SUCCESS; ``failed`` or ``undelivered``: FAIL) and ``sms-received`` events
(a customer's message to the subscribed sender, STOP and HELP included), one
``Notification`` per subscription. A rolled-back change records nothing.

**Ending.** A subscription ends when its ``subscriptionExpireTime`` passes (noticed by
the next event or the sweep), when its ``subscriptionMaxEvents``-th event is recorded
(counted under the row's lock: concurrent events never exceed it), or when a notification
to it failed for its whole retry window with nothing delivered meanwhile (as event
webhooks are turned off). Each end records one ``subscription-ends`` event naming the
reason; nothing else is recorded for it after.

**Delivering** mirrors event webhooks (``events.actions``): a task on the ``webhooks``
queue after the commit; a 2xx within the timeout succeeds; redirects are not followed; the
URL is checked again before each attempt; failures are retried on
``EVENT_WEBHOOK_RETRY_DELAYS``; every attempt is logged; the sweep re-enqueues what was
lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from compat.camara.models import (
    DELIVERY_STATUS,
    SMS_RECEIVED,
    SUBSCRIPTION_ENDS,
    Notification,
    NotificationAttempt,
    ShortMessage,
    Subscription,
)
from compat.camara.selectors import camara_type_wanted, subscribed_types_forget
from core.outbound_http import bearer_post
from core.pruning import delete_in_batches
from events.actions import COUNTDOWN_MAX, EARLY_TOLERANCE, EXCERPT_BYTES, TIMEOUT, retry_delays
from messaging.events import MESSAGE_RECEIVED, MESSAGE_STATUS_CHANGED
from tenants.models import Tenant, site_url

logger = logging.getLogger(__name__)

USER_AGENT = "cpaas-camara/1"
CONTENT_TYPE = "application/cloudevents+json"
# The CAMARA event each domain event may become.
_CAMARA_TYPES = {MESSAGE_STATUS_CHANGED: DELIVERY_STATUS, MESSAGE_RECEIVED: SMS_RECEIVED}
# r0.1's two outcomes; a message on its way (``sent``, ...) has none yet.
_OUTCOMES = {"delivered": "SUCCESS", "failed": "FAIL", "undelivered": "FAIL",
             "canceled": "FAIL"}
Reason = Subscription.TerminationReason


# --- Recording -------------------------------------------------------------------------------

class CamaraEventSink:
    """Where the messaging domain's events become CAMARA notifications."""

    def wanted(self, type: str) -> bool:
        camara_type = _CAMARA_TYPES.get(type)
        return camara_type is not None and camara_type_wanted(type=camara_type)

    def publish(self, *, type: str, data: dict, conversation_id: int | None) -> None:
        message = data["message"]  # as GET /api/v1/messages/{id} shows it
        if type == MESSAGE_STATUS_CHANGED:
            delivery_status_record(message=message)
        elif type == MESSAGE_RECEIVED:
            sms_received_record(message=message)


def delivery_status_record(*, message: dict) -> None:
    """An ``sms-delivery-status`` event for each subscription to the message's sender,
    when the message was sent through short-message and has an outcome. Call in the
    transaction that moved the message."""
    outcome = _OUTCOMES.get(message["status"])
    if outcome is None:
        return
    msg_id = (ShortMessage.objects.filter(message_id=message["id"])
              .values_list("msg_id", flat=True).first())
    if msg_id is None:
        return
    _record(DELIVERY_STATUS, sender=message["from"],
            data={"msgId": str(msg_id), "status": outcome})


def sms_received_record(*, message: dict) -> None:
    """An ``sms-received`` event for each subscription to the sender the customer wrote
    to. Call in the transaction that processes the message."""
    _record(SMS_RECEIVED, sender=message["to"], data={
        "msgId": str(message["id"]), "from": message["from"], "to": message["to"],
        "message": message["body"], "receivedAt": message["created_at"],
    })


def _record(type: str, *, sender: str, data: dict) -> None:
    now = timezone.now()
    source = None
    for subscription in _listeners(type, sender):
        source = source or _source()
        if subscription.expire_time is not None and subscription.expire_time <= now:
            subscription_end(subscription=subscription, reason=Reason.SUBSCRIPTION_EXPIRED,
                             source=source)
        elif _counted(subscription):
            _notification_create(subscription, type=type, source=source, moment=now,
                                 data={**data, "subscriptionId": subscription.public_id})
            if (subscription.max_events is not None
                    and subscription.events_recorded >= subscription.max_events):
                subscription_end(subscription=subscription, reason=Reason.MAX_EVENTS_REACHED,
                                 source=source)


def _listeners(type: str, sender: str) -> list[Subscription]:
    """Active subscriptions to ``type`` about ``sender``, held ``FOR KEY SHARE`` until the
    commit: a concurrent delete waits for this transaction (``subscription_delete``),
    while concurrent events and ends, which update the row, do not."""
    table = connection.ops.quote_name(Subscription._meta.db_table)
    return list(Subscription.objects.raw(
        f"SELECT * FROM {table} WHERE status = %s AND type = %s AND sender_id = %s "  # noqa: S608
        "ORDER BY id FOR KEY SHARE", [Subscription.Status.ACTIVE, type, sender]))


def _counted(subscription: Subscription) -> bool:
    """Count one more event under a maximum; False when the subscription reached it or
    ended meanwhile. The update holds the row until the commit, so concurrent events
    wait, then see the new count."""
    if subscription.max_events is None:
        return True
    rows = Subscription.objects.filter(pk=subscription.pk, status=Subscription.Status.ACTIVE,
                                       events_recorded__lt=F("max_events"))
    if not rows.update(events_recorded=F("events_recorded") + 1):
        return False
    subscription.refresh_from_db(fields=["events_recorded"])
    return True


def subscription_end(*, subscription: Subscription, reason: str,
                     source: str | None = None) -> bool:
    """End an active subscription and record its ``subscription-ends`` event (not counted
    among its events); return whether it was still active. Call inside a transaction."""
    now = timezone.now()
    ended = Subscription.objects.filter(pk=subscription.pk,
                                        status=Subscription.Status.ACTIVE).update(
        status=Subscription.Status.EXPIRED, termination_reason=reason, ended_at=now)
    if not ended:
        return False
    subscription.status, subscription.termination_reason = Subscription.Status.EXPIRED, reason
    subscription.ended_at = now
    _notification_create(subscription, type=SUBSCRIPTION_ENDS, source=source or _source(),
                         moment=now, data={"subscriptionId": subscription.public_id,
                                           "terminationReason": reason})
    subscribed_types_forget()
    return True


def _source() -> str:
    """The CloudEvents ``source``: this tenant's SMS API."""
    tenant = Tenant.objects.get(schema_name=connection.schema_name)
    return site_url(tenant.primary_host, "/sms/v0alpha1")


def _notification_create(subscription: Subscription, *, type: str, source: str,
                         moment: datetime, data: dict) -> Notification:
    uid = uuid.uuid4()
    event = CloudEvent(attributes={
        "id": str(uid), "source": source, "type": type, "specversion": "1.0",
        "datacontenttype": "application/json", "time": moment,
    }, data=data)
    notification = Notification.objects.create(
        uid=uid, subscription=subscription, type=type, created_at=moment,
        payload=to_structured_event(event).body.decode(), next_attempt_at=moment)
    schema = connection.schema_name
    transaction.on_commit(lambda: notification_enqueue(notification.pk, schema=schema))
    return notification


# --- Delivering ------------------------------------------------------------------------------

def notification_enqueue(notification_id: int, *, schema: str,
                         countdown: float | None = None) -> None:
    """Hand a notification to its task; if the broker is down, the sweep enqueues it."""
    from compat.camara.tasks import notification_attempt as task

    try:
        task.apply_async(args=[notification_id], countdown=countdown, queue="webhooks",
                         headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; CAMARA notification %s in %s left to the sweep",
                       notification_id, schema, exc_info=True)


def notification_attempt(*, notification_id: int) -> None:
    """Attempt one pending notification, log the attempt, and schedule the next one or
    settle it. The row is locked for the whole attempt (at most ``TIMEOUT``): a
    redelivered task or the sweep skips it meanwhile."""
    with transaction.atomic():
        notification = (Notification.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("subscription")
                        .filter(pk=notification_id, status=Notification.Status.PENDING).first())
        if notification is None:
            return
        started = timezone.now()
        if (notification.next_attempt_at
                and notification.next_attempt_at > started + EARLY_TOLERANCE):
            return
        subscription = notification.subscription
        began = time.monotonic()
        answer = bearer_post(
            url=subscription.notification_url, token=subscription.notification_auth_token,
            body=notification.payload.encode(), content_type=CONTENT_TYPE, timeout=TIMEOUT,
            max_bytes=EXCERPT_BYTES, user_agent=USER_AGENT,
            # Commonalities asks listeners to take one; the event's id ties the two.
            headers={"x-correlator": str(notification.uid)})
        notification.attempts += 1
        NotificationAttempt.objects.create(
            notification=notification, number=notification.attempts, started_at=started,
            duration_ms=round((time.monotonic() - began) * 1000),
            response_status=answer.status, response_excerpt=answer.body, error=answer.error)
        delay = _settle(notification, succeeded=answer.succeeded, started=started)
        notification.save(update_fields=["status", "attempts", "next_attempt_at",
                                         "updated_at"])
    # The subscription's row is written after the notification's commit, never while
    # holding it: ``subscription_delete`` locks the subscription, then its notifications.
    _streak_record(notification, succeeded=answer.succeeded, started=started)
    if delay is not None and delay <= COUNTDOWN_MAX:
        schema = connection.schema_name
        transaction.on_commit(lambda: notification_enqueue(notification_id, schema=schema,
                                                           countdown=delay))


def _settle(notification: Notification, *, succeeded: bool,
            started: datetime) -> float | None:
    """Set the status and next attempt; return the delay before that attempt, or None
    when the notification is settled."""
    delays = retry_delays()
    if not succeeded and notification.attempts <= len(delays):
        delay = delays[notification.attempts - 1]
        notification.next_attempt_at = started + timedelta(seconds=delay)
        return delay
    notification.status = (Notification.Status.SUCCEEDED if succeeded
                           else Notification.Status.FAILED)
    notification.next_attempt_at = None
    return None


def _streak_record(notification: Notification, *, succeeded: bool, started: datetime) -> None:
    """Track the subscription's failures; when a notification gives up and nothing was
    delivered to the subscription since its first attempt, the listener has been away for
    the whole retry window: the subscription ends (``NETWORK_TERMINATED``)."""
    subscriptions = Subscription.objects.filter(pk=notification.subscription_id)
    if succeeded:
        subscriptions.filter(failing_since__isnull=False).update(failing_since=None)
        return
    subscriptions.filter(failing_since__isnull=True).update(failing_since=started)
    if notification.status != Notification.Status.FAILED:
        return
    first_attempt = notification.attempt_log.order_by("number").values_list(
        "started_at", flat=True).first()
    if first_attempt is None:  # deleted with its subscription meanwhile
        return
    with transaction.atomic():
        subscription = subscriptions.filter(failing_since__lte=first_attempt).first()
        if subscription is not None:
            subscription_end(subscription=subscription, reason=Reason.NETWORK_TERMINATED)


def camara_sweep(*, schema: str, now: datetime, stale_before: datetime) -> int:
    """End the current tenant's subscriptions whose expiry time has passed, and
    re-enqueue pending notifications that are overdue (their task was lost, or their
    retry was hours away: ``COUNTDOWN_MAX``); return how many of both."""
    ended = 0
    for subscription in Subscription.objects.filter(status=Subscription.Status.ACTIVE,
                                                    expire_time__lte=now):
        with transaction.atomic():
            ended += subscription_end(subscription=subscription,
                                      reason=Reason.SUBSCRIPTION_EXPIRED)
    due = list(Notification.objects.filter(status=Notification.Status.PENDING,
                                           next_attempt_at__lt=stale_before)
               .values_list("pk", flat=True))
    for notification_id in due:
        notification_enqueue(notification_id, schema=schema)
    return ended + len(due)


def camara_prune(*, before: datetime) -> int:
    """Delete settled notifications created before ``before`` with their attempt logs;
    return how many went."""
    return delete_in_batches(Notification.objects.filter(created_at__lt=before)
                             .exclude(status=Notification.Status.PENDING))
