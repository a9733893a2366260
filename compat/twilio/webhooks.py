"""A number's ``SmsUrl``: a customer's text goes to the tenant's own app the way Twilio
sends it (a form signed with ``X-Twilio-Signature``), and the app's TwiML answer is texted
back from that number. If the app fails (an error status, no answer within 10 s, an answer
that is not TwiML), ``SmsFallbackUrl`` is tried; if that fails too, the conversation says
so in the inbox.

This is a step of the automatic reactions (``messaging.automation``): it comes after the
opt-out keywords, surveys and keyword rules, and a message it takes gets no out-of-office
reply. The processing transaction writes an ``SmsWebhook`` row; a task makes the calls
after the commit, and the sweep picks up a row whose task was lost.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from compat.twilio.callbacks import account_exists, signed_form_call, twilio_params
from compat.twilio.credentials import twilio_account_for_schema
from compat.twilio.errors import INVALID_STATUS_CALLBACK, TwilioError
from compat.twilio.messages import callback_url_checked
from compat.twilio.models import (
    Delivery,
    PhoneNumber,
    SmsWebhook,
    SmsWebhookAttempt,
    TwilioMessage,
)
from compat.twilio.resources import TWIML_ORIGIN_REF, number_sid
from compat.twilio.twiml import InvalidTwiML, Reply, twiml_replies
from core.errors import DomainError
from core.live import inbox_changed
from core.phones import phone_country
from core.pruning import delete_in_batches
from messaging.models import Contact, Conversation, Message
from messaging.outbound import message_send
from messaging.selectors import ThreadNotice

logger = logging.getLogger(__name__)

# Twilio's codes for what went wrong, given to the fallback URL as ``ErrorCode``.
HTTP_FAILURE = "11200"
NOT_TWIML = "12100"


def sms_app_step(*, message: Message, contact: Contact, conversation: Conversation,
                 **_) -> bool:
    """The automation step (``messaging.automation.APP_STEP_ORDER``): hand the message
    to its number's app, when the number has one. Runs in the processing transaction."""
    if not account_exists(connection.schema_name):
        return False  # the common case costs one cached lookup
    has_app = PhoneNumber.objects.filter(sender_id=message.sender_id).exclude(sms_url="")
    if not has_app.exists():
        return False
    webhook, created = SmsWebhook.objects.get_or_create(message=message)
    if created:
        schema = connection.schema_name
        transaction.on_commit(lambda: webhook_enqueue(webhook.pk, schema=schema))
    return True


def webhook_enqueue(webhook_id: int, *, schema: str) -> None:
    from compat.tasks import sms_webhook_call

    try:
        sms_webhook_call.apply_async(args=[webhook_id], queue="webhooks",
                                     headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; SmsUrl call %s in %s left to the sweep",
                       webhook_id, schema, exc_info=True)


def inbound_params(message: Message, *, account_sid: str) -> dict[str, str]:
    """What Twilio posts to an ``SmsUrl`` about a customer's text."""
    params = twilio_params(message, account_sid=account_sid)
    params.update(SmsMessageSid=params["MessageSid"], Body=message.body, NumMedia="0",
                  NumSegments=str(message.segments), SmsStatus="received")
    for name, address in (("FromCountry", message.from_address),
                          ("ToCountry", message.to_address)):
        if address.startswith("+"):
            params[name] = phone_country(address)
    return params


def do_sms_webhook(*, webhook_id: int) -> None:
    """Call the number's app about one message (then its fallback, if need be) and send
    the replies its TwiML asks for. The row is locked during the calls, so a redelivered
    task or the sweep skips it meanwhile; a worker dying mid-call leaves it pending for the
    sweep."""
    with transaction.atomic():
        webhook = (SmsWebhook.objects.select_for_update(skip_locked=True, of=("self",))
                   .select_related("message").filter(pk=webhook_id,
                                                      status=Delivery.PENDING).first())
        if webhook is None:
            return
        message = webhook.message
        number = PhoneNumber.objects.filter(sender_id=message.sender_id).first()
        account = twilio_account_for_schema(connection.schema_name)
        if number is None or not number.sms_url or account is None:
            webhook.status = Delivery.FAILED
            webhook.error = "The number no longer has an SmsUrl."
            webhook.save(update_fields=["status", "error", "updated_at"])
            return
        replies, errors = _ask(webhook, number, account.sid, account.auth_token)
        if replies is None:
            webhook.status, webhook.error = Delivery.FAILED, " ".join(errors)
            inbox_changed()  # the thread shows that the app did not answer
        else:
            sent, refusals = _send_replies(message, number, replies, account_sid=account.sid)
            webhook.status, webhook.replies = Delivery.SUCCEEDED, sent
            webhook.error = " ".join(refusals)
        webhook.save(update_fields=["status", "replies", "error", "updated_at"])
    if webhook.status == Delivery.FAILED:
        logger.info("SmsUrl call %s for message %s failed: %s", webhook.pk, message.pk,
                    webhook.error)


