"""Subscription lists: their settings, and the one way on and off a list that every path
takes — a customer's join keyword or YES, the web form, the API, a teammate — so each
change writes the list's consent log and the ``subscriber.changed`` event in the same
transaction (imports, in bulk, are ``campaigns.imports``).

Consent follows CTIA's double opt-in: a number that asked to join by text, web form or API
becomes ``pending`` and gets one confirmation naming the business, the frequency, "Msg &
data rates may apply", HELP and STOP, and joins only when it answers YES within 72 hours.
An import or a teammate vouches for consent given elsewhere (with the evidence) and
subscribes at once, with no SMS. An opted-out number is never added; an opt-out ends every
membership in its own transaction (``subscriptions_end_on_opt_out``). See
docs/ARCHITECTURE.md#subscription-lists.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from campaigns import error_codes
from campaigns.error_codes import ListError
from campaigns.events import subscriber_event_emit
from campaigns.models import ListConsentEvent, SubscriberList, Subscription
from core.errors import DomainError
from core.live import inbox_changed
from core.memo import memoized
from core.phones import inbound_address, phone_normalize
from messaging import error_codes as messaging_codes
from messaging.automation import tenant_profile
from messaging.contacts import contact_merge
from messaging.models import Contact, Conversation, Message, Sender
from messaging.outbound import body_check, message_send
from optout import keywords
from optout.actions import optout_settings_get, phone_lock
from optout.models import ConsentEvent
from optout.selectors import phones_opted_out_anywhere

logger = logging.getLogger(__name__)

# What confirms a pending membership, matched like every keyword (case, surrounding
# whitespace and trailing punctuation ignored): "yes", "Y!", "ok." all confirm.
CONFIRM_WORDS = ("YES", "Y", "OK")
CONFIRM_WINDOW = timedelta(hours=72)
# A pending member who asks again is sent the confirmation again at most this often.
RESEND_AFTER = timedelta(hours=1)
# Their places among messaging's inbound steps: after the opt-out keywords, before a
# campaign's reply actions and the survey session.
CONFIRM_STEP_ORDER = 100
JOIN_STEP_ORDER = 200

Source = Subscription.Source
Status = Subscription.Status
Action = ListConsentEvent.Action
# Sources where the person asked to join themselves and may be asked to confirm.
ASKING_SOURCES = (Source.API, Source.WEB_FORM, Source.KEYWORD)
# Sources that vouch for consent given elsewhere: they must say what proves it.
EVIDENCE_SOURCES = (Source.WEB_FORM, Source.IMPORT, Source.STAFF)
# An opt-out's source, as a list's consent log names it.
OPTOUT_SOURCES = {ConsentEvent.Source.KEYWORD: Source.KEYWORD, ConsentEvent.Source.API: Source.API,
                  ConsentEvent.Source.ADMIN: Source.STAFF,
                  ConsentEvent.Source.IMPORT: Source.IMPORT}
MAX_NAME_LENGTH = SubscriberList._meta.get_field("name").max_length


# --- Texts ----------------------------------------------------------------------------------

def default_confirmation_text(*, business: str, list_name: str) -> str:
    return (f"{business}: reply YES to join {list_name} and get recurring texts. Msg "
            "frequency varies. Msg & data rates may apply. Reply HELP for help, STOP to cancel.")


def default_welcome_text(*, business: str, list_name: str) -> str:
    return (f"{business}: you're subscribed to {list_name}. Msg frequency varies. Msg & data "
            "rates may apply. Reply HELP for help, STOP to unsubscribe.")


def call_to_action(*, business: str, list_name: str) -> str:
    """The web form's consent text, beside its checkbox, and stored as the evidence of
    each sign-up."""
    return (f"I agree to receive recurring automated marketing text messages from {business} "
            f"({list_name}) at the number above. Consent is not a condition of purchase. Msg "
            "frequency varies. Msg & data rates may apply. Reply HELP for help, STOP to cancel.")


def business_name() -> str:
    return tenant_profile().name


# --- Lists ----------------------------------------------------------------------------------

def _name_clean(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ListError(error_codes.INVALID_NAME,
                        f"A list's name is 1 to {MAX_NAME_LENGTH} characters.", "name")
    return name


def list_keyword_clean(keyword: str, *, list_pk: int | None = None) -> str:
    """``keyword`` as inbound texts are matched against it, or "" for none. Refused:
    a word with another meaning (``keyword_reserved``: opt-out, opt-in and help keywords,
    YES, Y, OK) or another list's (``keyword_taken``)."""
    if not (keyword or "").strip():
        return ""
    word = keywords.keyword_normalize(keyword)
    if (not word or len(word) > keywords.MAX_KEYWORD_LENGTH
            or not all(char.isalnum() or char == " " for char in word)):
        raise ListError(error_codes.INVALID_KEYWORD,
                        f"A keyword is 1 to {keywords.MAX_KEYWORD_LENGTH} letters, digits "
                        "or spaces.", "keyword")
    settings = optout_settings_get()
    meanings = {"an opt-out keyword": settings.optout_keywords,
                "an opt-in keyword": [*settings.optin_keywords, keywords.YES],
                "a help keyword": settings.help_keywords,
                "how members confirm": CONFIRM_WORDS}
    for meaning, words in meanings.items():
        if word in words:
            raise ListError(error_codes.KEYWORD_RESERVED,
                            f"{word} is {meaning}: choose another word.", "keyword")
    other = SubscriberList.objects.filter(keyword=word).exclude(pk=list_pk).first()
    if other is not None:
        raise ListError(error_codes.KEYWORD_TAKEN,
                        f"{word} is already the join keyword of the list {other.name}.",
                        "keyword")
    return word


