"""Messages through the Twilio dialect, over the messaging services: a send is
``message_send`` (validation, opt-outs, approvals, segments, the outbound pipeline), with
what Twilio lets a request add (a StatusCallback URL, a Messaging Service, a schedule);
lists, fetches, redactions and deletions read and write the same messages the portal
shows."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from compat.twilio.credentials import Principal
from compat.twilio.errors import (
    BAD_REQUEST,
    BODY_REQUIRED,
    DELETE_IN_PROGRESS,
    FROM_NOT_OURS,
    FROM_REQUIRED,
    INVALID_FROM,
    INVALID_STATUS_CALLBACK,
    MEDIA_NOT_SUPPORTED,
    NOT_SCHEDULED,
    SERVICE_NOT_FOUND,
    SERVICE_WITHOUT_SENDERS,
    TO_REQUIRED,
    TwilioError,
    twilio_error_from_domain,
)
from compat.twilio.models import MessagingService, StickySender, TwilioMessage
from compat.twilio.resources import message_sid
from compat.twilio.scheduling import schedule_parse, scheduled_cancel, scheduled_send
from compat.twilio.sids import sid_decode
from core.errors import DomainError
from core.numbers import small_int
from core.outbound_http import UnsafeURLError, url_check
from core.phones import ALPHANUMERIC, SHORT_CODE, inbound_address, phone_normalize
from messaging.models import Message, Sender
from messaging.outbound import message_send
from messaging.retention import message_delete, message_redact

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_URL_LENGTH = 500


def callback_url_checked(url: str, *, code: int, name: str) -> str:
    """A URL given for us to call later, refused now with Twilio's ``code`` unless this
    installation may call it (checked again before each call)."""
    if len(url) > MAX_URL_LENGTH:
        raise TwilioError(code, f"{name} is longer than {MAX_URL_LENGTH} characters.")
    try:
        url_check(url)
    except UnsafeURLError as exc:
        raise TwilioError(code, f"Invalid {name}: {exc}") from None
    return url


def _from_checked(value: str) -> str:
    """A ``From`` that is at least shaped like an address (21212 otherwise); whether it
    is one of the account's senders is the send's own check (21606)."""
    try:
        return phone_normalize(value, field="from")
    except DomainError:
        address = value.strip()
        if SHORT_CODE.match(address) or ALPHANUMERIC.match(address):
            return address
    raise TwilioError(INVALID_FROM, f"Invalid 'From' Phone Number: {value!r} is not a phone "
                                    "number, short code or sender ID.")


def service_get(sid: str) -> MessagingService | None:
    return MessagingService.objects.filter(sid=sid).first() if sid else None


def _service_sender(service: MessagingService, to: str) -> str:
    """The address a Messaging Service sends from to ``to``: the one it used before (a
    sticky sender, while it is still in the pool and approved), else one of its approved
    senders, picked by the recipient so that recipients spread over the pool."""
    pool = list(service.senders.filter(status=Sender.Status.APPROVED).order_by("pk"))
    if not pool:
        raise TwilioError(SERVICE_WITHOUT_SENDERS,
                          f"Messaging Service {service.sid} has no approved sender to send "
                          "from.")
    try:
        to = phone_normalize(to)
    except DomainError as exc:
        raise twilio_error_from_domain(exc) from None
    if service.sticky_sender:
        sticky = StickySender.objects.filter(service=service, phone=to).first()
        if sticky is not None and any(sender.pk == sticky.sender_id for sender in pool):
            return next(sender.address for sender in pool if sender.pk == sticky.sender_id)
    chosen = pool[zlib.crc32(to.encode()) % len(pool)]
    if service.sticky_sender:
        StickySender.objects.update_or_create(service=service, phone=to,
                                              defaults={"sender": chosen})
    return chosen.address


@dataclass(frozen=True)
class SendRequest:
    """What a create request asked for, as Twilio names it."""

    to: str
    from_: str
    service_sid: str
    body: str | None
    status_callback: str
    has_media: bool
    schedule_type: str
    send_at: str


def twilio_message_create(*, principal: Principal, request: SendRequest) -> Message:
    """Send (or schedule) one message as ``POST Messages.json`` does; raise TwilioError
    with Twilio's code for anything Twilio would refuse. Precondition: the connection is
    in the principal's tenant schema."""
    if not request.to:
        raise TwilioError(TO_REQUIRED, "A 'To' phone number is required.")
    if not request.from_ and not request.service_sid:
        raise TwilioError(FROM_REQUIRED, "A 'From' phone number or a MessagingServiceSid is "
                                         "required.")
    if request.has_media:
        raise TwilioError(MEDIA_NOT_SUPPORTED, "MediaUrl is not supported: this service "
                                               "sends SMS only (no MMS).")
    if not request.body:
        raise TwilioError(BODY_REQUIRED, "Message body is required.")
    status_callback = (callback_url_checked(request.status_callback,
                                            code=INVALID_STATUS_CALLBACK,
                                            name="StatusCallback")
                       if request.status_callback else "")
    service = service_get(request.service_sid)
    if request.service_sid and service is None:
        raise TwilioError(SERVICE_NOT_FOUND,
                          f"The Messaging Service {request.service_sid!r} does not exist.")
    send_at = schedule_parse(schedule_type=request.schedule_type, send_at=request.send_at,
                             service=service)
    with transaction.atomic():
        if request.from_:
            from_address = _from_checked(request.from_)
            if service is not None and not service.senders.filter(address=from_address).exists():
                raise TwilioError(FROM_NOT_OURS, f"{from_address} is not a sender of "
                                                 f"Messaging Service {service.sid}.")
        else:
            from_address = _service_sender(service, request.to)
        draft = {"from_address": from_address, "to": request.to, "body": request.body,
                 "origin": Message.Origin.API, "origin_ref": principal.label}
        try:
            message = (message_send(**draft) if send_at is None
                       else scheduled_send(**draft, send_at=send_at))
        except DomainError as exc:
            raise twilio_error_from_domain(exc) from None
        if status_callback or service is not None:
            TwilioMessage.objects.create(message=message, status_callback=status_callback,
                                         messaging_service=service)
    return message


