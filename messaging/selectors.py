"""Reads of the messaging domain, shared by the API, the UI and commands."""

from __future__ import annotations

import csv
import logging
import re
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Cast, Coalesce, Collate, Reverse
from django.utils import timezone

from accounts.models import User
from messaging.canned import canned_response_render
from messaging.models import (
    UNSENT,
    CannedResponse,
    Contact,
    Conversation,
    ConversationActivity,
    ConversationNote,
    KeywordRule,
    Message,
    Sender,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveySession,
)
from messaging.outbound import OPTOUT_CONFIRMATION
from optout.models import ConsentEvent
from optout.selectors import consent_history, optout_blocks_exists, optout_senders_array
from tenants.models import ProviderConnection

logger = logging.getLogger(__name__)


def message_list(*, direction: str | None = None, status: str | None = None,
                 contact: str | None = None, conversation: int | None = None,
                 campaign: int | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> QuerySet[Message]:
    messages = Message.objects.all()
    if direction:
        messages = messages.filter(direction=direction)
    if status:
        messages = messages.filter(status=status)
    if contact:
        # By address, not by the contact row: an inbound message gets its contact only
        # once processed.
        messages = messages.filter(
            Q(direction=Message.Direction.INBOUND, from_address=contact)
            | Q(direction=Message.Direction.OUTBOUND, to_address=contact)
        )
    if conversation:
        messages = messages.filter(conversation_id=conversation)
    if campaign:
        messages = messages.filter(campaign_id=campaign)
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    return messages.order_by("-id")


def conversation_list(*, status: str | None = None, assignee_email: str | None = None,
                      unassigned: bool = False, contact: str | None = None,
                      sender: str | None = None) -> QuerySet[Conversation]:
    """Conversations with their contact, sender and assignee, and whether the contact has
    opted out of that sender (or of every sender): a reply would be refused."""
    conversations = Conversation.objects.select_related("contact", "sender", "assignee")
    if status:
        conversations = conversations.filter(status=status)
    if unassigned:
        conversations = conversations.filter(assignee__isnull=True)
    elif assignee_email:
        conversations = conversations.filter(assignee__email__iexact=assignee_email)
    if contact:
        conversations = conversations.filter(contact__phone=contact)
    if sender:
        conversations = conversations.filter(sender__address=sender)
    return conversations.annotate(contact_opted_out=optout_blocks_exists(
        phone=OuterRef("contact__phone"), sender_address=OuterRef("sender__address")))


class ActivityPosition(NamedTuple):
    """Where a page of conversations by activity ends: the conversation ``id`` whose
    activity stood at ``activity`` at the moment ``as_of`` of the first page."""

    as_of: datetime
    activity: datetime
    id: int


def conversation_page_by_activity(*, conversations: QuerySet[Conversation], as_of: datetime,
                                  after: ActivityPosition | None, limit: int
                                  ) -> list[Conversation]:
    """Up to ``limit`` of ``conversations`` after ``after``, most recent activity first, in
    the order they stood at ``as_of``; each carries that activity as ``activity_as_of``.

    Most rows have not moved since ``as_of`` and sort on ``last_activity_at`` itself. The
    few whose activity moved past it are placed where they stood: ``last_activity_at`` is
    only ever set together with a message's ``processed_at`` (inbound) or ``queued_at``
    (outbound), so their latest such time up to ``as_of`` is the activity they had then
    (the conversation's creation if no message is left). Conversations created after
    ``as_of`` are not part of that moment. Changes committing within moments of ``as_of``
    may still be seen on either side of it: the cursor is not a database snapshot.
    """
    existing = conversations.filter(created_at__lte=as_of)
    activity_then = (Message.objects.filter(conversation=OuterRef("pk"))
                     .annotate(activity=Coalesce("processed_at", "queued_at"))
                     .filter(activity__lte=as_of).order_by()
                     .values("conversation").annotate(latest=Max("activity")).values("latest"))
    unmoved = existing.filter(last_activity_at__lte=as_of).annotate(
        activity_as_of=F("last_activity_at"))
    moved = existing.filter(last_activity_at__gt=as_of).annotate(
        activity_as_of=Coalesce(Subquery(activity_then), F("created_at")))
    pages = []
    for rows in (unmoved, moved):
        if after is not None:
            rows = rows.filter(Q(activity_as_of__lt=after.activity)
                               | Q(activity_as_of=after.activity, pk__lt=after.id))
        pages.extend(rows.order_by("-activity_as_of", "-pk")[:limit])
    pages.sort(key=lambda row: (row.activity_as_of, row.pk), reverse=True)
    return pages[:limit]


INBOX_FOLDERS = {"open": "All open", "mine": "Mine", "unassigned": "Unassigned",
                 "resolved": "Resolved"}


def message_text_matches(text: str) -> Q | None:
    """Messages of a conversation whose body has every word of ``text``, each as a prefix
    ("deliv" finds "delivery"); None when ``text`` has no word. Filter a queryset annotated
    with ``search_vector=SearchVector("body", config="simple")``: the expression of the GIN
    index ``message_body_search``, which the query then uses (it holds only messages of a
    conversation and has left, if it is outbound)."""
    query = words_prefix_query(text)
    return None if query is None else (Q(search_vector=query, conversation__isnull=False)
                                       & ~Q(status__in=UNSENT))


def words_prefix_query(text: str) -> SearchQuery | None:
    """A full-text query ('simple' configuration) for every word of ``text`` as a prefix;
    None when ``text`` has no word."""
    words = re.findall(r"\w+", text)
    if not words:
        return None
    # Only word characters reach the raw query: nothing the user types is tsquery syntax.
    return SearchQuery(" & ".join(f"{word}:*" for word in words), config="simple",
                       search_type="raw")


# A search first collects, through their indexes, up to this many matching contacts and
# messages. Rare words stop there: the page is read from those candidates. A search
# matching more is one the folder is dense with, and walking the folder in activity order
# fills a page within a few rows (testing each row costs one index probe per message of
# its conversation, which over a rare word would mean every row of the folder).
SEARCH_CANDIDATES = 5000


def _search_matches(search: str) -> Q:
    """Conversations whose contact's name has ``search`` (any case), whose number has its
    digits, or with a message having its words (``message_text_matches``)."""
    contact_matches = Q(name__icontains=search)
    digits = re.sub(r"\D", "", search)
    if digits:
        contact_matches |= Q(phone__contains=digits)
    text = message_text_matches(search)
    text_messages = (Message.objects.annotate(search_vector=SearchVector("body", config="simple"))
                     .filter(text) if text is not None else Message.objects.none())
    # Unordered: whichever rows the index finds first, as long as they are all there.
    contact_ids = list(Contact.objects.filter(contact_matches).order_by()
                       .values_list("pk", flat=True)[:SEARCH_CANDIDATES + 1])
    conversation_ids = list(text_messages.order_by()
                            .values_list("conversation_id", flat=True)[:SEARCH_CANDIDATES + 1])
    if len(contact_ids) <= SEARCH_CANDIDATES and len(conversation_ids) <= SEARCH_CANDIDATES:
        return Q(contact_id__in=contact_ids) | Q(pk__in=set(conversation_ids))
    # Tested on each row as the walk reaches it: the contact through the join, the
    # messages through a correlated EXISTS the planner runs per row (a subquery on
    # contacts would make it hash every match first).
    walk = Q(contact__name__icontains=search)
    if digits:
        walk |= Q(contact__phone__contains=digits)
    return walk | Q(Exists(text_messages.filter(conversation=OuterRef("pk"))))


def inbox_conversation_list(*, folder: str, user: User, search: str = "", label: str = ""
                            ) -> QuerySet[Conversation]:
    """A folder of the inbox (``INBOX_FOLDERS``), most recent activity first, each row with
    its last message (``last_body``, ``last_direction``) and the contact's opt-out state.

    ``search`` matches the contact's name (any part, any case), the number's digits, or the
    words of any message of the conversation (full-text). ``label`` keeps the conversations
    whose contact has that tag."""
    status = (Conversation.Status.RESOLVED if folder == "resolved"
              else Conversation.Status.OPEN)
    conversations = conversation_list(status=status)
    if folder == "mine":
        conversations = conversations.filter(assignee=user)
    elif folder == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    if label:
        conversations = conversations.filter(contact__tags__contains=[label])
    search = search.strip()
    if search:
        conversations = conversations.filter(_search_matches(search))
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    return conversations.annotate(
        last_body=Subquery(latest.values("body")[:1]),
        last_direction=Subquery(latest.values("direction")[:1]),
    ).order_by("-last_activity_at", "-pk")


def inbox_folder_counts(*, user: User) -> dict[str, int]:
    """Per folder, how many conversations have unread messages: the folder badges (and
    ``open_messages``, how many unread messages the open ones hold). Every
    inbox page and live refresh asks, so only the unread conversations are read (through
    the ``conversation_unread`` partial index), not the tenant's every conversation."""
    is_open = Q(status=Conversation.Status.OPEN)
    return Conversation.objects.filter(unread_count__gt=0).aggregate(
        open=Count("pk", filter=is_open),
        # The unread messages of those: the page's alert sounds when it grows.
        open_messages=Coalesce(Sum("unread_count", filter=is_open), 0),
        mine=Count("pk", filter=is_open & Q(assignee=user)),
        unassigned=Count("pk", filter=is_open & Q(assignee__isnull=True)),
        resolved=Count("pk", filter=Q(status=Conversation.Status.RESOLVED)),
    )


class ThreadNotice(NamedTuple):
    """Something an app above messaging tells staff in a thread, in words (the business's
    own app did not answer a message, say); ``problem`` shows it as one."""

    text: str
    at: datetime
    problem: bool = False


class ThreadItem(NamedTuple):
    # "message", "note", "activity" (assigned, resolved...), "consent" (opted out or
    # in), "survey" (a survey started) or "notice" (from a thread source)
    kind: str
    item: (Message | ConversationNote | ConversationActivity | ConsentEvent | SurveySession
           | ThreadNotice)
    at: datetime


THREAD_LIMIT = 200


class ThreadSource(Protocol):
    def __call__(self, *, conversation: Conversation, since: datetime,
                 limit: int) -> list[ThreadNotice]:
        """At most ``limit`` notices about ``conversation`` from ``since`` on."""


_thread_sources: list[ThreadSource] = []


def thread_source_install(source: ThreadSource) -> None:
    """Let an app above messaging place its notices in conversation threads."""
    _thread_sources.append(source)


def conversation_thread(*, conversation: Conversation, limit: int = THREAD_LIMIT
                        ) -> list[ThreadItem]:
    """The last ``limit`` messages, oldest first, with what else happened since the first
    of them placed in time among them: private notes, assignments and status changes, the
    contact's consent changes that apply to this sender, surveys started, and the notices
    of the installed thread sources."""
    messages = list(conversation.messages.select_related("author").order_by("-id")[:limit])
    # Before the conversation began, nothing of it is shown (a consent change then is in
    # the contact panel's history).
    since = messages[-1].created_at if len(messages) == limit else conversation.created_at
    others: list[tuple[str, QuerySet, str]] = [
        ("note", conversation.notes.select_related("author"), "created_at"),
        ("activity", conversation.activities.select_related("actor", "assignee"),
         "created_at"),
        ("consent", ConsentEvent.objects.filter(
            Q(sender_address="") | Q(sender_address=conversation.sender.address),
            phone=conversation.contact.phone).select_related("actor"), "created_at"),
        ("survey", conversation.survey_sessions.select_related("survey"), "started_at"),
    ]
    items = [ThreadItem("message", m, m.created_at) for m in messages]
    for kind, rows, field in others:
        rows = rows.filter(**{f"{field}__gte": since})
        items.extend(ThreadItem(kind, row, getattr(row, field))
                     for row in rows.order_by("-id")[:limit])
    for source in _thread_sources:
        items.extend(ThreadItem("notice", notice, notice.at)
                     for notice in source(conversation=conversation, since=since, limit=limit))
    # At the same moment an event comes first: a survey starts with its first question.
    return sorted(items, key=lambda entry: (entry.at, entry.kind == "message"))


def contact_other_conversations(*, conversation: Conversation, limit: int = 20
                                ) -> QuerySet[Conversation]:
    """The contact's conversations with the tenant's other numbers, most recent first: a
    conversation is one contact and one sender, so these are the contact's history."""
    return (Conversation.objects.filter(contact_id=conversation.contact_id)
            .exclude(pk=conversation.pk).select_related("sender")
            .order_by("-last_activity_at", "-pk")[:limit])


def contact_consent_history(*, contact: Contact, limit: int = 20) -> list[ConsentEvent]:
    return list(consent_history(phone=contact.phone).order_by("-created_at", "-id")[:limit])


def note_list(*, conversation: Conversation) -> QuerySet[ConversationNote]:
    return conversation.notes.select_related("author").order_by("-id")


def contact_list(*, phone: str | None = None, tag: str | None = None,
                 search: str | None = None) -> QuerySet[Contact]:
    """Contacts with their opt-out state: ``opted_out`` (from every sender) and
    ``opted_out_senders`` (the senders they stopped one by one).

    ``search`` matches part of the name (any case) or of the number's digits."""
    contacts = Contact.objects.all()
    if phone:
        contacts = contacts.filter(phone=phone)
    if tag:
        contacts = contacts.filter(tags__contains=[tag])
    if search:
        matches = Q(name__icontains=search)
        digits = re.sub(r"\D", "", search)
        if digits:
            # "415 555" finds +14155550199: numbers are stored as E.164, digits only.
            matches |= Q(phone__contains=digits)
        contacts = contacts.filter(matches)
    return contacts.annotate(
        opted_out=optout_blocks_exists(phone=OuterRef("phone")),
        opted_out_senders=optout_senders_array(phone=OuterRef("phone")),
    ).order_by("-id")


LETTER = re.compile(r"[^\W\d_]")


def contact_matches(search: str) -> Q | None:
    """Contacts whose name has every word of ``search`` as a word's start ("ada love" finds
    Ada Lovelace; only when it has a letter), or whose number starts with its digits
    (``+1 415``) or ends with them (``0199``, ``(415) 555-0199``); None when ``search`` has
    neither.

    Filter a queryset annotated by ``contact_search_annotate``: each test is the expression
    of one of the contact indexes (``contact_name_search``, the number's ``_like`` index,
    ``contact_phone_suffix``), so PostgreSQL reads the matches through them. Digits alone
    are not looked for in names: the planner cannot tell that a number matches no name's
    word, and would walk the table instead."""
    matches = None
    words = words_prefix_query(search) if LETTER.search(search) else None
    if words is not None:
        matches = Q(name_vector=words)
    digits = re.sub(r"\D", "", search)
    if digits:
        number = Q(phone__startswith="+" + digits) | Q(phone_reversed__startswith=digits[::-1])
        matches = number if matches is None else matches | number
    return matches


def contact_search_annotate(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    # The expressions of the indexes, exactly.
    return contacts.annotate(name_vector=SearchVector("name", config="simple"),
                             phone_reversed=Collate(Reverse("phone"), "C"))


# The contacts page's page size.
CONTACTS_PAGE = 50


class ContactPage(NamedTuple):
    """A page of contacts, newest first, and the ids to page from: ``newer`` (the first
    row's, for the page before) and ``older`` (the last row's, for the page after), None
    where there is nothing more that way."""

    contacts: list[Contact]
    newer: int | None
    older: int | None


def contact_directory_page(*, search: str = "", tag: str = "", before: int | None = None,
                           after: int | None = None, limit: int = CONTACTS_PAGE
                           ) -> ContactPage:
    """The contacts page: contacts matching ``search`` (``contact_matches``) and ``tag``,
    newest first, ``limit`` at a time from ``before`` (older than that id) or ``after``
    (newer than it). Keyset pages walk the primary key (or the matching index entries), so
    the thousandth page costs what the first does; each row carries its opt-out state
    (``opted_out``, ``opted_out_senders``), ``conversation_count`` and
    ``last_activity_at``."""
    matching = contact_search_annotate(Contact.objects.all())
    if tag:
        matching = matching.filter(tags__contains=[tag])
    matches = contact_matches(search) if search.strip() else None
    if matches is not None:
        matching = matching.filter(matches)
    conversations = Conversation.objects.filter(contact=OuterRef("pk")).order_by().values(
        "contact")
    rows = matching.annotate(
        opted_out=optout_blocks_exists(phone=OuterRef("phone")),
        opted_out_senders=optout_senders_array(phone=OuterRef("phone")),
        conversation_count=Coalesce(Subquery(conversations.annotate(
            count=Count("pk")).values("count")), 0),
        last_activity_at=Subquery(conversations.annotate(
            latest=Max("last_activity_at")).values("latest")),
    )
    if after is not None:
        page = list(rows.filter(pk__gt=after).order_by("pk")[:limit + 1])
        more_newer = len(page) > limit
        page = page[:limit][::-1]
    else:
        if before is not None:
            rows = rows.filter(pk__lt=before)
        page = list(rows.order_by("-pk")[:limit + 1])
        more_newer = before is not None and matching.filter(pk__gte=before).exists()
    more_older = (len(page) > limit if after is None
                  else bool(page) and matching.filter(pk__lt=page[-1].pk).exists())
    page = page[:limit]
    return ContactPage(contacts=page,
                       newer=page[0].pk if page and more_newer else None,
                       older=page[-1].pk if page and more_older else None)


def contact_detail(*, contact_id: int) -> Contact | None:
    """One contact with its opt-out state (as ``contact_list`` gives it), or None."""
    return contact_list().filter(pk=contact_id).first()


def contact_conversations(*, contact: Contact, limit: int = 50) -> list[Conversation]:
    """The contact's conversations, one per sender, most recent activity first, each with
    its last message (``last_body``, ``last_direction``)."""
    latest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    return list(Conversation.objects.filter(contact=contact)
                .select_related("sender", "assignee")
                .annotate(last_body=Subquery(latest.values("body")[:1]),
                          last_direction=Subquery(latest.values("direction")[:1]))
                .order_by("-last_activity_at", "-pk")[:limit])


def contact_suggestions(*, search: str, limit: int = 8) -> list[Contact]:
    """Contacts for the "New message" form's *To* box, newest first."""
    matches = contact_matches(search)
    if matches is None:
        return []
    return list(contact_search_annotate(Contact.objects.all()).filter(matches)
                .order_by("-pk")[:limit])


def contacts_named(*, name: str, limit: int = 10) -> list[Contact]:
    """Contacts whose whole name is ``name`` (any case): whom a name typed as the
    recipient means."""
    words = words_prefix_query(name)
    if words is None:
        return []
    # The name index narrows the rows; the comparison keeps the whole names.
    return list(contact_search_annotate(Contact.objects.all())
                .filter(name_vector=words, name__iexact=name.strip()).order_by("-pk")[:limit])


def sender_approved_list() -> QuerySet[Sender]:
    """The senders that may send now: the "New message" form's choices."""
    return Sender.objects.filter(status=Sender.Status.APPROVED).order_by("address")


def simulator_sender_list() -> QuerySet[Sender]:
    """The current tenant's approved senders on the simulator connection: the numbers a
    simulated customer can text."""
    return Sender.objects.filter(connection=ProviderConnection.SIMULATOR_NAME,
                                 status=Sender.Status.APPROVED).order_by("address")


def simulator_thread(*, sender: Sender, phone: str, limit: int = 50) -> list[Message]:
    """The last ``limit`` messages between ``phone`` and ``sender``, oldest first.

    By address rather than by conversation: an inbound message has no conversation until
    it is processed, and the simulator shows it at once.
    """
    latest = (Message.objects.filter(sender=sender)
              .filter(Q(direction=Message.Direction.INBOUND, from_address=phone)
                      | Q(direction=Message.Direction.OUTBOUND, to_address=phone))
              .order_by("-id")[:limit])
    return list(reversed(latest))


# Origins of automatic replies: what loop protection counts.
AUTOMATIC = [Message.Origin.RULE, Message.Origin.SURVEY, Message.Origin.SYSTEM]


def auto_replies_left(*, phone: str) -> bool:
    """Whether ``phone`` may get another automatic reply this hour (loop protection).

    Read through the customer's conversations (every outbound message has one): by
    address, the last hour's messages were scanned, and during a campaign that is a
    hundred thousand rows for each keyword the customers text."""
    since = timezone.now() - timedelta(hours=1)
    sent = (Message.objects.filter(conversation__contact__phone=phone,
                                   direction=Message.Direction.OUTBOUND,
                                   origin__in=AUTOMATIC, created_at__gte=since)
            .exclude(origin_ref=OPTOUT_CONFIRMATION).count())
    if sent >= settings.AUTO_REPLY_LIMIT_PER_HOUR:
        logger.info("automatic replies paused: %d in the last hour", sent)
        return False
    return True


def canned_response_list() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.order_by("shortcode")


def composer_canned_responses(*, conversation: Conversation) -> list[dict[str, str]]:
    """Every canned response as the composer of ``conversation`` would insert it, by
    shortcode: the page hands the list to its script, so picking one needs no request."""
    return [{"shortcode": canned.shortcode,
             "body": canned_response_render(canned=canned, conversation=conversation)}
            for canned in canned_response_list()]


def survey_list() -> QuerySet[Survey]:
    """Surveys, newest first, with their numbers of questions, sessions and completions."""
    return Survey.objects.annotate(
        question_count=Count("questions", distinct=True),
        session_count=Count("sessions", distinct=True),
        completed_count=Count("sessions", distinct=True,
                              filter=Q(sessions__status=SurveySession.Status.COMPLETED)),
    ).order_by("-id")


def survey_started(*, survey: Survey) -> bool:
    """Whether anyone has started ``survey``: from then on its questions are fixed
    (``survey_save``), and the builder shows them read-only."""
    return survey.pk is not None and survey.sessions.exists()


class SurveyDeletion(NamedTuple):
    """What deleting a survey takes with it, and the keyword rules that stop it."""

    questions: int
    sessions: int
    in_progress: int
    answers: int
    rules: list[KeywordRule]


def survey_deletion_summary(*, survey: Survey) -> SurveyDeletion:
    """What the confirmation page states before ``survey_delete``, so nobody deletes
    results, or interrupts people answering, without being told."""
    sessions = survey.sessions.aggregate(
        total=Count("id"),
        in_progress=Count("id", filter=Q(status=SurveySession.Status.ACTIVE)))
    return SurveyDeletion(
        questions=survey.questions.count(), sessions=sessions["total"],
        in_progress=sessions["in_progress"],
        answers=SurveyAnswer.objects.filter(session__survey=survey).count(),
        rules=list(survey.keyword_rules.order_by("priority", "id")))


def conversations_surveying(*, conversation_ids: set[int]) -> set[int]:
    """Those of the conversations with an active survey session, expired or not."""
    return set(SurveySession.objects.filter(conversation_id__in=conversation_ids,
                                            status=SurveySession.Status.ACTIVE)
               .values_list("conversation_id", flat=True))


def survey_session_active(*, conversation: Conversation, at: datetime) -> SurveySession | None:
    """The session the contact's next message in ``conversation`` answers: active and not
    idle past its survey's expiry at ``at`` (whether or not the expiry sweep has run)."""
    session = (SurveySession.objects
               .select_related("survey", "current_question", "contact", "conversation__sender")
               .filter(conversation=conversation, status=SurveySession.Status.ACTIVE).first())
    if session is None:
        return None
    if session.last_activity_at < at - timedelta(minutes=session.survey.expire_after_minutes):
        return None
    return session


def survey_results(*, survey: Survey) -> dict[str, Any]:
    """Sessions by status, and per question (in order) how many answered and what: counts
    per value for choice and yes/no questions (every option, zeros included), min, max and
    mean for number questions, the count alone for text questions."""
    by_status = dict(survey.sessions.order_by().values_list("status")
                     .annotate(count=Count("id")))
    sessions = {status: by_status.get(status, 0) for status in SurveySession.Status.values}
    questions = []
    for question in survey.questions.order_by("position"):
        answers = question.answers.order_by()
        result: dict[str, Any] = {"position": question.position, "kind": question.kind,
                                  "text": question.text}
        if question.kind == SurveyQuestion.Kind.NUMBER:
            number = Cast("value", FloatField())
            result.update(answers.aggregate(answers=Count("id"), min=Min(number),
                                            max=Max(number), mean=Avg(number)))
        else:
            result["answers"] = answers.count()
        if question.answer_values():
            counts = dict(answers.values_list("value").annotate(count=Count("id")))
            result["counts"] = {value: counts.get(value, 0)
                                for value in question.answer_values()}
        questions.append(result)
    return {"survey": survey.pk, "sessions": {"total": sum(sessions.values()), **sessions},
            "questions": questions}


# Bars per chart on the results page: beyond this many distinct numbers, ranges.
MAX_BARS = 10
LATEST_TEXT_ANSWERS = 20


def _bars(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    total = sum(count for _, count in pairs)
    return [{"label": label, "count": count,
             "percent": round(100 * count / total) if total else 0} for label, count in pairs]


def _number_pairs(question: SurveyQuestion) -> list[tuple[str, int]]:
    counts = sorted(((float(value), value, count) for value, count in
                     question.answers.order_by().values_list("value").annotate(count=Count("id"))))
    if len(counts) <= MAX_BARS:
        return [(label, count) for _, label, count in counts]
    low, width = counts[0][0], (counts[-1][0] - counts[0][0]) / MAX_BARS
    buckets = [0] * MAX_BARS
    for value, _, count in counts:
        buckets[min(int((value - low) / width), MAX_BARS - 1)] += count
    return [(f"{low + index * width:g} to {low + (index + 1) * width:g}", count)
            for index, count in enumerate(buckets)]


def survey_report(*, survey: Survey) -> dict[str, Any]:
    """``survey_results`` plus what the results page draws: bars per question (per value;
    numbers per value, or in ranges when there are many) and the latest text answers."""
    report = survey_results(survey=survey)
    questions = {q.position: q for q in survey.questions.all()}
    for result in report["questions"]:
        question = questions[result["position"]]
        if "counts" in result:
            result["bars"] = _bars(list(result["counts"].items()))
        elif question.kind == SurveyQuestion.Kind.NUMBER:
            result["bars"] = _bars(_number_pairs(question))
        else:
            result["latest"] = list(question.answers.order_by("-id")
                                    .values_list("value", flat=True)[:LATEST_TEXT_ANSWERS])
    return report


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


# A spreadsheet runs a cell starting with one of these as a formula; answers are typed by
# anyone with a phone.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    if text.startswith(FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def survey_csv_write(*, survey: Survey, out: Writable) -> None:
    """One row per session, oldest first: phone, status, started_at, then the answer to
    each question (blank when not asked or not answered). Cells that a spreadsheet would
    run as formulas are quoted with a leading apostrophe."""
    questions = list(survey.questions.order_by("position"))
    writer = csv.writer(out)
    writer.writerow(["phone", "status", "started_at",
                     *(_cell(f"Q{q.position}: {q.text}") for q in questions)])
    sessions = (survey.sessions.select_related("contact").order_by("started_at", "id")
                .prefetch_related("answers"))
    for session in sessions.iterator(chunk_size=500):
        answers = {answer.question_id: answer.value for answer in session.answers.all()}
        writer.writerow([session.contact.phone, session.status,
                         session.started_at.isoformat(),
                         *(_cell(answers.get(q.pk, "")) for q in questions)])


# A customer's text answers a campaign when the campaign's message left for them at most
# this long before (docs/ARCHITECTURE.md#campaign-replies).
CAMPAIGN_REPLY_WINDOW = timedelta(hours=72)


def _campaign_messages_before(*, contact_id: int, at: datetime) -> QuerySet[Message]:
    """Campaign messages that left for the contact within the reply window before ``at``
    (a failed one never reached them; one still waiting has not left)."""
    return (Message.objects.filter(contact_id=contact_id, direction=Message.Direction.OUTBOUND,
                                   campaign_id__isnull=False,
                                   sending_at__gt=at - CAMPAIGN_REPLY_WINDOW,
                                   sending_at__lte=at)
            .exclude(status=Message.Status.FAILED))


def campaigns_answered_by_contact(*, texts: dict[int, datetime]) -> dict[int, int]:
    """For texts sent by contacts (contact id -> when), the campaign each answers: the one
    whose message left for the contact last within the reply window before the text.
    Contacts who answer none are left out. One query, whatever the number of texts."""
    if not texts:
        return {}
    contact_ids, times = zip(*texts.items(), strict=True)
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        # The conditions of ``_campaign_messages_before``, for each text at once.
        cursor.execute(
            f"SELECT DISTINCT ON (t.contact_id) t.contact_id, m.campaign_id "  # noqa: S608
            f"FROM unnest(%s::bigint[], %s::timestamptz[]) AS t(contact_id, at) "
            f"JOIN {table} AS m ON m.contact_id = t.contact_id AND m.direction = %s "
            "AND m.campaign_id IS NOT NULL AND m.status <> %s "
            "AND m.sending_at > t.at - %s AND m.sending_at <= t.at "
            "ORDER BY t.contact_id, m.sending_at DESC",
            [list(contact_ids), list(times), Message.Direction.OUTBOUND, Message.Status.FAILED,
             CAMPAIGN_REPLY_WINDOW])
        return dict(cursor.fetchall())


def campaigns_answered(*, contact_id: int, at: datetime, among: set[int]) -> list[int]:
    """The campaigns of ``among`` whose message left for the contact within the reply
    window before ``at``, the most recent first."""
    return list(_campaign_messages_before(contact_id=contact_id, at=at)
                .filter(campaign_id__in=among).values("campaign_id")
                .annotate(last=Max("sending_at")).order_by("-last")
                .values_list("campaign_id", flat=True))