def list_keywords_claimed(words: set[str]) -> dict[str, str]:
    """The words among ``words`` that lists answer, for the opt-out settings to refuse:
    their join keywords, and the words members confirm with (an opt-in keyword YES would
    answer first, and no pending member could ever confirm)."""
    claimed = {word: "how list members confirm (double opt-in)"
               for word in words if word in CONFIRM_WORDS}
    claimed |= {word: f"the join keyword of the list {name}" for word, name in
                SubscriberList.objects.filter(keyword__in=words).values_list("keyword", "name")}
    return claimed


def _sender_clean(address: str) -> str:
    if not (address or "").strip():
        return ""
    address = inbound_address(address)
    sender = Sender.objects.filter(address=address).first()
    if sender is None:
        raise ListError(error_codes.UNKNOWN_SENDER, f"{address!r} is not one of your senders.",
                        "sender")
    if sender.status != Sender.Status.APPROVED:
        raise ListError(messaging_codes.SENDER_NOT_APPROVED,
                        f"{address} is {sender.status}; only approved senders send.", "sender")
    return address


def _text_clean(text: str, *, field: str) -> str:
    text = (text or "").strip()
    try:
        body_check(text)
    except DomainError as exc:
        raise ListError(exc.code, exc.detail, field) from exc
    return text


def _confirmation_clean(text: str, *, double_opt_in: bool) -> str:
    text = _text_clean(text, field="confirmation_text")
    if double_opt_in and not re.search(r"\bYES\b", text.upper()):
        raise ListError(error_codes.CONFIRMATION_NEEDS_YES,
                        "The confirmation must ask for YES: that is how members confirm.",
                        "confirmation_text")
    return text


def _slug_for(name: str) -> str:
    base = slugify(name)[:50].strip("-") or "list"
    slug, suffix = base, 1
    while SubscriberList.objects.filter(slug=slug).exists():
        suffix += 1
        slug = f"{base}-{suffix}"
    return slug