def message_get(sid: str, *, account_sid: str) -> Message | None:
    message_id = sid_decode("SM", sid, account_sid=account_sid)
    if message_id is None:
        return None
    return (Message.objects.select_related("twilio__messaging_service")
            .filter(pk=message_id).first())


def twilio_message_update(*, message: Message, body: str | None,
                          status: str | None) -> Message:
    """``POST Messages/{Sid}.json``: ``Body=""`` redacts a message that is done with;
    ``Status=canceled`` cancels a scheduled one."""
    if status is not None:
        if status != "canceled":
            raise TwilioError(BAD_REQUEST, "Status may only be set to 'canceled'.")
        if not scheduled_cancel(message_id=message.pk):
            raise TwilioError(NOT_SCHEDULED, "This message cannot be canceled: it is no "
                                             "longer scheduled.")
    if body is not None:
        if body != "":
            raise TwilioError(BAD_REQUEST, "Body may only be set to an empty string, which "
                                           "redacts the message.")
        try:
            message_redact(message_id=message.pk)
        except DomainError as exc:
            raise _in_progress(exc) from None
    return Message.objects.select_related("twilio__messaging_service").get(pk=message.pk)


def twilio_message_delete(*, message: Message) -> None:
    try:
        message_delete(message_id=message.pk)
    except DomainError as exc:
        raise _in_progress(exc) from None


def _in_progress(exc: DomainError) -> TwilioError:
    """``message_in_progress``, the one refusal of a redaction or deletion, as Twilio's."""
    return TwilioError(DELETE_IN_PROGRESS, f"Cannot change this message now: {exc.detail}",
                       status=409)


# --- Lists ---------------------------------------------------------------------------------


def _date_bound(value: str, name: str, *, end: bool) -> datetime:
    """A DateSent filter's value as the first moment it covers, or with ``end`` the first
    moment after it. A date (``YYYY-MM-DD``, or midnight UTC, which is how Twilio's clients
    send a date) covers that whole day in UTC; another time covers that second."""
    try:
        moment = (datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
                  if len(value) == 10 else datetime.fromisoformat(value.replace("Z", "+00:00")))
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        whole_day = moment.time() == time.min
        if not end:
            return moment
        return moment + (timedelta(days=1) if whole_day else timedelta(seconds=1))
    except (ValueError, OverflowError):
        # OverflowError: a moment at the calendar's very ends (9999-12-31, 0001-01-01 +01:00).
        raise TwilioError(BAD_REQUEST, f"{name} must be a date (YYYY-MM-DD) or a date and "
                                       "time in ISO 8601, in UTC.") from None


