"""SMS surveys: saving them (validated), starting them, taking answers, expiring sessions.

A session asks one question at a time in one conversation (one contact, one sender). While
it is active, the contact's messages there are answers: ``message_react`` hands them to
``survey_answer`` after the opt-out keywords and before keyword rules, so STOP still ends
the session and no rule or out-of-office reply interrupts it. Branches only jump forward
and re-asking is bounded, so every session ends: after the last question, at an "end"
branch, at STOP, or when abandoned (``sessions_expire``).

Survey messages go through ``message_send`` (origin ``survey``, origin_ref the survey id),
so opt-out enforcement applies to them as to any other message.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Value
from django.utils import timezone
from django_tenants.utils import schema_context

from core import encoding
from core.errors import DomainError
from core.live import inbox_changed
from core.numbers import small_int
from messaging import error_codes
from messaging.models import (
    Contact,
    Conversation,
    Message,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveySession,
)
from messaging.outbound import MAX_SEGMENTS, message_send
from messaging.selectors import survey_started
from optout.keywords import keyword_normalize
from tenants.models import Tenant

logger = logging.getLogger(__name__)

END = "end"
MAX_QUESTIONS = 50
MAX_CHOICES = 20
MAX_REASK = 5
MAX_EXPIRE_MINUTES = 30 * 24 * 60
YES_WORDS = {"YES", "Y"}
NO_WORDS = {"NO", "N"}
# Longer than any number a person texts as an answer ("7", "-2", "3.5", "3,5").
MAX_NUMBER_LENGTH = 20

Kind = SurveyQuestion.Kind


# --- Texts ---------------------------------------------------------------------------------

def _number_text(number: float | Decimal) -> str:
    """1.0 -> "1", 2.50 -> "2.5": how a person would write it."""
    return format(Decimal(str(number)).normalize(), "f")


def question_prompt(question: SurveyQuestion) -> str:
    """The SMS that asks ``question``: choices are listed with the numbers that answer
    them; a yes/no question says how to answer."""
    if question.kind == Kind.CHOICE:
        options = "\n".join(f"{number}) {choice}"
                            for number, choice in enumerate(question.choices, start=1))
        return f"{question.text}\n{options}"
    if question.kind == Kind.YES_NO:
        return f"{question.text} Reply YES or NO."
    return question.text


def answer_hint(question: SurveyQuestion) -> str:
    """What was wrong with an invalid answer, sent before the question again."""
    if question.kind == Kind.CHOICE:
        return (f"Sorry, please reply with a number from 1 to {len(question.choices)} "
                "or one of the options.")
    if question.kind == Kind.YES_NO:
        return "Sorry, please reply YES or NO."
    if question.kind == Kind.NUMBER:
        low, high = question.min_value, question.max_value
        if low is not None and high is not None:
            return (f"Sorry, please reply with a number from {_number_text(low)} to "
                    f"{_number_text(high)}.")
        if low is not None:
            return f"Sorry, please reply with a number of at least {_number_text(low)}."
        if high is not None:
            return f"Sorry, please reply with a number of at most {_number_text(high)}."
        return "Sorry, please reply with a number."
    return "Sorry, please reply with a few words."


def answer_parse(*, question: SurveyQuestion, text: str) -> str | None:
    """The value ``text`` gives as an answer to ``question``, or None when it is not one.

    Choices match by number ("2", "2)") or by text, ignoring case, spacing and trailing
    punctuation, and give the choice as written by the tenant; yes/no accepts yes, y, no,
    n and gives "yes" or "no"; numbers must lie within the bounds; free text is anything
    but blank.
    """
    body = " ".join((text or "").split())
    if question.kind == Kind.TEXT:
        return body or None
    word = keyword_normalize(body)
    if question.kind == Kind.CHOICE:
        number = small_int(word)
        if number is not None and 1 <= number <= len(question.choices):
            return question.choices[number - 1]
        return next((choice for choice in question.choices
                     if keyword_normalize(choice) == word), None)
    if question.kind == Kind.YES_NO:
        return "yes" if word in YES_WORDS else "no" if word in NO_WORDS else None
    if not word or len(word) > MAX_NUMBER_LENGTH or not word.isascii():
        return None
    try:
        number = Decimal(word.replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if question.min_value is not None and number < Decimal(str(question.min_value)):
        return None
    if question.max_value is not None and number > Decimal(str(question.max_value)):
        return None
    return _number_text(number)


# --- Saving --------------------------------------------------------------------------------

def _segments(text: str) -> int:
    return encoding.analyse(text).segments


def _question_clean(data: dict, *, position: int, count: int) -> SurveyQuestion:
    """An unsaved question from API-shaped data, or ``invalid_question`` /
    ``invalid_branch`` naming the field (``questions.<index>.<name>``)."""
    prefix = f"questions.{position - 1}"

    def refuse(detail: str, name: str, code: str = error_codes.INVALID_QUESTION):
        return DomainError(code, f"Question {position}: {detail}", f"{prefix}.{name}")

    kind = data.get("kind")
    if kind not in Kind.values:
        raise refuse(f"kind is one of {', '.join(Kind.values)}.", "kind")
    text = str(data.get("text") or "").strip()
    if not text:
        raise refuse("write the question.", "text")
    choices = [" ".join(str(choice).split()) for choice in data.get("choices") or []]
    low, high = data.get("min_value"), data.get("max_value")
    if kind == Kind.CHOICE:
        if not 2 <= len(choices) <= MAX_CHOICES:
            raise refuse(f"give 2 to {MAX_CHOICES} choices.", "choices")
        seen: set[str] = set()
        for number, choice in enumerate(choices, start=1):
            word = keyword_normalize(choice)
            if not word:
                raise refuse("every choice needs letters or digits.", "choices")
            if word in seen:
                raise refuse(f"{choice!r} is listed twice.", "choices")
            read = small_int(word)
            if read is not None and read != number and 1 <= read <= len(choices):
                raise refuse(f"{choice!r} would read as choice number {word}.", "choices")
            seen.add(word)
    elif choices:
        raise refuse("only choice questions have choices.", "choices")
    if kind == Kind.NUMBER:
        for name, bound in (("min_value", low), ("max_value", high)):
            if bound is not None and not math.isfinite(bound):
                raise refuse("bounds are finite numbers.", name)
        if low is not None and high is not None and low > high:
            raise refuse("the lowest answer (min_value) is above the highest (max_value).",
                         "min_value")
    elif low is not None or high is not None:
        raise refuse("only number questions have bounds.", "min_value")
    question = SurveyQuestion(position=position, kind=kind, text=text, choices=choices,
                              min_value=low, max_value=high)
    question.branching = _branching_clean(question, data.get("branching") or {}, count=count,
                                          refuse=refuse)
    if _segments(f"{answer_hint(question)}\n{question_prompt(question)}") > MAX_SEGMENTS:
        raise refuse(f"asked again with its hint, it needs more than {MAX_SEGMENTS} "
                     "segments; shorten it.", "text")
    return question


def _branching_clean(question: SurveyQuestion, branching, *, count: int,
                     refuse) -> dict[str, int | str]:
    """Branches keyed by answer value as the question gives it; they lead forward only,
    so a survey cannot loop."""
    if not branching:
        return {}
    if not isinstance(branching, dict):
        raise refuse('map answers to positions, e.g. {"no": 4}.', "branching",
                     error_codes.INVALID_BRANCH)
    values = {keyword_normalize(value): value for value in question.answer_values()}
    if not values:
        raise refuse("only choice and yes/no questions branch.", "branching",
                     error_codes.INVALID_BRANCH)
    cleaned: dict[str, int | str] = {}
    for answer, target in branching.items():
        value = values.get(keyword_normalize(str(answer)))
        if value is None:
            raise refuse(f"{answer!r} is not one of its answers "
                         f"({', '.join(values.values())}).", "branching",
                         error_codes.INVALID_BRANCH)
        valid_target = target == END or (
            isinstance(target, int) and not isinstance(target, bool)
            and question.position < target <= count)
        if not valid_target:
            raise refuse(f"{answer!r} leads to {target!r}: give a later question's position "
                         f'or "{END}".', "branching", error_codes.INVALID_BRANCH)
        cleaned[value] = target
    return cleaned


def _definition(questions: list[SurveyQuestion]) -> list[tuple]:
    return [(q.kind, q.text, list(q.choices), q.min_value, q.max_value, dict(q.branching))
            for q in questions]


def _survey_check(survey: Survey, questions: list[SurveyQuestion]) -> None:
    survey.name = survey.name.strip()
    if not survey.name:
        raise DomainError(error_codes.INVALID_SURVEY, "Name the survey.", "name")
    if not 0 <= survey.max_reask <= MAX_REASK:
        raise DomainError(error_codes.INVALID_SURVEY,
                             f"Ask an invalid answer again 0 to {MAX_REASK} times.",
                             "max_reask")
    if not 1 <= survey.expire_after_minutes <= MAX_EXPIRE_MINUTES:
        raise DomainError(error_codes.INVALID_SURVEY,
                             f"Sessions expire after 1 to {MAX_EXPIRE_MINUTES} minutes "
                             "(30 days).", "expire_after_minutes")
    first = "\n\n".join(part for part in (survey.intro.strip(), question_prompt(questions[0]))
                        if part)
    if _segments(first) > MAX_SEGMENTS:
        raise DomainError(error_codes.INVALID_SURVEY,
                             f"The intro and the first question need more than {MAX_SEGMENTS} "
                             "segments; shorten them.", "intro")
    if _segments(survey.closing_message) > MAX_SEGMENTS:
        raise DomainError(error_codes.INVALID_SURVEY,
                             f"The closing message needs more than {MAX_SEGMENTS} segments.",
                             "closing_message")


def survey_save(*, survey: Survey | None = None, questions: list[dict] | None = None,
                **fields) -> Survey:
    """Create a survey, or change ``survey``: only the given fields change.

    ``questions`` (dicts with ``kind``, ``text``, ``choices``, ``min_value``,
    ``max_value``, ``branching``, in the order asked) replace the current ones. Once anyone
    has started the survey its questions are fixed (``survey_locked``), so every session
    in its results answered the same questions; its texts, activity and limits can still
    change. Everything is checked before anything is written.
    """
    survey = survey or Survey()
    for name, value in fields.items():
        setattr(survey, name, value)
    if questions is None and survey.pk is None:
        raise DomainError(error_codes.INVALID_QUESTION, "A survey needs questions.",
                             "questions")
    current = list(survey.questions.all()) if survey.pk else []
    cleaned = current
    if questions is not None:
        if not 1 <= len(questions) <= MAX_QUESTIONS:
            raise DomainError(error_codes.INVALID_QUESTION,
                                 f"A survey has 1 to {MAX_QUESTIONS} questions.", "questions")
        cleaned = [_question_clean(data, position=position, count=len(questions))
                   for position, data in enumerate(questions, start=1)]
    changed = _definition(cleaned) != _definition(current)
    with transaction.atomic():
        # Saving a survey deleted meanwhile would insert it again, without its questions.
        if survey.pk is not None and not _survey_lock(survey, shared=not changed):
            raise DomainError(error_codes.SURVEY_DELETED,
                                 f"{survey.name} was deleted; it was not saved.")
        # Checked under the exclusive lock: a start committing meanwhile would otherwise
        # lose its session with the questions it answers.
        if changed and current and survey_started(survey=survey):
            raise DomainError(
                error_codes.SURVEY_LOCKED, "People have started this survey, so its "
                "questions can no longer change; create a new survey to ask different "
                "ones.", "questions")
        _survey_check(survey, cleaned)
        survey.save()
        if changed:
            survey.questions.all().delete()
            for question in cleaned:
                question.survey = survey
            SurveyQuestion.objects.bulk_create(cleaned)
    return survey


def _survey_lock(survey: Survey, *, shared: bool) -> bool:
    """Lock the survey's row until the transaction ends: shared by starts (they do not
    wait for each other), exclusive for a change of its questions or its deletion (it
    waits for starts in progress, and they for it). False if the row is gone: deleted
    while we waited."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM messaging_survey WHERE id = %s FOR KEY SHARE" if shared
                       else "SELECT 1 FROM messaging_survey WHERE id = %s FOR UPDATE",
                       [survey.pk])
        return cursor.fetchone() is not None


