"""Keyword rules, reply templates, loop protection and the out-of-office reply."""

from __future__ import annotations

import time
import zoneinfo
from datetime import datetime
from datetime import time as clock

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import User
from core.errors import DomainError
from messaging.hours import business_hours_update
from messaging.inbound import message_process
from messaging.models import Contact, Conversation, KeywordRule, Message
from messaging.rules import REGEX_TIMEOUT, keyword_rule_save, rule_match
from messaging.templating import template_render, template_validate
from tests.support.factories import ContactFactory
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    approved_sender,
    customer_texts,
)

UTC = zoneinfo.ZoneInfo("UTC")
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def rule(**fields) -> KeywordRule:
    fields.setdefault("reply", "ok")
    return keyword_rule_save(**fields)


def matched(body: str, at: datetime = MONDAY_NOON, sender_id: int = 0) -> str | None:
    found = rule_match(body=body, sender_id=sender_id, at=at)
    return found.reply if found else None


def test_match_kinds_are_case_insensitive(alpha):
    with schema_context(alpha.schema_name):
        rule(keyword="hours", match="exact", reply="exact")
        rule(keyword="order", match="starts_with", reply="starts")
        rule(keyword="refund", match="contains", reply="contains")
        rule(keyword=r"^balance\s+\d{4}$", match="regex", reply="regex")
        assert matched("Hours?") == "exact"
        assert matched("hours please") is None
        assert matched("ORDER 1234") == "starts"
        assert matched("I want a Refund now") == "contains"
        assert matched("BALANCE 1234") == "regex"
        assert matched("balance 12") is None


def test_priority_decides_between_matching_rules(alpha):
    with schema_context(alpha.schema_name):
        rule(keyword="price", match="contains", reply="general", priority=50)
        rule(keyword="price", match="exact", reply="specific", priority=100)
        rule(keyword="pri", match="starts_with", reply="first", priority=10, active=False)
        assert matched("price") == "general"
        KeywordRule.objects.filter(reply="specific").update(priority=5)
        KeywordRule.objects.filter(reply="specific").first().save()  # touch: cache reload
        assert matched("price") == "specific"


def test_sender_scope_and_schedule_in_the_tenant_timezone(alpha, sim_sender):
    other = approved_sender(alpha, SIM_NUMBER_2, "simulator")
    with schema_context(alpha.schema_name):
        rule(keyword="hi", reply="only on 2", sender=SIM_NUMBER_2)
        rule(keyword="open", reply="weekdays 9-17", weekdays=[0, 1, 2, 3, 4],
             active_from=clock(9), active_until=clock(17))
        rule(keyword="late", reply="overnight", active_from=clock(22), active_until=clock(6))
        assert matched("hi", sender_id=sim_sender.pk) is None
        assert matched("hi", sender_id=other.pk) == "only on 2"
        assert matched("open") == "weekdays 9-17"
        assert matched("open", at=MONDAY_NOON.replace(hour=18)) is None
        assert matched("open", at=datetime(2026, 11, 22, 12, tzinfo=UTC)) is None  # Sunday
        assert matched("late", at=MONDAY_NOON.replace(hour=23)) == "overnight"
        assert matched("late", at=MONDAY_NOON.replace(hour=5)) == "overnight"
        assert matched("late") is None
    # End to end, the schedule is read in the tenant's timezone.
    alpha.timezone = "Pacific/Auckland"
    alpha.save(update_fields=["timezone"])
    with schema_context(alpha.schema_name):
        rule(keyword="night", reply="night in Auckland", active_from=clock(0),
             active_until=clock(6))
        local = datetime.now(zoneinfo.ZoneInfo("Pacific/Auckland")).time()
    replies = customer_texts(alpha, "night")
    assert [r.body for r in replies] == (["night in Auckland"] if local < clock(6) else [])


def test_a_catastrophic_regex_times_out_as_no_match(alpha):
    with schema_context(alpha.schema_name):
        rule(keyword=r"(a+)+$", match="regex", reply="evil", priority=1)
        rule(keyword="a", match="starts_with", reply="fallback", priority=2)
        matched("warm the rule cache")
        started = time.monotonic()
        assert matched("a" * 5000 + "!") == "fallback"
        # Held no longer than the time limit (plus the query and the other rule).
        assert time.monotonic() - started < REGEX_TIMEOUT + 0.25


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"keyword": "(unclosed", "match": "regex"}, "invalid_pattern", "keyword"),
    ({"keyword": "  "}, "validation_error", "keyword"),
    ({"keyword": "hi", "match": "fuzzy"}, "validation_error", "match"),
    ({"keyword": "hi", "reply": "Hi {{ contact.password }}"}, "invalid_template", "reply"),
    ({"keyword": "hi", "reply": "Hi {{ contact.name "}, "invalid_template", "reply"),
    ({"keyword": "hi", "reply": ""}, "no_action", "reply"),
    ({"keyword": "hi", "sender": "+14155550999"}, "unknown_sender", "sender"),
    ({"keyword": "hi", "assign_to": "nobody@example.com"}, "unknown_user", "assign_to"),
    ({"keyword": "hi", "active_from": "09:00"}, "invalid_schedule", "active_until"),
    ({"keyword": "hi", "weekdays": [7]}, "validation_error", "weekdays.0"),
])
def test_invalid_rules_are_refused_with_a_code_and_nothing_saved(alpha, api, fields, code,
                                                                 field):
    response = api.post("keyword-rules", {"reply": "ok", **fields})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    with schema_context(alpha.schema_name):
        assert not KeywordRule.objects.exists()