def list_create(*, name: str, keyword: str = "", double_opt_in: bool = True,
                confirmation_text: str | None = None, welcome_text: str | None = None,
                sender: str = "") -> SubscriberList:
    """A new list. Without texts it gets the defaults, which name the business and the list
    and say how to stop; ``welcome_text=""`` sends no welcome."""
    name = _name_clean(name)
    business = business_name()
    if not confirmation_text:
        confirmation_text = default_confirmation_text(business=business, list_name=name)
    if welcome_text is None:
        welcome_text = default_welcome_text(business=business, list_name=name)
    fields = {
        "name": name, "keyword": list_keyword_clean(keyword),
        "double_opt_in": double_opt_in, "sender_address": _sender_clean(sender),
        "confirmation_text": _confirmation_clean(confirmation_text,
                                                 double_opt_in=double_opt_in),
        "welcome_text": _text_clean(welcome_text, field="welcome_text") if welcome_text else "",
    }
    try:
        with transaction.atomic():
            return SubscriberList.objects.create(slug=_slug_for(name), **fields)
    except IntegrityError as exc:  # the keyword was taken meanwhile
        raise ListError(error_codes.KEYWORD_TAKEN, "Another list took that keyword just now.",
                        "keyword") from exc


def list_update(*, subscriber_list: SubscriberList, name: str | None = None,
                keyword: str | None = None, double_opt_in: bool | None = None,
                confirmation_text: str | None = None, welcome_text: str | None = None,
                sender: str | None = None) -> SubscriberList:
    """Change what is given. A blank confirmation goes back to the default; texts still
    the default for the old name follow a new name; ``welcome_text=""`` stops welcomes."""
    lst = subscriber_list
    business = business_name()
    old_defaults = (default_confirmation_text(business=business, list_name=lst.name),
                    default_welcome_text(business=business, list_name=lst.name))
    if name is not None:
        lst.name = _name_clean(name)
    if keyword is not None:
        lst.keyword = list_keyword_clean(keyword, list_pk=lst.pk)
    if double_opt_in is not None:
        lst.double_opt_in = double_opt_in
    if sender is not None:
        lst.sender_address = _sender_clean(sender)
    if confirmation_text is None and lst.confirmation_text == old_defaults[0]:
        confirmation_text = ""
    if confirmation_text is not None:
        confirmation_text = confirmation_text or default_confirmation_text(
            business=business, list_name=lst.name)
    lst.confirmation_text = _confirmation_clean(
        lst.confirmation_text if confirmation_text is None else confirmation_text,
        double_opt_in=lst.double_opt_in)
    if welcome_text is None and lst.welcome_text == old_defaults[1]:
        welcome_text = default_welcome_text(business=business, list_name=lst.name)
    if welcome_text is not None:
        lst.welcome_text = _text_clean(welcome_text, field="welcome_text") if (
            welcome_text) else ""
    try:
        with transaction.atomic():
            lst.save()
    except IntegrityError as exc:
        raise ListError(error_codes.KEYWORD_TAKEN, "Another list took that keyword just now.",
                        "keyword") from exc
    return lst


def list_delete(*, subscriber_list: SubscriberList) -> None:
    """Delete the list and its memberships; their consent log stays, under the list's
    name."""
    subscriber_list.delete()


# --- Members --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Membership:
    subscription: Subscription
    # Whether the membership is new or its status changed (a resent confirmation is not).
    changed: bool


def _sender_for(lst: SubscriberList, reply_from: str) -> str:
    """Who texts a member: the sender they wrote to, the list's, or the first approved."""
    address = reply_from or lst.sender_address or (
        Sender.objects.filter(status=Sender.Status.APPROVED).order_by("id")
        .values_list("address", flat=True).first())
    if not address:
        raise ListError(error_codes.NO_SENDER,
                        "No approved sender can text the confirmation: register one, or set "
                        "the list's sender.", "sender")
    return address


def _text_member(lst: SubscriberList, *, phone: str, body: str, reply_from: str,
                 kind: str) -> Message:
    try:
        return message_send(from_address=_sender_for(lst, reply_from), to=phone, body=body,
                            origin=Message.Origin.SYSTEM, origin_ref=f"list:{lst.pk}:{kind}")
    except DomainError as exc:
        field = "sender" if exc.field == "from" else None
        raise ListError(exc.code, exc.detail, field) from exc


def _welcome(lst: SubscriberList, *, phone: str, reply_from: str) -> None:
    """The welcome, when the list has one. A refusal (a sender suspended since) is logged:
    the consent stands whether or not the welcome can go."""
    if not lst.welcome_text:
        return
    try:
        with transaction.atomic():
            _text_member(lst, phone=phone, body=lst.welcome_text, reply_from=reply_from,
                         kind="welcome")
    except DomainError as exc:
        logger.warning("welcome to list %s not sent: %s %s", lst.pk, exc.code, exc.detail)