def survey_delete(*, survey: Survey) -> None:
    """Delete a survey with its questions, sessions and answers.

    Refused while a keyword rule starts it (``survey_in_use``), since the rule would
    silently lose its action; checked under the survey's row lock, so a rule naming it
    meanwhile cannot commit. Sessions in progress end with it: their contacts are asked
    nothing more, and their next messages go to keyword rules and the inbox like any
    other. The survey's lock waits for starts in progress and holds off new ones; locking
    those sessions' conversations waits for an answer being processed
    (``message_process`` holds its conversation), so no answer is written to a session
    being deleted, and the next message finds none.
    """
    with transaction.atomic():
        if not _survey_lock(survey, shared=False):
            return  # deleted meanwhile: nothing left to do
        keywords = list(survey.keyword_rules.values_list("keyword", flat=True))
        if keywords:
            raise DomainError(error_codes.SURVEY_IN_USE,
                                 f"Keyword rules start this survey ({', '.join(keywords)}); "
                                 "change them first.")
        in_progress = survey.sessions.filter(status=SurveySession.Status.ACTIVE)
        list(Conversation.objects.select_for_update().order_by("pk")  # evaluated to lock
             .filter(pk__in=in_progress.values("conversation_id")).values_list("pk"))
        started = survey.sessions.exists()
        survey.delete()
        if started:
            inbox_changed()  # the threads showed "survey started" for its sessions