def test_keyword_rules_api_crud(alpha, api, sim_sender):
    created = api.post("keyword-rules", {"keyword": "HOURS", "match": "exact",
                                         "reply": "9 to 5", "priority": 10,
                                         "sender": SIM_NUMBER, "assign_to": "owner@alpha.example",
                                         "add_tag": "asked-hours"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("keyword", "match", "reply", "priority", "active", "sender",
                                 "assign_to", "add_tag")} == {
        "keyword": "HOURS", "match": "exact", "reply": "9 to 5", "priority": 10, "active": True,
        "sender": SIM_NUMBER, "assign_to": "owner@alpha.example", "add_tag": "asked-hours"}
    rule_id = body["id"]
    assert api.get("keyword-rules").json()["results"][0]["id"] == rule_id
    changed = api.patch(f"keyword-rules/{rule_id}", {"reply": "8 to 6", "sender": None})
    assert changed.status_code == 200
    assert (changed.json()["reply"], changed.json()["sender"]) == ("8 to 6", None)
    assert [r.body for r in customer_texts(alpha, "hours")] == ["8 to 6"]
    assert api.delete(f"keyword-rules/{rule_id}").status_code == 204
    assert api.get(f"keyword-rules/{rule_id}").status_code == 404
    assert customer_texts(alpha, "hours") == []


def test_a_rule_replies_tags_and_assigns(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        owner = User.objects.get(email="owner@alpha.example")
        ContactFactory(phone=CUSTOMER, name="Ada", fields={"plan": "Gold"})
        rule(keyword="status", match="starts_with", add_tag="vip", assign_to=owner,
             reply="Hi {{ contact.name }}, your {{ contact.fields.plan }} plan is active. "
                   "{{ sender }}")
    [reply] = customer_texts(alpha, "status?")
    assert reply.body == f"Hi Ada, your Gold plan is active. {SIM_NUMBER}"
    assert (reply.origin, reply.from_address, reply.to_address) == ("rule", SIM_NUMBER, CUSTOMER)
    with schema_context(alpha.schema_name):
        assert Contact.objects.get(phone=CUSTOMER).tags == ["vip"]
        assert Conversation.objects.get().assignee == owner


def test_templates_fail_safe_when_a_value_is_missing():
    text = 'Hi {{ contact.name }}, your {{contact.fields.plan|default:"current"}} plan.'
    template_validate(text)
    assert template_render(text, contact_name="", contact_phone=CUSTOMER, contact_fields={},
                           sender="x") == "Hi, your current plan."
    assert template_render("{{ contact.fields.x }}", contact_name="", contact_phone="",
                           contact_fields={"x": {"nested": 1}}, sender="") == ""
    # A customer-controlled value is inserted as text, never interpreted again.
    assert template_render("Hi {{ contact.name }}", contact_name="{{ sender }}",
                           contact_phone="", contact_fields={}, sender="S") == "Hi {{ sender }}"
    with pytest.raises(DomainError):
        template_validate("{% load evil %}{{ settings.SECRET_KEY }}")


@override_settings(AUTO_REPLY_LIMIT_PER_HOUR=5)
def test_at_most_five_automatic_replies_per_contact_per_hour(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        rule(keyword="ping", reply="pong")
    answered = [len(customer_texts(alpha, "ping")) for _ in range(7)]
    assert answered == [1, 1, 1, 1, 1, 0, 0]
    # The STOP confirmation is never held back by the cap.
    assert len(customer_texts(alpha, "STOP")) == 1


def test_away_reply_is_off_by_default_then_once_per_conversation_per_day(alpha, sim_sender):
    assert customer_texts(alpha, "anyone there?") == []
    with schema_context(alpha.schema_name):
        business_hours_update(enabled=True, opening_hours={}, away_reply="We're closed.")
    assert [r.body for r in customer_texts(alpha, "anyone there?")] == ["We're closed."]
    assert customer_texts(alpha, "hello??") == []  # once per conversation per day
    assert len(customer_texts(alpha, "hello", from_="+14155550166")) == 1  # another contact


def test_away_reply_never_follows_a_rule_or_keyword_answer(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        business_hours_update(enabled=True, opening_hours={})
        rule(keyword="hours", reply="9 to 5")
    assert [r.origin for r in customer_texts(alpha, "hours")] == ["rule"]
    assert [r.origin_ref for r in customer_texts(alpha, "help")] == ["optout:help"]


def test_away_reply_respects_opening_hours(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        always_open = {str(day): [["00:00", "23:59:59"]] for day in range(7)}
        business_hours_update(enabled=True, opening_hours=always_open)
    assert customer_texts(alpha, "hello") == []


@pytest.mark.parametrize("hours", [{"7": []}, {"0": [["17:00", "09:00"]]}, {"0": [["nine", "5"]]},
                                   {"0": "09:00-17:00"}])
def test_business_hours_api_refuses_bad_hours(alpha, api, hours):
    response = api.put("business-hours", {"enabled": True, "opening_hours": hours})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_hours")
    assert api.get("business-hours").json()["enabled"] is False


def test_business_hours_api_round_trip(alpha, api):
    assert api.get("business-hours").json()["opening_hours"]["0"] == [["09:00", "17:00"]]
    changed = api.put("business-hours", {"enabled": True, "away_reply": "Back at 9."})
    assert changed.status_code == 200
    assert changed.json()["enabled"] is True and changed.json()["away_reply"] == "Back at 9."


def test_a_redelivered_processing_task_replies_once(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        rule(keyword="x", reply="one")
    [reply] = customer_texts(alpha, "x")
    with schema_context(alpha.schema_name):
        message_process(message_id=reply.pk - 1)  # the inbound message, again
        assert Message.objects.filter(direction="outbound").count() == 1