def _log(*, lst: SubscriberList, phone: str, action: str, source: str, evidence: str = "",
         message: Message | None = None, confirmation: Message | int | None = None,
         actor=None, actor_label: str = "", status: str | None,
         previous_status: str | None) -> ListConsentEvent:
    consent = ListConsentEvent.objects.create(
        list=lst, list_name=lst.name, phone=phone, action=action, source=source,
        evidence=evidence, message=message,
        confirmation_message_id=getattr(confirmation, "pk", confirmation),
        actor=actor, actor_label=actor_label[:100])
    subscriber_event_emit(consent=consent, status=status, previous_status=previous_status)
    inbox_changed()  # the contact panel of an open inbox shows the memberships
    return consent


def _confirmation_due(subscription: Subscription, now: datetime) -> bool:
    """Whether a pending member may be sent the confirmation (again): never more often
    than once an hour; a member past the window starts afresh."""
    sent = subscription.confirmation_sent_at
    return sent is None or sent <= now - RESEND_AFTER


def subscriber_add(*, subscriber_list: SubscriberList, phone: str, source: str,
                   name: str = "", fields: dict | None = None, tags: list[str] | None = None,
                   evidence: str = "", actor=None, actor_label: str = "",
                   message: Message | None = None, reply_from: str = "") -> Membership:
    """Put ``phone`` on the list, or move it on, as ``source`` allows.

    On a double-opt-in list, ``api``, ``web_form`` and ``keyword`` make the member
    ``pending`` and text the confirmation (again at most once an hour); ``import`` and
    ``staff`` subscribe at once with no SMS; without double opt-in every source subscribes
    and the asking ones get the welcome. ``name``, ``fields`` and ``tags`` enrich the
    contact. ``reply_from`` is the sender the customer wrote to, which answers them.

    Refused, leaving nothing behind: a bad number (``invalid_phone_number``), a number
    with any opt-out (``recipient_opted_out``; only the customer's START undoes it),
    missing evidence for ``web_form``, ``import`` and ``staff``, a confirmation that no
    sender can send.
    """
    phone = phone_normalize(phone, field="phone")
    if source in EVIDENCE_SOURCES and not (evidence or "").strip():
        raise ListError(error_codes.EVIDENCE_REQUIRED,
                        "Say how this person agreed (the form's text, where the signed "
                        "form is kept, what they told you).", "evidence")
    lst = subscriber_list
    with transaction.atomic():
        # Shared with other sends, exclusive for an opt-out: a STOP either commits first
        # (and is seen below) or waits, then ends this membership.
        phone_lock(phone=phone, shared=True)
        # An opt-out import takes no per-number lock, but holds this one exclusively while
        # it ends memberships: its opt-outs are seen below, or this membership is seen there.
        optout_bulk_lock(shared=True)
        _membership_lock(lst=lst, phone=phone)
        if phones_opted_out_anywhere(phones=[phone]):
            raise ListError(error_codes.RECIPIENT_OPTED_OUT,
                            f"{phone} has opted out of your messages; only they can opt back "
                            "in, by texting START.", "phone")
        contact = contact_merge(phone=phone, name=name, fields=fields, tags=tags)
        now = timezone.now()
        subscription = (Subscription.objects.select_for_update()
                        .filter(list=lst, phone=phone).first())
        previous = subscription.status if subscription else None
        if previous == Status.UNSUBSCRIBED and source in (Source.IMPORT, Source.STAFF):
            # Someone who left comes back on their own word, not on a teammate's or a file's
            # (as a CSV import of the list refuses them).
            raise ListError(error_codes.UNSUBSCRIBED_BEFORE,
                            f"{phone} left this list; only they can join it again.", "phone")
        asks = lst.double_opt_in and source in ASKING_SOURCES
        if previous == Status.SUBSCRIBED:
            return Membership(subscription=subscription, changed=False)
        if (asks and previous == Status.PENDING
                and not _confirmation_due(subscription, now)):
            return Membership(subscription=subscription, changed=False)
        if subscription is None:
            subscription = Subscription(list=lst, contact=contact, phone=phone)
        subscription.source = source
        if asks:
            confirmation = _text_member(lst, phone=phone, body=lst.confirmation_text,
                                        reply_from=reply_from, kind="confirmation")
            subscription.status = Status.PENDING
            subscription.confirmation_message = confirmation
            subscription.confirmation_sent_at = now
            action, welcome = Action.PENDING, False
        else:
            confirmation = None
            subscription.status = Status.SUBSCRIBED
            action, welcome = Action.SUBSCRIBED, source in ASKING_SOURCES
        if subscription.status != previous:
            subscription.changed_at = now
        subscription.save()
        _log(lst=lst, phone=phone, action=action, source=source, evidence=evidence,
             message=message, confirmation=confirmation, actor=actor, actor_label=actor_label,
             status=subscription.status, previous_status=previous)
        if welcome:
            _welcome(lst, phone=phone, reply_from=reply_from)
    return Membership(subscription=subscription, changed=subscription.status != previous)