def _ask(webhook: SmsWebhook, number: PhoneNumber, account_sid: str,
         auth_token: str) -> tuple[list[Reply] | None, list[str]]:
    """The app's replies (the fallback's when the app fails), or None and what went wrong
    with each URL tried. Each call is logged."""
    params = inbound_params(webhook.message, account_sid=account_sid)
    tries = [(number.sms_url, number.sms_method, False)]
    if number.sms_fallback_url:
        tries.append((number.sms_fallback_url, number.sms_fallback_method, True))
    errors: list[str] = []
    error_code = ""
    for url, method, fallback in tries:
        sent = dict(params, ErrorCode=error_code, ErrorUrl=number.sms_url) if fallback \
            else params
        started, began = timezone.now(), time.monotonic()
        answer = signed_form_call(url=url, method=method, params=sent, auth_token=auth_token,
                                  idempotency_token=params["MessageSid"])
        replies, problem = None, answer.error
        if answer.succeeded:
            try:
                replies = twiml_replies(answer.body, content_type=answer.content_type)
            except InvalidTwiML as exc:
                problem = f"The answer is not TwiML: {exc}."
        SmsWebhookAttempt.objects.create(
            webhook=webhook, url=url, method=method, fallback=fallback, started_at=started,
            duration_ms=round((time.monotonic() - began) * 1000),
            response_status=answer.status, response_excerpt=answer.body[:500], error=problem)
        if replies is not None:
            return replies, errors
        error_code = NOT_TWIML if answer.succeeded else HTTP_FAILURE
        errors.append(f"{'Fallback ' if fallback else ''}{url}: {problem}")
    return None, errors


def _send_replies(message: Message, number: PhoneNumber, replies: list[Reply], *,
                  account_sid: str) -> tuple[int, list[str]]:
    """Text the replies through the outbound pipeline (validation and opt-outs as for any
    send); return how many left and why the others did not."""
    sent, refusals = 0, []
    origin_ref = TWIML_ORIGIN_REF + number_sid(number.sender_id, account_sid=account_sid)
    for reply in replies:
        try:
            callback = number.status_callback
            if reply.status_callback:
                callback = callback_url_checked(reply.status_callback,
                                                code=INVALID_STATUS_CALLBACK,
                                                name="statusCallback")
            with transaction.atomic():
                answer = message_send(from_address=reply.from_ or message.to_address,
                                      to=reply.to or message.from_address, body=reply.body,
                                      origin=Message.Origin.API, origin_ref=origin_ref)
                if callback:
                    TwilioMessage.objects.create(message=answer, status_callback=callback)
            sent += 1
        except (DomainError, TwilioError) as exc:
            refusals.append(f"A reply was not sent: {getattr(exc, 'detail', str(exc))}")
    return sent, refusals


def sms_webhook_notices(*, conversation: Conversation, since: datetime,
                        limit: int) -> list[ThreadNotice]:
    """The conversation's texts that the number's app did not answer, for its thread
    (``messaging.selectors.thread_source_install``)."""
    failed = (SmsWebhook.objects.filter(message__conversation=conversation,
                                        status=Delivery.FAILED, updated_at__gte=since)
              .order_by("-id")[:limit])
    return [ThreadNotice(text=f"Your app did not answer this text. {webhook.error}",
                         at=webhook.updated_at, problem=True) for webhook in failed]


def webhooks_sweep(*, schema: str, stale_before: datetime) -> int:
    """Re-enqueue pending SmsUrl calls whose task is overdue (lost with a broker outage,
    or a worker that died mid-call)."""
    due = list(SmsWebhook.objects.filter(status=Delivery.PENDING, updated_at__lt=stale_before)
               .values_list("pk", flat=True))
    for webhook_id in due:
        webhook_enqueue(webhook_id, schema=schema)
    return len(due)


def webhooks_prune(*, before: datetime) -> int:
    """Delete finished SmsUrl calls created before ``before``, with their logs."""
    return delete_in_batches(SmsWebhook.objects.filter(created_at__lt=before)
                             .exclude(status=Delivery.PENDING))