# --- Sessions ------------------------------------------------------------------------------

def do_survey_start(*, survey: Survey, phone: str, sender_address: str) -> SurveySession:
    """Ask ``phone`` the first question (after the intro) from ``sender_address``.

    Refused with nothing written for an inactive survey (``survey_inactive``), one deleted
    while the start waited for its lock (``survey_deleted``), and wherever
    ``message_send`` refuses, an opted-out contact included (``recipient_opted_out``). A
    session the contact left unfinished on that sender ends as expired: it was abandoned,
    and a reply can answer one survey only.
    """
    if not survey.active:
        raise DomainError(error_codes.SURVEY_INACTIVE,
                             f"{survey.name} is inactive; activate it to start it.", "survey")
    with transaction.atomic():
        if not _survey_lock(survey, shared=True):
            raise DomainError(error_codes.SURVEY_DELETED,
                                 f"{survey.name} was deleted; nothing was sent.", "survey")
        first = survey.questions.get(position=1)
        body = "\n\n".join(part for part in (survey.intro.strip(), question_prompt(first))
                           if part)
        message = message_send(from_address=sender_address, to=phone, body=body,
                               origin=Message.Origin.SURVEY, origin_ref=str(survey.pk))
        # Serialises starts in one conversation with each other and with its answers.
        conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
        now = timezone.now()
        SurveySession.objects.filter(
            conversation=conversation, status=SurveySession.Status.ACTIVE,
        ).update(status=SurveySession.Status.EXPIRED, current_question=None, finished_at=now)
        return SurveySession.objects.create(
            survey=survey, contact_id=message.contact_id, conversation=conversation,
            current_question=first, started_at=message.created_at, last_activity_at=now,
        )