def subscriber_remove(*, subscriber_list: SubscriberList, phone: str, source: str,
                      evidence: str = "", actor=None, actor_label: str = "") -> bool:
    """Take ``phone`` off the list (``unsubscribed``, kept with its history); whether it
    changed anything. ``not_a_member`` when the number was never on it."""
    phone = phone_normalize(phone, field="phone")
    with transaction.atomic():
        subscription = (Subscription.objects.select_for_update()
                        .filter(list=subscriber_list, phone=phone).first())
        if subscription is None:
            raise ListError(error_codes.NOT_A_MEMBER,
                            f"{phone} is not on the list {subscriber_list.name}.", "phone")
        if subscription.status == Status.UNSUBSCRIBED:
            return False
        previous = subscription.status
        subscription.status = Status.UNSUBSCRIBED
        subscription.changed_at = timezone.now()
        subscription.save(update_fields=["status", "changed_at"])
        _log(lst=subscriber_list, phone=phone, action=Action.UNSUBSCRIBED, source=source,
             evidence=evidence, actor=actor, actor_label=actor_label,
             status=Status.UNSUBSCRIBED, previous_status=previous)
    return True


def imports_lock(*, shared: bool) -> None:
    """The tenant's list-import lock until the end of the transaction: an import chunk
    holds it exclusively from its last opt-out check to its commit, and every opt-out
    takes it shared, so an opt-out racing an import either is seen by the chunk or ends
    the memberships the chunk wrote."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtext(%s))",
                       [f"lists-import:{connection.schema_name}"])


def optout_bulk_lock(*, shared: bool) -> None:
    """The tenant's lock between opt-out imports (exclusive, while they end memberships)
    and sign-ups (shared, from their opt-out check to their commit)."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtext(%s))",
                       [f"lists-optout-bulk:{connection.schema_name}"])


def _membership_lock(*, lst: SubscriberList, phone: str) -> None:
    """Serialise sign-ups of one number to one list (a double-clicked form, two API calls):
    the row they would both insert does not exist yet, so no row lock can."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"lists-member:{connection.schema_name}:{lst.pk}:{phone}"])


def subscriptions_end_on_opt_out(*, phones: list[str], source: str, reason: str = "",
                                 actor=None, actor_label: str = "",
                                 message: Message | None = None, **signal) -> None:
    """End every membership of ``phones``, which just opted out (``optout.signals``);
    runs in the opt-out's transaction. Memberships ended by an opt-out import are not
    announced one by one, as the import's opt-outs are not."""
    imports_lock(shared=True)
    if source == ConsentEvent.Source.IMPORT:
        optout_bulk_lock(shared=False)
    ended = list(Subscription.objects.select_for_update(of=("self",)).select_related("list")
                 .filter(phone__in=phones).exclude(status=Status.UNSUBSCRIBED))
    if not ended:
        return
    now = timezone.now()
    Subscription.objects.filter(pk__in=[s.pk for s in ended]).update(
        status=Status.UNSUBSCRIBED, changed_at=now)
    list_source = OPTOUT_SOURCES.get(source, Source.STAFF)
    evidence = "Opted out" + (f": {reason}" if reason else "")
    if source == ConsentEvent.Source.IMPORT:
        ListConsentEvent.objects.bulk_create([
            ListConsentEvent(list=s.list, list_name=s.list.name, phone=s.phone,
                             action=Action.UNSUBSCRIBED, source=list_source,
                             evidence=evidence, actor=actor, actor_label=actor_label[:100])
            for s in ended])
        return
    for subscription in ended:
        _log(lst=subscription.list, phone=subscription.phone, action=Action.UNSUBSCRIBED,
             source=list_source, evidence=evidence, message=message, actor=actor,
             actor_label=actor_label, status=Status.UNSUBSCRIBED,
             previous_status=subscription.status)


