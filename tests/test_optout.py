"""Opt-out compliance: STOP/START/HELP keywords, the consent log, enforcement on every send
path, the opt-out API and settings."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from core.errors import DomainError
from messaging.models import Message
from messaging.outbound import OPTOUT_CONFIRMATION, message_deliver, message_send
from optout.actions import do_opt_out, optout_settings_update
from optout.keywords import keyword_normalize
from optout.models import ConsentEvent, OptOut
from tests.conftest import login
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    Api,
    approved_sender,
    customer_texts,
    key_for,
)

OTHER = "+14155550177"


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", " Stop! ", "Stop all",
                                  "STOP ALL", "STOP   ALL", "unsubscribe!", "unsubscribe?!",
                                  "Quit…"])
def test_keywords_ignore_case_whitespace_and_trailing_punctuation(alpha, sim_sender, text):
    [confirmation] = customer_texts(alpha, text)
    assert confirmation.origin_ref == OPTOUT_CONFIRMATION
    with schema_context(alpha.schema_name):
        assert OptOut.objects.filter(phone=CUSTOMER).exists()


@pytest.mark.parametrize("text", ["stop sending me coupons", "please stop", "STOPS", "¿stop"])
def test_a_sentence_containing_stop_is_not_an_opt_out(alpha, sim_sender, text):
    assert customer_texts(alpha, text) == []
    with schema_context(alpha.schema_name):
        assert not OptOut.objects.exists()


def test_keyword_normalize():
    assert keyword_normalize("  stop\tall!! ") == "STOP ALL"
    assert keyword_normalize("...") == ""


def test_stop_confirms_once_names_the_business_and_logs_consent(alpha, sim_sender):
    [confirmation] = customer_texts(alpha, "STOP")
    assert confirmation.to_address == CUSTOMER and confirmation.from_address == SIM_NUMBER
    assert "Alpha" in confirmation.body and "START" in confirmation.body
    assert confirmation.status == "queued"
    assert customer_texts(alpha, "STOP") == []  # a second STOP sends nothing more
    with schema_context(alpha.schema_name):
        [event] = ConsentEvent.objects.all()
        inbound = Message.objects.filter(direction="inbound").order_by("id").first()
        assert (event.phone, event.action, event.source, event.message_id) == (
            CUSTOMER, "opt_out", "keyword", inbound.pk)
        # The confirmation is the one message that still goes out.
        assert message_deliver(message_id=confirmation.pk) is None
        assert Message.objects.get(pk=confirmation.pk).status == "delivered"


def test_an_opted_out_contact_gets_nothing_from_any_send_path(alpha, sim_sender, api):
    customer_texts(alpha, "STOP")
    single = api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Sale!"})
    assert (single.status_code, single.json()["code"]) == (400, "recipient_opted_out")
    assert single.json()["fields"]["to"][0]["code"] == "recipient_opted_out"
    bulk = api.post("messages/bulk", {"messages": [
        {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Sale!"},
        {"from": SIM_NUMBER, "to": OTHER, "body": "Sale!"},
    ]})
    first, second = bulk.json()["results"]
    assert first["error"]["code"] == "recipient_opted_out"
    assert second["message"]["to"] == OTHER
    with schema_context(alpha.schema_name), pytest.raises(DomainError) as refused:
        message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Hi", origin="user")
    assert refused.value.code == "recipient_opted_out"
    # Keyword rules, help and out-of-office stay silent too.
    assert customer_texts(alpha, "HELP") == []
    assert customer_texts(alpha, "what are your hours?") == []
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(to_address=CUSTOMER).exclude(
            origin_ref=OPTOUT_CONFIRMATION).exists()


def test_a_send_queued_before_stop_is_stopped_at_send_time(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        queued = message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Your code", origin="api")
    customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        assert message_deliver(message_id=queued.pk) is None
        stopped = Message.objects.get(pk=queued.pk)
    assert (stopped.status, stopped.error_code) == ("failed", "recipient_opted_out")
    assert stopped.sent_at is None


def test_start_opts_back_in_and_yes_only_while_opted_out(alpha, sim_sender):
    assert customer_texts(alpha, "YES") == []  # not opted out: just a word
    customer_texts(alpha, "STOP")
    [welcome] = customer_texts(alpha, "yes")
    assert "subscribed again" in welcome.body
    assert customer_texts(alpha, "START") == []  # already in
    with schema_context(alpha.schema_name):
        assert not OptOut.objects.exists()
        assert list(ConsentEvent.objects.order_by("id").values_list("action", flat=True)) == [
            "opt_out", "opt_in"]
        message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Welcome back", origin="api")


def test_help_answers_with_the_help_text(alpha, sim_sender):
    [help_reply] = customer_texts(alpha, "Help?")
    assert "STOP" in help_reply.body and "Alpha" in help_reply.body
    with schema_context(alpha.schema_name):
        assert not ConsentEvent.objects.exists()


def test_custom_keywords_and_texts(alpha, sim_sender):
    with schema_context(alpha.schema_name):
        optout_settings_update(optout_keywords=["STOP", "arret"],
                               optout_reply="Alpha: c'est noté. START pour revenir.")
    assert customer_texts(alpha, "quit") == []  # no longer a keyword
    [confirmation] = customer_texts(alpha, "Arret!")
    assert confirmation.body == "Alpha: c'est noté. START pour revenir."


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"optout_keywords": ["END", "QUIT"]}, "required_keyword", "optout_keywords"),
    ({"help_keywords": ["HELP"]}, "required_keyword", "help_keywords"),
    ({"optin_keywords": ["START", "stop"]}, "duplicate_keyword", "optin_keywords"),
    ({"optin_keywords": ["START", "!!"]}, "invalid_keyword", "optin_keywords"),
    ({"scope": "planet"}, "validation_error", "scope"),
])
def test_settings_refuse_removing_stop_or_help_with_a_reason(alpha, api, change, code, field):
    before = api.get("optout-settings").json()
    response = api.put("optout-settings", change)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and field in body["fields"]
    if code == "required_keyword":
        assert "cannot be removed" in body["detail"]
    assert api.get("optout-settings").json() == before


def test_settings_api_round_trip(alpha, api):
    settings = api.get("optout-settings").json()
    assert settings["optout_keywords"][:3] == ["STOP", "STOPALL", "STOP ALL"]
    assert settings["optin_keywords"] == ["START", "UNSTOP"]
    assert settings["help_keywords"] == ["HELP", "INFO"] and settings["scope"] == "tenant"
    changed = api.put("optout-settings", {"optout_keywords": ["stop", "Halt"],
                                          "scope": "sender", "help_reply": "Call us."})
    assert changed.status_code == 200
    assert changed.json()["optout_keywords"] == ["STOP", "HALT"]
    assert changed.json()["optin_keywords"] == ["START", "UNSTOP"]  # untouched
    agent_key = key_for(alpha, scopes=["messages:send"])
    assert Api(alpha, agent_key).get("optout-settings").status_code == 403


def test_sender_scope_stops_only_that_sender(alpha, sim_sender):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    with schema_context(alpha.schema_name):
        optout_settings_update(scope="sender")
    customer_texts(alpha, "STOP", to=SIM_NUMBER)
    with schema_context(alpha.schema_name):
        message_send(from_address=SIM_NUMBER_2, to=CUSTOMER, body="Still here", origin="api")
        with pytest.raises(DomainError):
            message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Hi", origin="api")


def test_tenant_scope_stops_every_sender_and_no_other_tenant(alpha, beta, sim_sender):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    beta_sender = approved_sender(beta, "+14155550125", "simulator")
    customer_texts(alpha, "STOP", to=SIM_NUMBER)
    with schema_context(alpha.schema_name), pytest.raises(DomainError):
        message_send(from_address=SIM_NUMBER_2, to=CUSTOMER, body="Hi", origin="api")
    with schema_context(beta.schema_name):
        assert not OptOut.objects.exists()
        message_send(from_address=beta_sender.address, to=CUSTOMER, body="Hi", origin="api")


def test_optouts_api_lists_adds_and_removes_with_the_consent_log(alpha, sim_sender, api):
    added = api.post("optouts", {"phone": "+1 415 555 0177", "reason": "asked by phone"})
    assert added.status_code == 201
    assert added.json()["phone"] == OTHER and added.json()["source"] == "api"
    assert api.post("optouts", {"phone": OTHER}).status_code == 200  # already out
    listed = api.get("optouts").json()
    assert [entry["phone"] for entry in listed["results"]] == [OTHER]
    refused = api.post("messages", {"from": SIM_NUMBER, "to": OTHER, "body": "x"})
    assert refused.json()["code"] == "recipient_opted_out"
    assert api.delete(f"optouts/{OTHER}").status_code == 204
    missing = api.delete(f"optouts/{OTHER}")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_opted_out")
    invalid = api.post("optouts", {"phone": "12"})
    assert (invalid.status_code, invalid.json()["code"]) == (400, "invalid_phone_number")
    with schema_context(alpha.schema_name):
        events = list(ConsentEvent.objects.order_by("id"))
        [key] = ApiKey.objects.all()
    assert [(e.action, e.source, e.reason) for e in events] == [
        ("opt_out", "api", "asked by phone"), ("opt_in", "api", "")]
    assert events[0].actor_label == f"api key {key.prefix}"


def test_a_manual_opt_out_blocks_api_sends(alpha, sim_sender, api):
    with schema_context(alpha.schema_name):
        do_opt_out(phone=CUSTOMER, source="admin", reason="complaint")
    response = api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Hi"})
    assert response.json()["code"] == "recipient_opted_out"


def test_a_send_checking_while_a_stop_commits_waits_for_it_and_is_stopped(committed_alpha):
    """The send task's last check takes the number's lock: a STOP in flight is either
    committed before the check (the send is refused) or starts after the claim."""
    schema = committed_alpha.schema_name
    with schema_context(schema):
        queued = message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Promo", origin="api")
    stop_holds_lock, commit_stop = threading.Event(), threading.Event()

    def stop() -> None:
        with schema_context(schema), transaction.atomic():
            do_opt_out(phone=CUSTOMER, source="keyword")
            stop_holds_lock.set()
            commit_stop.wait(10)
        db_connection.close()

    def send() -> None:
        with schema_context(schema):
            message_deliver(message_id=queued.pk)
        db_connection.close()

    stopper, sender = threading.Thread(target=stop), threading.Thread(target=send)
    stopper.start()
    assert stop_holds_lock.wait(10)
    sender.start()
    sender.join(1.0)
    assert sender.is_alive(), "the send did not wait for the STOP in flight"
    commit_stop.set()
    stopper.join(10)
    sender.join(10)
    with schema_context(schema):
        stopped = Message.objects.get(pk=queued.pk)
    assert (stopped.status, stopped.error_code) == ("failed", "recipient_opted_out")


def test_the_consent_history_proves_each_change(alpha, sim_sender, api, alpha_client):
    customer_texts(alpha, "STOP")
    customer_texts(alpha, "START")
    history = api.get(f"optouts/{CUSTOMER}/history").json()["results"]
    assert [(e["action"], e["source"], e["actor"]) for e in history] == [
        ("opt_in", "keyword", "customer"), ("opt_out", "keyword", "customer")]
    with schema_context(alpha.schema_name):
        stop = Message.objects.get(direction="inbound", body="STOP")
    assert history[1]["message"] == stop.pk
    assert api.get("optouts/12/history").json()["code"] == "invalid_phone_number"
    login(alpha_client, "owner@alpha.example")
    page = alpha_client.get("/optouts/history/", {"phone": CUSTOMER})
    assert page.status_code == 200
    assert b"Opt Out" in page.content and b"customer" in page.content