def survey_answer(*, message: Message, session: SurveySession) -> None:
    """Take ``message`` as the answer to the session's current question, then ask the next
    question or close the survey.

    An invalid answer is asked again with a hint, at most ``max_reask`` times in a row;
    the next invalid answer moves on to the following question (position + 1, no branch)
    without recording an answer, so one question the contact cannot answer does not cost
    the rest. Moving on from the last question ends the survey normally: completed, with
    the closing message.
    """
    question = session.current_question
    value = answer_parse(question=question, text=message.body)
    session.last_activity_at = timezone.now()
    if value is None and session.reask_count < session.survey.max_reask:
        session.reask_count += 1
        session.save(update_fields=["reask_count", "last_activity_at"])
        _send(session, f"{answer_hint(question)}\n{question_prompt(question)}")
        return
    target: int | str = question.position + 1
    if value is not None:
        SurveyAnswer.objects.create(session=session, question=question, raw_text=message.body,
                                    value=value)
        target = question.branching.get(value, target)
    following = (None if target == END
                 else session.survey.questions.filter(position=target).first())
    if following is None:
        session.status = SurveySession.Status.COMPLETED
        session.current_question = None
        session.finished_at = session.last_activity_at
        session.save(update_fields=["status", "current_question", "finished_at",
                                    "last_activity_at"])
        _send(session, session.survey.closing_message)
        return
    session.current_question = following
    session.reask_count = 0
    session.save(update_fields=["current_question", "reask_count", "last_activity_at"])
    _send(session, question_prompt(following))