@dataclass(frozen=True)
class MessageFilters:
    to: str = ""
    from_: str = ""
    date_sent: str = ""
    date_sent_before: str = ""
    date_sent_after: str = ""


def twilio_message_list(*, filters: MessageFilters) -> QuerySet[Message]:
    """Messages matching Twilio's list filters, newest first. ``DateSent`` is when an
    outbound message was sent, or an inbound one received (one not sent yet has none)."""
    messages = Message.objects.select_related("twilio__messaging_service")
    if filters.to:
        messages = messages.filter(to_address=inbound_address(filters.to))
    if filters.from_:
        messages = messages.filter(from_address=inbound_address(filters.from_))
    bounds = Q()
    if filters.date_sent:
        bounds &= Q(date_sent__gte=_date_bound(filters.date_sent, "DateSent", end=False),
                    date_sent__lt=_date_bound(filters.date_sent, "DateSent", end=True))
    if filters.date_sent_before:
        bounds &= Q(date_sent__lt=_date_bound(filters.date_sent_before, "DateSent<", end=True))
    if filters.date_sent_after:
        bounds &= Q(date_sent__gte=_date_bound(filters.date_sent_after, "DateSent>",
                                               end=False))
    if bounds:
        messages = messages.annotate(date_sent=Coalesce(F("sent_at"), F("received_at"))
                                     ).filter(bounds)
    return messages.order_by("-id")


@dataclass(frozen=True)
class Page:
    messages: list[Message]
    number: int
    size: int
    start: int
    # The token of the next and the previous page, None when there is none.
    next_token: str | None
    previous_token: str | None


def _page_size(value: str) -> int:
    if not value:
        return DEFAULT_PAGE_SIZE
    size = small_int(value)
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise TwilioError(BAD_REQUEST, f"PageSize must be a whole number from 1 to "
                                       f"{MAX_PAGE_SIZE}.")
    return size


def _page_number(value: str) -> int:
    if not value:
        return 0
    number = small_int(value)
    if number is None:
        raise TwilioError(BAD_REQUEST, "Page must be a whole number from 0.")
    return number


def message_page(messages: QuerySet[Message], *, account_sid: str, page_size: str,
                 page: str, page_token: str) -> Page:
    """One page of ``messages`` (newest first). ``PageToken`` continues after (``PA…``) or
    before (``PB…``) a message of an earlier page, so pages stay stable while new
    messages arrive; without one, ``Page`` counts pages from the newest."""
    size, number = _page_size(page_size), _page_number(page)
    if page_token:
        direction, sid = page_token[:2], page_token[2:]
        anchor = sid_decode("SM", sid, account_sid=account_sid)
        if direction not in ("PA", "PB") or anchor is None:
            raise TwilioError(BAD_REQUEST, "PageToken is not one this API gave.")
        if direction == "PA":
            rows = list(messages.filter(pk__lt=anchor)[:size + 1])
            more_after, more_before = len(rows) > size, True
            rows = rows[:size]
        else:
            rows = list(messages.filter(pk__gt=anchor).order_by("id")[:size + 1])
            more_before, more_after = len(rows) > size, True
            rows = list(reversed(rows[:size]))
    else:
        rows = list(messages[number * size:(number + 1) * size + 1])
        more_after, more_before = len(rows) > size, number > 0
        rows = rows[:size]
    start = number * size
    next_token = previous_token = None
    if rows and more_after:
        next_token = "PA" + message_sid(rows[-1].pk, account_sid=account_sid)
    if rows and more_before:
        previous_token = "PB" + message_sid(rows[0].pk, account_sid=account_sid)
    return Page(messages=rows, number=number, size=size, start=start,
                next_token=next_token, previous_token=previous_token)
