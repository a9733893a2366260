"""The automation pages of owners and admins: keyword rules, business hours, forwarding and
opt-out settings, driven through real sessions and forms; agents are refused."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.models import BusinessHours, ForwardingEndpoint, KeywordRule
from optout.actions import optout_settings_get
from tests.conftest import PASSWORD, login
from tests.support.messaging import customer_texts

PAGES = ["/rules/", "/hours/", "/forwarding/", "/optouts/settings/"]


@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_a_rule_made_on_the_page_answers_the_next_message(alpha, owner, sim_sender):
    page = owner.get("/rules/")
    assert page.status_code == 200 and b"No rules yet." in page.content
    response = owner.post("/rules/", {"keyword": "Hours", "match": "exact",
                                      "reply": "Open {{ contact.name | default: \"friend\" }}!",
                                      "priority": 10, "active": "on"}, follow=True)
    assert b"Rule added." in response.content
    assert [r.body for r in customer_texts(alpha, "hours?")] == ["Open friend!"]
    with schema_context(alpha.schema_name):
        rule = KeywordRule.objects.get()
    edited = owner.post(f"/rules/{rule.pk}/", {"keyword": "Hours", "match": "exact",
                                               "reply": "Closed today", "priority": 10},
                        follow=True)
    assert b"Rule saved." in edited.content
    with schema_context(alpha.schema_name):
        assert KeywordRule.objects.get().active is False  # the box was unticked
    asked = owner.get(f"/rules/{rule.pk}/delete/")
    assert asked.status_code == 200 and b"Delete the rule Hours?" in asked.content
    owner.post(f"/rules/{rule.pk}/delete/")  # not from the confirmation: nothing goes
    with schema_context(alpha.schema_name):
        assert KeywordRule.objects.exists()
    owner.post(f"/rules/{rule.pk}/delete/", {"confirm": "yes"})
    with schema_context(alpha.schema_name):
        assert not KeywordRule.objects.exists()


@pytest.mark.parametrize(("fields", "message"), [
    ({"keyword": "(oops", "match": "regex", "reply": "x"}, b"Not a regular expression"),
    ({"keyword": "hi", "match": "exact", "reply": "Hi {{ contact.secret }}"},
     b"Unknown placeholder"),
    ({"keyword": "hi", "match": "exact", "reply": ""}, b"A rule must reply, tag, assign"),
])
def test_rule_form_errors_are_shown_and_nothing_is_saved(alpha, owner, fields, message):
    response = owner.post("/rules/", {"priority": 100, **fields})
    assert response.status_code == 400
    assert message in response.content
    with schema_context(alpha.schema_name):
        assert not KeywordRule.objects.exists()


def test_business_hours_page(alpha, owner):
    page = owner.get("/hours/")
    assert b'value="09:00-17:00"' in page.content
    saved = owner.post("/hours/", {"enabled": "on", "away_reply": "Back at nine.",
                                   "day_0": "08:00-12:00, 13:00-18:00", "day_5": "10:00-14:00"},
                       follow=True)
    assert b"Business hours saved." in saved.content
    with schema_context(alpha.schema_name):
        hours = BusinessHours.objects.get()
    assert hours.enabled and hours.away_reply == "Back at nine."
    assert hours.opening_hours == {"0": [["08:00", "12:00"], ["13:00", "18:00"]],
                                   "5": [["10:00", "14:00"]]}
    refused = owner.post("/hours/", {"enabled": "on", "day_1": "17:00-09:00"})
    assert refused.status_code == 400
    assert "“17:00-09:00” closes before it opens".encode() in refused.content


def test_forwarding_page_shows_the_secret_once_and_refuses_outside_urls(alpha, owner):
    created = owner.post("/forwarding/", {"name": "crm", "url": "http://127.0.0.1:9/hook",
                                          "timeout_seconds": 5, "active": "on"})
    assert created.status_code == 200
    with schema_context(alpha.schema_name):
        endpoint = ForwardingEndpoint.objects.get()
    assert endpoint.secret.encode() in created.content
    assert endpoint.secret.encode() not in owner.get("/forwarding/").content
    assert b"No attempts yet." in owner.get(f"/forwarding/{endpoint.pk}/").content
    refused = owner.post("/forwarding/", {"name": "evil", "url": "http://93.184.216.34/",
                                          "timeout_seconds": 5})
    assert refused.status_code == 400 and b"not on this machine" in refused.content


def test_opt_out_settings_page_keeps_stop(alpha, owner, sim_sender):
    refused = owner.post("/optouts/settings/", {
        "optout_keywords": "END, QUIT", "optin_keywords": "START", "help_keywords": "HELP, INFO",
        "scope": "tenant"})
    assert refused.status_code == 400 and b"STOP cannot be removed" in refused.content
    saved = owner.post("/optouts/settings/", {
        "optout_keywords": "STOP, Arret", "optin_keywords": "START",
        "help_keywords": "HELP, INFO", "optout_reply": "Bye from Alpha.", "scope": "tenant"},
        follow=True)
    assert b"Opt-out settings saved." in saved.content
    with schema_context(alpha.schema_name):
        assert optout_settings_get().optout_keywords == ["STOP", "ARRET"]
    assert [r.body for r in customer_texts(alpha, "arret")] == ["Bye from Alpha."]


@pytest.mark.parametrize("path", PAGES)
def test_agents_are_refused_every_automation_page(alpha, alpha_client, path):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    assert alpha_client.get(path).status_code == 403
    assert alpha_client.post(path, {}).status_code == 403