def _send(session: SurveySession, body: str) -> None:
    """Write in the session's conversation. A refusal (a sender suspended since) is logged,
    not raised: the inbound message stays processed."""
    if not body.strip():
        return
    try:
        message_send(from_address=session.conversation.sender.address,
                     to=session.contact.phone, body=body, origin=Message.Origin.SURVEY,
                     origin_ref=str(session.survey_id))
    except DomainError as exc:
        logger.warning("survey %s: message to session %s refused: %s %s", session.survey_id,
                       session.pk, exc.code, exc.detail)


def survey_sessions_stop(*, contact: Contact, sender_address: str = "") -> int:
    """End the contact's active sessions because they opted out: on every sender, or on
    ``sender_address`` only (the opt-out's scope). Sends nothing: the opt-out confirmation
    is the last message they get. Returns how many ended."""
    sessions = SurveySession.objects.filter(contact=contact, status=SurveySession.Status.ACTIVE)
    if sender_address:
        sessions = sessions.filter(conversation__sender__address=sender_address)
    return sessions.update(status=SurveySession.Status.STOPPED, current_question=None,
                           finished_at=timezone.now())


def sessions_expire() -> int:
    """Mark abandoned sessions expired in every tenant (the periodic task); return how many.

    Answers never depend on this having run (``survey_session_active`` ignores idle
    sessions); it keeps statuses and results truthful.
    """
    expired = 0
    for schema in (Tenant.objects.filter(is_template=False).exclude(schema_name="public")
                   .values_list("schema_name", flat=True)):
        with schema_context(schema):
            expired += tenant_sessions_expire()
    return expired


def tenant_sessions_expire() -> int:
    """Expire the current tenant's sessions idle longer than their survey allows."""
    now = timezone.now()
    idle_limit = ExpressionWrapper(F("survey__expire_after_minutes") * timedelta(minutes=1),
                                   output_field=DurationField())
    return SurveySession.objects.filter(
        status=SurveySession.Status.ACTIVE,
        last_activity_at__lt=Value(now, output_field=DateTimeField()) - idle_limit,
    ).update(status=SurveySession.Status.EXPIRED, current_question=None, finished_at=now)
