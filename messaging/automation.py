"""What happens on its own when a customer writes (docs/ARCHITECTURE.md#automation-order):

1. opt-out, opt-in and help keywords — always first, and final; STOP also ends the
   contact's survey sessions;
2. the answering steps, by their order (``inbound_step_register``): first those of the
   apps above this one — a pending list member's YES, a list's join keyword;
3. an active survey session — the message is its answer, and nothing below runs;
4. keyword rules — the first match in priority order acts (reply, tag, assign, forward
   to the business's system: ``messaging.forwarding``, start a survey);
5. the business's own app for the number the customer wrote to (the Twilio dialect's
   ``SmsUrl``), when one is set — a step registered from above at ``APP_STEP_ORDER``;
6. the out-of-office reply — only when nothing above answered, at most once per
   conversation per day.

Automatic replies are capped per contact per hour (``AUTO_REPLY_LIMIT_PER_HOUR``), so two
robots answering each other stop quickly. The opt-out confirmation is exempt: it is the one
message the law requires.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from accounts.models import User
from core.errors import DomainError
from core.memo import memoized
from messaging.conversations import conversation_assign
from messaging.forwarding import forward_create
from messaging.hours import AWAY_ORIGIN_REF, away_reply_due, away_text, business_hours_get
from messaging.models import Contact, Conversation, ForwardingEndpoint, Message, Survey
from messaging.outbound import HELP_CONFIRMATION, OPTOUT_CONFIRMATION, message_send
from messaging.quota import tenant_send_refusal
from messaging.rules import rule_match
from messaging.selectors import (
    auto_replies_left,
    conversations_surveying,
    survey_session_active,
)
from messaging.surveys import do_survey_start, survey_answer, survey_sessions_stop
from messaging.templating import template_render
from optout import keywords
from optout.actions import confirmation_text, do_opt_in, do_opt_out, optout_settings_get
from optout.models import ConsentEvent, OptOutSettings
from optout.selectors import optout_blocked_pairs
from tenants.models import Tenant
from tenants.status import tenant_state

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantProfile:
    name: str
    timezone: zoneinfo.ZoneInfo


def tenant_profile() -> TenantProfile:
    return memoized("tenant_profile", _tenant_profile_load)


def _tenant_profile_load() -> TenantProfile:
    tenant = Tenant.objects.filter(schema_name=connection.schema_name).only(
        "name", "timezone").first()
    if tenant is None:
        return TenantProfile(name="", timezone=zoneinfo.ZoneInfo("UTC"))
    return TenantProfile(name=tenant.name, timezone=tenant.zone)


# A step answers one inbound message (``message``, ``contact``, ``conversation``,
# ``profile``, ``facts`` as keywords) and returns whether it handled it, which ends the answering
# steps.
InboundStep = Callable[..., bool]


@dataclass(frozen=True)
class _RegisteredStep:
    order: int
    name: str
    run: InboundStep


_steps: list[_RegisteredStep] = []


def inbound_step_register(*, order: int, name: str, run: InboundStep) -> None:
    """Add an answering step after the opt-out keywords: the layers above messaging
    (subscription lists, campaigns, the Twilio dialect's ``SmsUrl``) answer customers here
    without messaging importing them. Steps run by ascending ``order`` — messaging's own
    are the survey session (``SURVEY_STEP_ORDER``) and the keyword rules
    (``RULES_STEP_ORDER``) — and the first that answers ends them; registering ``name``
    again replaces it. Each runs inside the processing transaction, only for a contact who
    may receive automatic messages, and must not raise a ``DomainError`` (log it instead)."""
    kept = [step for step in _steps if step.name != name]
    _steps[:] = sorted([*kept, _RegisteredStep(order=order, name=name, run=run)],
                       key=lambda step: step.order)


@dataclass(frozen=True)
class BatchFacts:
    """What the reactions to a batch of inbound messages read once for the batch instead
    of once per message: the messages whose customer is opted out of the sender they wrote
    to (by message id), and the conversations with a survey session open. They stay true
    through the batch because its messages are of distinct customers
    (``messaging.inbound``): a reaction changes its own customer's state only."""

    opted_out: frozenset[int]
    surveying: frozenset[int]


def batch_facts(*, messages: list[Message]) -> BatchFacts:
    """``BatchFacts`` for processed ``messages`` (contact and conversation set), one
    customer each: two queries, whatever their number."""
    blocked = optout_blocked_pairs(pairs={(message.from_address, message.to_address)
                                          for message in messages})
    return BatchFacts(
        opted_out=frozenset(message.pk for message in messages
                            if (message.from_address, message.to_address) in blocked),
        surveying=frozenset(conversations_surveying(
            conversation_ids={message.conversation_id for message in messages})),
    )


def message_react(*, message: Message, contact: Contact, conversation: Conversation,
                  facts: BatchFacts) -> None:
    """Run the automatic reactions to one inbound message of a batch (``facts``).

    Called by ``messaging.inbound`` inside its transaction, with the message row locked:
    the reactions commit with the processing, once.
    """
    profile = tenant_profile()
    opted_out = message.pk in facts.opted_out
    if _keywords(message=message, contact=contact, profile=profile, opted_out=opted_out):
        return
    if tenant_send_refusal(tenant_state(connection.schema_name)) is not None:
        return  # suspended: only the STOP and HELP answers above go out
    if opted_out:
        return  # nothing automatic may reach them
    for step in _steps:
        if step.run(message=message, contact=contact, conversation=conversation,
                    profile=profile, facts=facts):
            return
    _away(message=message, contact=contact, conversation=conversation, profile=profile)


def _survey_step(*, message: Message, conversation: Conversation, facts: BatchFacts,
                 **_) -> bool:
    if conversation.pk not in facts.surveying:
        return False
    session = survey_session_active(conversation=conversation, at=timezone.now())
    if session is None:
        return False
    # Not capped like other automatic replies: a session cannot loop (it ends after its
    # questions, with bounded re-asking), and a cap would cut surveys short.
    survey_answer(message=message, session=session)
    return True


SURVEY_STEP_ORDER = 500
RULES_STEP_ORDER = 600
# After the rules: the business's own app for the number (the Twilio dialect's SmsUrl).
APP_STEP_ORDER = 700


def _keywords(*, message: Message, contact: Contact, profile: TenantProfile,
              opted_out: bool) -> bool:
    optout = optout_settings_get()
    action = keywords.keyword_action(
        message.body, optout_keywords=optout.optout_keywords,
        optin_keywords=optout.optin_keywords, help_keywords=optout.help_keywords,
        opted_out=opted_out,
    )
    if action is None:
        return False
    scope_address = message.to_address if optout.scope == OptOutSettings.Scope.SENDER else ""
    audit = {"phone": contact.phone, "source": ConsentEvent.Source.KEYWORD,
             "actor_label": "customer", "message": message}
    if action == keywords.OPT_OUT:
        survey_sessions_stop(contact=contact, sender_address=scope_address)
        if do_opt_out(sender_address=scope_address, **audit):
            _reply(message, confirmation_text(settings=optout, action=action,
                                              business=profile.name),
                   origin_ref=OPTOUT_CONFIRMATION)
    elif action == keywords.OPT_IN:
        if do_opt_in(sender_address=message.to_address, **audit):
            _reply(message, confirmation_text(settings=optout, action=action,
                                              business=profile.name), origin_ref="optout:opt_in")
    elif not opted_out and auto_replies_left(phone=contact.phone):
        _reply(message, confirmation_text(settings=optout, action=action,
                                          business=profile.name), origin_ref=HELP_CONFIRMATION)
    return True


def _rules(*, message: Message, contact: Contact, conversation: Conversation,
           profile: TenantProfile, **_) -> bool:
    rule = rule_match(body=message.body, sender_id=message.sender_id,
                      at=timezone.now().astimezone(profile.timezone))
    if rule is None:
        return False
    if rule.add_tag and rule.add_tag not in contact.tags:
        contact.tags = [*contact.tags, rule.add_tag]
        contact.save(update_fields=["tags"])
    assignee = (User.objects.filter(pk=rule.assign_to_id, is_active=True).first()
                if rule.assign_to_id else None)
    if assignee is not None:
        conversation_assign(conversation=conversation, assignee=assignee)
    if rule.reply.strip() and auto_replies_left(phone=contact.phone):
        body = template_render(rule.reply, contact_name=contact.name,
                               contact_phone=contact.phone, contact_fields=contact.fields,
                               sender=message.to_address)
        _reply(message, body, origin=Message.Origin.RULE, origin_ref=str(rule.pk))
    endpoint = (ForwardingEndpoint.objects.filter(pk=rule.forward_to_id, active=True).first()
                if rule.forward_to_id else None)
    if endpoint is not None:
        forward_create(message=message, endpoint=endpoint, rule=rule)
    survey = Survey.objects.filter(pk=rule.start_survey_id).first() if (
        rule.start_survey_id) else None
    if survey is not None and auto_replies_left(phone=contact.phone):
        try:
            do_survey_start(survey=survey, phone=contact.phone,
                            sender_address=message.to_address)
        except DomainError as exc:
            logger.warning("keyword rule %s: survey %s not started: %s %s", rule.pk,
                           rule.start_survey_id, exc.code, exc.detail)
    return True


def _away(*, message: Message, contact: Contact, conversation: Conversation,
          profile: TenantProfile) -> None:
    hours = business_hours_get()
    now = timezone.now().astimezone(profile.timezone)
    if (away_reply_due(hours=hours, conversation=conversation, at=now)
            and auto_replies_left(phone=contact.phone)):
        _reply(message, away_text(hours=hours, business=profile.name),
               origin_ref=AWAY_ORIGIN_REF)


def _reply(message: Message, body: str, *, origin: str = Message.Origin.SYSTEM,
           origin_ref: str) -> None:
    """Answer from the sender the customer wrote to. A refusal (a sender suspended since,
    a reply grown past ten segments) is logged, never raised: the inbound message stays
    processed."""
    if not body.strip():
        return
    try:
        message_send(from_address=message.to_address, to=message.from_address, body=body,
                     origin=origin, origin_ref=origin_ref)
    except DomainError as exc:
        logger.warning("automatic reply to message %s refused: %s %s", message.pk, exc.code,
                       exc.detail)


inbound_step_register(order=SURVEY_STEP_ORDER, name="messaging:survey", run=_survey_step)
inbound_step_register(order=RULES_STEP_ORDER, name="messaging:rules", run=_rules)
