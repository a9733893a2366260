"""Forwarding inbound messages to the business's own systems (a keyword rule's action).

The message goes as JSON, signed per Standard Webhooks, to the endpoint's URL; an answer
``{"reply": "..."}`` within the endpoint's timeout is texted back to the customer. A
``Forward`` row is the job: created with the processing that matched the rule, then tried
by a task, retried with backoff on any failure, and picked up by the sweep if a task is
lost. Every try leaves a ``ForwardAttempt`` that admins can read.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from core.outbound_http import UnsafeURLError, signed_post, url_check, webhook_secret
from core.pruning import delete_in_batches
from messaging.models import Forward, ForwardAttempt, ForwardingEndpoint, KeywordRule, Message
from messaging.outbound import message_send
from messaging.selectors import auto_replies_left

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_TIMEOUT = 10
UNSAFE_URL = "unsafe_url"
INVALID_TIMEOUT = "invalid_timeout"


# An answer ``{"reply": "..."}`` fits well within this; more is not read.
REPLY_MAX_BYTES = 64 * 1024


def forward_backoff(attempt: int) -> float:
    """10 s, 30 s, 1.5 min, 4.5 min, 13.5 min after the 1st to 5th failures."""
    return 10.0 * 3 ** (attempt - 1)


def _checked_url(url: str) -> str:
    try:
        url_check(url)
    except UnsafeURLError as exc:
        raise DomainError(UNSAFE_URL, str(exc), "url") from exc
    return url


def endpoint_save(*, endpoint: ForwardingEndpoint | None = None, **fields) -> ForwardingEndpoint:
    """Create an endpoint (with a new secret) or change one; the URL must be one this
    installation may call (docs/ARCHITECTURE.md#security-rules)."""
    endpoint = endpoint or ForwardingEndpoint(secret=webhook_secret())
    for name, value in fields.items():
        setattr(endpoint, name, value)
    _checked_url(endpoint.url)
    if not 1 <= endpoint.timeout_seconds <= MAX_TIMEOUT:
        raise DomainError(INVALID_TIMEOUT,
                             f"The timeout is 1 to {MAX_TIMEOUT} seconds.", "timeout_seconds")
    endpoint.save()
    return endpoint


def forward_create(*, message: Message, endpoint: ForwardingEndpoint,
                   rule: KeywordRule | None) -> Forward:
    """Queue ``message`` for ``endpoint``; the task runs after the caller's commit."""
    forward, _ = Forward.objects.get_or_create(message=message, endpoint=endpoint,
                                               defaults={"rule": rule})
    schema = connection.schema_name
    transaction.on_commit(lambda: forward_enqueue(forward.pk, schema=schema))
    return forward


def forward_enqueue(forward_id: int, *, schema: str, countdown: float | None = None) -> None:
    from messaging.tasks import message_forward

    try:
        message_forward.apply_async(args=[forward_id], countdown=countdown, queue="webhooks",
                                    headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; forward %s in %s left to the sweep", forward_id,
                       schema, exc_info=True)


def forward_payload(message: Message, forward: Forward) -> dict:
    contact = message.contact
    return {
        "type": "message.received",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "id": message.pk, "from": message.from_address, "to": message.to_address,
            "body": message.body, "received_at": message.received_at.isoformat()
            if message.received_at else None,
            "conversation": message.conversation_id, "rule": forward.rule_id,
            "contact": {"phone": contact.phone, "name": contact.name,
                        "fields": contact.fields, "tags": contact.tags} if contact else None,
        },
    }


def do_message_forward(*, forward_id: int) -> float | None:
    """Try one forward; return the delay before the next try, or None when it is done.

    The row is locked for the whole try, HTTP call included (at most the endpoint's
    timeout, 10 s): a redelivered task or the sweep skips it meanwhile, so the customer
    gets the answer once. A worker dying mid-call rolls back the try, and the sweep
    retries it.
    """
    with transaction.atomic():
        forward = (Forward.objects.select_for_update(skip_locked=True, of=("self",))
                   .select_related("endpoint", "message__contact")
                   .filter(pk=forward_id, status=Forward.Status.PENDING).first())
        if forward is None:
            return None
        forward.attempts += 1
        started, began = timezone.now(), time.monotonic()
        outcome = _call(forward)
        duration_ms = round((time.monotonic() - began) * 1000)
        delay = None
        if outcome.succeeded:
            forward.status = Forward.Status.SUCCEEDED
            forward.reply, outcome.error = _reply(forward, outcome.reply)
        elif outcome.permanent or forward.attempts >= MAX_ATTEMPTS:
            forward.status = Forward.Status.FAILED
        else:
            delay = forward_backoff(forward.attempts)
            forward.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        forward.save(update_fields=["status", "attempts", "next_attempt_at", "reply",
                                    "updated_at"])
        ForwardAttempt.objects.create(
            forward=forward, number=forward.attempts, started_at=started,
            duration_ms=duration_ms, response_status=outcome.status,
            response_excerpt=outcome.excerpt, error=outcome.error,
        )
    return delay


@dataclass
class _Outcome:
    succeeded: bool = False
    permanent: bool = False  # retrying cannot help
    status: int | None = None
    excerpt: str = ""
    error: str = ""
    reply: str = ""


def _call(forward: Forward) -> _Outcome:
    endpoint = forward.endpoint
    if not endpoint.active:
        return _Outcome(permanent=True, error="The endpoint is turned off.")
    answer = signed_post(
        url=endpoint.url, secret=endpoint.secret,
        webhook_id=f"fwd_{connection.schema_name}_{forward.pk}",  # the same on every retry
        body=json.dumps(forward_payload(forward.message, forward)),
        timeout=(min(3, endpoint.timeout_seconds), endpoint.timeout_seconds),
        max_bytes=REPLY_MAX_BYTES, user_agent="cpaas-forwarding/1")
    if not answer.succeeded:
        return _Outcome(permanent=answer.refused, status=answer.status,
                        excerpt=answer.body[:500], error=answer.error)
    reply = ""
    try:
        parsed = json.loads(answer.body) if answer.body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("reply"), str):
        reply = parsed["reply"].strip()
    return _Outcome(succeeded=True, status=answer.status, excerpt=answer.body[:500],
                    reply=reply)


def _reply(forward: Forward, body: str) -> tuple[Message | None, str]:
    """Text the endpoint's answer to the customer, under the same rules as any automatic
    reply (opt-out, validation, the hourly cap); return it, or why it was not sent."""
    message = forward.message
    if not body:
        return None, ""
    if not auto_replies_left(phone=message.from_address):
        return None, "The reply was not sent: the hourly cap of automatic replies is reached."
    try:
        return message_send(from_address=message.to_address, to=message.from_address,
                            body=body, origin=Message.Origin.RULE,
                            origin_ref=f"forward:{forward.endpoint_id}"), ""
    except DomainError as exc:
        return None, f"The reply was not sent: {exc.detail}"


def forwards_prune(*, before: datetime) -> int:
    """Delete the forwards created before ``before`` that are over (succeeded or failed),
    with their attempt logs; return how many went."""
    return delete_in_batches(Forward.objects.filter(created_at__lt=before)
                             .exclude(status=Forward.Status.PENDING))


def forwards_sweep(*, schema: str, stale_before) -> int:
    """Re-enqueue pending forwards whose task is overdue (lost with a broker outage)."""
    due = list(Forward.objects.filter(status=Forward.Status.PENDING, updated_at__lt=stale_before)
               .exclude(next_attempt_at__gt=stale_before).values_list("pk", flat=True))
    for forward_id in due:
        forward_enqueue(forward_id, schema=schema)
    return len(due)
