"""Replies to campaigns (docs/ARCHITECTURE.md#campaign-replies): reply actions, their code
pools, and the counts of replies and opt-outs a campaign's results show.

A customer's text answers a campaign when the campaign's message left for them within the
72 hours before it; processing marks the text with that campaign (``Message.campaign_id``,
set in ``messaging.inbound`` before the opt-out keywords run, so a STOP is marked too).

A reply action answers a keyword from a campaign's recipients within those 72 hours with a
reply template. A reply naming ``{{ code }}`` hands out a single-use code from the action's
pool: each code goes to one number only, even when replies are processed side by side
(the next free code is claimed with ``FOR UPDATE SKIP LOCKED``), the same number asking
again gets its own code again, and an empty pool answers with the fallback text. The
actions run among messaging's answering steps after the opt-out keywords and the list
steps, before surveys and keyword rules (``REPLY_STEP_ORDER``).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from campaigns import error_codes
from campaigns.error_codes import ReplyActionError
from campaigns.models import Campaign, ReplyAction, ReplyCode, SubscriberList
from core.bulk import values_insert
from core.errors import DomainError
from core.memo import memoized
from core.text import text_problem
from messaging.models import Contact, Conversation, Message
from messaging.outbound import body_check, message_send
from messaging.selectors import auto_replies_left, campaigns_answered
from messaging.templating import template_render, template_validate
from optout import keywords
from optout.actions import optout_settings_get

logger = logging.getLogger(__name__)

# After the list steps (100, 200), before the survey session (500) and the rules (600).
REPLY_STEP_ORDER = 300
CODE = "code"
_CODE_PLACEHOLDER = re.compile(r"\{\{\s*code\s*(\|[^}]*)?\}\}")
DEFAULT_FALLBACK = "Thanks for your reply! Sorry, every code has been given out."
# A code: 1 to 64 characters, none of them a space or a control character.
_VALID_CODE = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
MAX_CODES = 100_000
MAX_CODES_BYTES = 4 * 1024 * 1024
# Duplicates named in an upload's answer; the count covers them all.
MAX_DUPLICATES_SHOWN = 100


# --- Reply actions ------------------------------------------------------------------------

def hands_out_codes(reply: str) -> bool:
    return bool(_CODE_PLACEHOLDER.search(reply))


def _keyword_clean(keyword: str, *, campaign: Campaign) -> str:
    """``keyword`` as texts are matched against it. Refused: a word something earlier
    answers (an opt-out, opt-in or help keyword, a list's join keyword) and a word the
    campaign already has an action for."""
    word = keywords.keyword_normalize(keyword)
    if (not word or len(word) > keywords.MAX_KEYWORD_LENGTH
            or not all(char.isalnum() or char == " " for char in word)):
        raise ReplyActionError(error_codes.INVALID_KEYWORD,
                               f"A keyword is 1 to {keywords.MAX_KEYWORD_LENGTH} letters, "
                               "digits or spaces.", "keyword")
    settings = optout_settings_get()
    meanings = {"an opt-out keyword": settings.optout_keywords,
                "an opt-in keyword": settings.optin_keywords,
                "a help keyword": settings.help_keywords}
    for meaning, words in meanings.items():
        if word in words:
            raise ReplyActionError(error_codes.KEYWORD_RESERVED,
                                   f"{word} is {meaning}, which is answered first: choose "
                                   "another word.", "keyword")
    joined = SubscriberList.objects.filter(keyword=word).first()
    if joined is not None:
        raise ReplyActionError(error_codes.KEYWORD_RESERVED,
                               f"{word} is the join keyword of the list {joined.name}, which "
                               "is answered first: choose another word.", "keyword")
    if ReplyAction.objects.filter(campaign=campaign, keyword=word).exists():
        raise ReplyActionError(error_codes.KEYWORD_TAKEN,
                               f"This campaign already answers {word}.", "keyword")
    return word


def _text_clean(text: str, *, field: str, extra: tuple[str, ...] = ()) -> str:
    text = (text or "").strip()
    if not text:
        raise ReplyActionError(error_codes.INVALID_REPLY, "Write the text to send.", field)
    try:
        template_validate(text, field=field, extra=extra)
        body_check(text)
    except DomainError as exc:
        raise ReplyActionError(exc.code, exc.detail, field) from exc
    return text


def reply_action_create(*, campaign: Campaign, keyword: str, reply: str,
                        fallback_text: str = "") -> ReplyAction:
    """A new action of ``campaign``. ``reply`` is a reply template that may name
    ``{{ code }}``; an action that does answers with ``fallback_text`` (or a default) once
    its pool is empty. Refused, writing nothing: a bad or reserved keyword, a template
    that does not parse, a text over 10 segments."""
    word = _keyword_clean(keyword, campaign=campaign)
    reply = _text_clean(reply, field="reply", extra=(CODE,))
    fallback = ""
    if hands_out_codes(reply):
        fallback = _text_clean(fallback_text or DEFAULT_FALLBACK, field="fallback_text")
    try:
        with transaction.atomic():
            return ReplyAction.objects.create(campaign=campaign, keyword=word, reply=reply,
                                              fallback_text=fallback)
    except IntegrityError as exc:  # the same word, added meanwhile
        raise ReplyActionError(error_codes.KEYWORD_TAKEN,
                               f"This campaign already answers {word}.", "keyword") from exc


def reply_action_delete(*, action: ReplyAction) -> None:
    """Delete the action and its pool (codes given included)."""
    action.delete()


def reply_action_list(*, campaign: Campaign) -> QuerySet[ReplyAction]:
    """The campaign's actions, oldest first, with their codes counted (``available``,
    ``given``)."""
    return ReplyAction.objects.filter(campaign=campaign).annotate(
        available=Count("codes", filter=Q(codes__phone="")),
        given=Count("codes", filter=~Q(codes__phone="")))


# --- Code pools ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CodesAdded:
    added: int
    # Codes dropped because the upload or the pool had them already.
    duplicates: int
    duplicate_codes: list[str]
    available: int
    given: int


def codes_from_csv(content: bytes) -> list[str]:
    """The codes of a CSV upload: the first cell of each row, a first row ``code`` (or
    ``codes``) being a header. Refused whole: a file too large, not UTF-8 text, or holding
    text no column can store."""
    if len(content) > MAX_CODES_BYTES:
        raise ReplyActionError(error_codes.FILE_TOO_LARGE,
                               f"A file of codes is {MAX_CODES_BYTES // (1024 * 1024)} MB at "
                               "most.", "file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReplyActionError(error_codes.INVALID_FILE, "The file is not UTF-8 text.",
                               "file") from exc
    if text_problem(text) is not None:
        raise ReplyActionError(error_codes.INVALID_FILE,
                               "The file holds characters that cannot be stored (NUL).",
                               "file")
    codes = []
    try:
        for cells in csv.reader(io.StringIO(text)):
            cell = cells[0].strip() if cells else ""
            if cell and not (not codes and cell.lower() in ("code", "codes")):
                codes.append(cell)
    except csv.Error as exc:
        raise ReplyActionError(error_codes.INVALID_FILE, f"The file is not CSV: {exc}.",
                               "file") from exc
    return codes


def reply_codes_add(*, action: ReplyAction, codes: list[str]) -> CodesAdded:
    """Add ``codes`` to the action's pool; a code the upload repeats or the pool holds
    already is dropped and reported. Refused whole, adding nothing: an action whose reply
    names no ``{{ code }}``, an empty upload, a code that is not 1 to 64 characters without
    spaces, more than ``MAX_CODES`` codes."""
    field = "codes"
    if not hands_out_codes(action.reply):
        raise ReplyActionError(error_codes.INVALID_REPLY,
                               "This action's reply names no {{ code }}: it hands out no "
                               "codes.", field)
    codes = [code.strip() for code in codes]
    if not codes:
        raise ReplyActionError(error_codes.INVALID_CODE, "No codes given.", field)
    for number, code in enumerate(codes, 1):
        if not _VALID_CODE.fullmatch(code):
            raise ReplyActionError(error_codes.INVALID_CODE,
                                   f"Code {number} is not 1 to 64 characters without "
                                   "spaces.", field)
    unique: dict[str, None] = {}
    repeated: list[str] = []
    for code in codes:
        if code in unique:
            repeated.append(code)
        else:
            unique[code] = None
    if len(unique) > MAX_CODES:
        raise ReplyActionError(error_codes.TOO_MANY_CODES,
                               f"A pool takes {MAX_CODES:,} codes at a time.", field)
    with transaction.atomic():
        inserted = values_insert(ReplyCode, [
            {"action_id": action.pk, "code": code, "phone": ""} for code in unique
        ], conflict_target="(action_id, code)")
        if len(inserted) < len(unique):
            new = set(ReplyCode.objects.filter(pk__in=inserted).values_list("code", flat=True))
            repeated += [code for code in unique if code not in new]
    counts = ReplyCode.objects.filter(action=action).aggregate(
        available=Count("id", filter=Q(phone="")), given=Count("id", filter=~Q(phone="")))
    return CodesAdded(added=len(inserted), duplicates=len(repeated),
                      duplicate_codes=list(dict.fromkeys(repeated))[:MAX_DUPLICATES_SHOWN],
                      **counts)


def _code_give(*, action: ReplyAction, phone: str) -> str | None:
    """The code ``phone`` holds from the pool, else the next free one, now theirs; None
    when the pool is empty. Inside the caller's transaction: the code is theirs once it
    commits."""
    with connection.cursor() as cursor:
        # Two texts of one number processed side by side must not take two codes.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"reply-code:{connection.schema_name}:{action.pk}:{phone}"])
    held = (ReplyCode.objects.filter(action=action, phone=phone)
            .values_list("code", flat=True).first())
    if held is not None:
        return held
    # A code another reply is taking is skipped rather than waited for: that reply either
    # commits it or gives it back, and this one takes the next.
    free = (ReplyCode.objects.select_for_update(skip_locked=True)
            .filter(action=action, phone="").order_by("id").first())
    if free is None:
        return None
    free.phone, free.given_at = phone, timezone.now()
    free.save(update_fields=["phone", "given_at"])
    return free.code


# --- The customer's texts (messaging's inbound step) ----------------------------------------

def reply_action_step(*, message: Message, contact: Contact, conversation: Conversation,
                      **context) -> bool:
    """A keyword of a reply action from a recipient of its campaign within 72 hours:
    answered from the sender they wrote to (a code and its reply, or the fallback). When
    several such campaigns answer the word, the one whose message left last does.
    Anything else goes on to the next step."""
    word = keywords.keyword_normalize(message.body)
    if not word or len(word) > keywords.MAX_KEYWORD_LENGTH or word not in _reply_keywords():
        return False
    actions = {action.campaign_id: action
               for action in ReplyAction.objects.filter(keyword=word)}
    if not actions:
        return False
    answered = campaigns_answered(contact_id=contact.pk, at=message.created_at,
                                  among=set(actions))
    if not answered:
        return False
    action = actions[answered[0]]
    if auto_replies_left(phone=contact.phone):
        _answer(action=action, message=message, contact=contact)
    return True


def _reply_keywords() -> frozenset[str]:
    """The words some reply action answers, read once per burst of inbound processing
    (``core.memo``): most texts answer none, and then cost no query."""
    return memoized("campaigns:reply-keywords", lambda: frozenset(
        ReplyAction.objects.values_list("keyword", flat=True)))


def _answer(*, action: ReplyAction, message: Message, contact: Contact) -> None:
    """Send the action's reply, with a code when it hands them out. A refused send (a
    sender suspended since) is logged, and its code stays in the pool."""
    with_code = hands_out_codes(action.reply)
    try:
        with transaction.atomic():
            code = _code_give(action=action, phone=contact.phone) if with_code else None
            text = action.fallback_text if with_code and code is None else action.reply
            body = template_render(text, contact_name=contact.name,
                                   contact_phone=contact.phone, contact_fields=contact.fields,
                                   sender=message.to_address,
                                   extra={CODE: code} if code is not None else None)
            message_send(from_address=message.to_address, to=contact.phone, body=body,
                         origin=Message.Origin.SYSTEM,
                         origin_ref=f"reply-action:{action.pk}")
    except DomainError as exc:
        logger.warning("reply action %s to message %s refused: %s %s", action.pk,
                       message.pk, exc.code, exc.detail)