# --- The customer's texts (messaging's inbound steps) ---------------------------------------

def list_confirm_step(*, message: Message, contact: Contact, conversation: Conversation,
                      **context) -> bool:
    """YES (or Y, OK) from a member pending for less than 72 hours: subscribed, and
    welcomed from the sender they wrote to. Anything else, or a YES from anyone else,
    goes on to the next step."""
    word = keywords.keyword_normalize(message.body)
    if word not in CONFIRM_WORDS:
        return False
    now = timezone.now()
    pending = list(Subscription.objects.select_for_update(of=("self",)).select_related("list")
                   .filter(phone=contact.phone, status=Status.PENDING,
                           confirmation_sent_at__gt=now - CONFIRM_WINDOW).order_by("id"))
    if not pending:
        return False
    for subscription in pending:
        subscription.status = Status.SUBSCRIBED
        subscription.changed_at = now
        subscription.save(update_fields=["status", "changed_at"])
        _log(lst=subscription.list, phone=contact.phone, action=Action.SUBSCRIBED,
             source=subscription.source, evidence=f"Replied {word}", message=message,
             confirmation=subscription.confirmation_message_id, actor_label="customer",
             status=Status.SUBSCRIBED, previous_status=Status.PENDING)
        _welcome(subscription.list, phone=contact.phone, reply_from=message.to_address)
    return True


def _list_keywords() -> frozenset[str]:
    return frozenset(SubscriberList.objects.exclude(keyword="")
                     .values_list("keyword", flat=True))


def list_join_step(*, message: Message, contact: Contact, conversation: Conversation,
                   **context) -> bool:
    """A list's join keyword: the customer joins (source ``keyword``), answered by the
    sender they wrote to. The keyword is handled even when nothing is sent (already a
    member, a confirmation sent within the hour)."""
    word = keywords.keyword_normalize(message.body)
    if not word or len(word) > keywords.MAX_KEYWORD_LENGTH:
        return False
    if word not in memoized("list_keywords", _list_keywords):
        return False
    subscriber_list = SubscriberList.objects.filter(keyword=word).first()
    if subscriber_list is None:
        return False
    try:
        with transaction.atomic():
            subscriber_add(subscriber_list=subscriber_list, phone=contact.phone,
                           source=Source.KEYWORD,
                           evidence=f"Texted {word} to {message.to_address}",
                           actor_label="customer", message=message,
                           reply_from=message.to_address)
    except DomainError as exc:
        logger.warning("join keyword of list %s from message %s refused: %s %s",
                       subscriber_list.pk, message.pk, exc.code, exc.detail)
    return True


def pending_expire(*, now: datetime, limit: int = 1000) -> int:
    """Drop members who did not confirm within the window, silently (no SMS), logging
    each; return how many."""
    expired = list(Subscription.objects.select_for_update(skip_locked=True, of=("self",))
                   .select_related("list")
                   .filter(status=Status.PENDING,
                           confirmation_sent_at__lte=now - CONFIRM_WINDOW)[:limit])
    for subscription in expired:
        _log(lst=subscription.list, phone=subscription.phone, action=Action.EXPIRED,
             source=subscription.source, evidence="No YES within 72 hours",
             confirmation=subscription.confirmation_message_id, status=None,
             previous_status=Status.PENDING)
    Subscription.objects.filter(pk__in=[s.pk for s in expired]).delete()
    return len(expired)
