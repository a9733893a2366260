"""Status callbacks: every status change of a message that asked for one (its own
``StatusCallback``, its Messaging Service's, or for a TwiML answer its number's) is posted
to that URL the way Twilio posts it, a form signed with ``X-Twilio-Signature`` under the
account's auth token.

A ``StatusCallback`` row is written in the transaction that moves the message, and a task
posts it after the commit: a 2xx within 10 s succeeds, anything else is tried again a few
times, and the sweep picks up a row whose task was lost.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from compat.public.models import TwilioAccount
from compat.twilio.credentials import twilio_account_for_schema
from compat.twilio.errors import message_error_code
from compat.twilio.models import Delivery, StatusCallback, TwilioMessage
from compat.twilio.resources import API_VERSION, STATUS, message_service_sid, message_sid
from core.outbound_http import CallAnswer, outbound_call
from core.pruning import delete_in_batches
from messaging.events import MESSAGE_STATUS_CHANGED
from messaging.models import Message
from messaging.providers.twilio import signature

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
TIMEOUT = (3.05, 10.0)
# Twilio reads nothing of the answer to a status callback; a little is kept for the log.
ANSWER_BYTES = 2048
USER_AGENT = "TwilioProxy/1.1"
_CACHE_TTL = 5.0
_accounts: dict[str, tuple[float, bool]] = {}


def callback_backoff(attempt: int) -> float:
    """10 s, 1 min, 6 min after the 1st to 3rd failures."""
    return 10.0 * 6 ** (attempt - 1)


def account_exists(schema: str) -> bool:
    """Whether the tenant has a Twilio-dialect account, cached a few seconds per process:
    asked before every status move, and only a tenant with an account can have asked for
    callbacks."""
    now = time.monotonic()
    hit = _accounts.get(schema)
    if hit is not None and hit[0] > now:
        return hit[1]
    exists = TwilioAccount.objects.filter(tenant__schema_name=schema).exists()
    _accounts[schema] = (now + _CACHE_TTL, exists)
    return exists


@receiver([post_save, post_delete], sender=TwilioAccount)
def _account_changed(**kwargs) -> None:
    _accounts.clear()


def twilio_params(message: Message, *, account_sid: str) -> dict[str, str]:
    """What Twilio's webhooks say about a message, in its parameter names."""
    sid = message_sid(message.pk, account_sid=account_sid)
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": account_sid,
              "From": message.from_address, "To": message.to_address,
              "ApiVersion": API_VERSION}
    if service_sid := message_service_sid(message):
        params["MessagingServiceSid"] = service_sid
    return params


def signed_form_call(*, url: str, method: str, params: dict[str, str], auth_token: str,
                     idempotency_token: str) -> CallAnswer:
    """Call a tenant's URL the way Twilio calls its webhooks: a form POST (or a GET with
    the parameters in the query string), signed with ``X-Twilio-Signature`` over the URL
    called and, for a POST, the sorted parameters."""
    headers = {"User-Agent": USER_AGENT, "I-Twilio-Idempotency-Token": idempotency_token}
    if method == "GET":
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        headers["X-Twilio-Signature"] = signature(auth_token, url, {})
        return outbound_call(method="GET", url=url, headers=headers, body=None,
                             timeout=TIMEOUT, max_bytes=ANSWER_BYTES)
    headers["X-Twilio-Signature"] = signature(auth_token, url, params)
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return outbound_call(method="POST", url=url, headers=headers,
                         body=urlencode(params).encode(), timeout=TIMEOUT,
                         max_bytes=ANSWER_BYTES)


class StatusCallbackSink:
    """A sink of the domain events (``core.domain_events``): each ``message.status_changed``
    of a message that asked for a status callback records one, in the transaction that
    moved the message."""

    def wanted(self, type: str) -> bool:
        return type == MESSAGE_STATUS_CHANGED and account_exists(connection.schema_name)

    def publish(self, *, type: str, data: dict, conversation_id: int | None) -> None:
        moved = data["message"]
        extra = (TwilioMessage.objects.select_related("messaging_service")
                 .filter(message_id=moved["id"]).first())
        if extra is None:
            return
        service = extra.messaging_service
        url = extra.status_callback or (service.status_callback if service else "")
        if not url:
            return
        error = message_error_code(moved["error_code"]) if moved["status"] in (
            Message.Status.FAILED, Message.Status.UNDELIVERED) else None
        callback = StatusCallback.objects.create(
            message_id=moved["id"], url=url, message_status=STATUS.get(moved["status"],
                                                                       moved["status"]),
            error_code=str(error) if error is not None else "")
        schema = connection.schema_name
        transaction.on_commit(lambda: callback_enqueue(callback.pk, schema=schema))


def callback_enqueue(callback_id: int, *, schema: str, countdown: float | None = None) -> None:
    from compat.tasks import status_callback_post

    try:
        status_callback_post.apply_async(args=[callback_id], countdown=countdown,
                                         queue="webhooks", headers={"_schema_name": schema},
                                         retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; status callback %s in %s left to the sweep",
                       callback_id, schema, exc_info=True)


def do_status_callback(*, callback_id: int) -> float | None:
    """Post one status callback; return the delay before the next try, or None when it is
    done. The row is locked during the call (10 s at most), so a redelivered task or the
    sweep skips it meanwhile."""
    with transaction.atomic():
        callback = (StatusCallback.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("message__twilio__messaging_service")
                    .filter(pk=callback_id, status=Delivery.PENDING).first())
        if callback is None:
            return None
        account = twilio_account_for_schema(connection.schema_name)
        if account is None:  # the account was closed since
            callback.status, callback.error = Delivery.FAILED, "The account no longer exists."
            callback.save(update_fields=["status", "error", "updated_at"])
            return None
        params = twilio_params(callback.message, account_sid=account.sid)
        params.update(MessageStatus=callback.message_status, SmsStatus=callback.message_status)
        if callback.error_code:
            params["ErrorCode"] = callback.error_code
        answer = signed_form_call(url=callback.url, method="POST", params=params,
                                  auth_token=account.auth_token,
                                  idempotency_token=f"{params['MessageSid']}-"
                                                    f"{callback.message_status}")
        callback.attempts += 1
        callback.response_status, callback.error = answer.status, answer.error
        delay = None
        if answer.succeeded:
            callback.status = Delivery.SUCCEEDED
        elif answer.refused or callback.attempts >= MAX_ATTEMPTS:
            callback.status = Delivery.FAILED
        else:
            delay = callback_backoff(callback.attempts)
            callback.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        callback.save(update_fields=["status", "attempts", "next_attempt_at",
                                     "response_status", "error", "updated_at"])
    if callback.status == Delivery.FAILED:
        logger.info("status callback %s of message %s gave up: %s", callback.pk,
                    callback.message_id, callback.error)
    return delay


def callbacks_sweep(*, schema: str, stale_before: datetime) -> int:
    """Re-enqueue pending callbacks whose task is overdue (lost with a broker outage)."""
    due = list(StatusCallback.objects.filter(status=Delivery.PENDING,
                                             updated_at__lt=stale_before)
               .exclude(next_attempt_at__gt=stale_before).values_list("pk", flat=True))
    for callback_id in due:
        callback_enqueue(callback_id, schema=schema)
    return len(due)


def callbacks_prune(*, before: datetime) -> int:
    """Delete finished callbacks created before ``before``; return how many went."""
    return delete_in_batches(StatusCallback.objects.filter(created_at__lt=before)
                             .exclude(status=Delivery.PENDING))
