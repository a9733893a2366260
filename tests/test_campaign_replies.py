"""Replies to campaigns (docs/ARCHITECTURE.md#campaign-replies): a text within 72 hours of a
campaign's message is marked with the campaign (a STOP too, counted as its opt-out); reply
actions answer a keyword from its recipients, after STOP and before keyword rules, handing
out each code of a pool once, even to replies processed side by side; the API and the page
that manage them."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from campaigns.models import Campaign, ReplyAction, ReplyCode
from campaigns.replies import (
    opt_outs_count,
    replies_count,
    reply_action_create,
    reply_codes_add,
)
from messaging.inbound import message_receive_simulated, messages_process_pending
from messaging.models import Message, Sender
from messaging.outbound import OPTOUT_CONFIRMATION, message_deliver, message_send
from messaging.rules import keyword_rule_save
from tenants.models import Tenant
from tests.conftest import PASSWORD, host_client, login
from tests.support.db import tenant_data_reset
from tests.support.messaging import CUSTOMER, SIM_NUMBER, approved_sender, customer_texts

OTHER = "+14155550177"
REPLY = "Your 20% code: {{ code }}. Show it at the till."
FALLBACK = "Sorry {{ contact.name | default: \"friend\" }}, all codes have gone."


def _campaign(tenant, name: str = "Spring") -> Campaign:
    with schema_context(tenant.schema_name):
        return Campaign.objects.create(name=name, sender=Sender.objects.get(address=SIM_NUMBER),
                                       body="Spring sale! Reply YES for a code.")


def campaign_texts(tenant, campaign: Campaign, phone: str = CUSTOMER, *,
                   hours_ago: float = 0) -> Message:
    """The campaign's message to ``phone``, sent as the send task sends it (``hours_ago``:
    it left that long ago)."""
    with schema_context(tenant.schema_name):
        message = message_send(from_address=SIM_NUMBER, to=phone, body=campaign.body,
                               origin=Message.Origin.CAMPAIGN)
        Message.objects.filter(pk=message.pk).update(campaign_id=campaign.pk)
        message_deliver(message_id=message.pk)
        if hours_ago:
            Message.objects.filter(pk=message.pk).update(
                sending_at=timezone.now() - timedelta(hours=hours_ago))
        return Message.objects.get(pk=message.pk)


def _action(tenant, campaign: Campaign, codes: list[str] = (), **fields) -> ReplyAction:
    with schema_context(tenant.schema_name):
        action = reply_action_create(campaign=campaign, **{
            "keyword": "YES", "reply": REPLY, "fallback_text": FALLBACK, **fields})
        if codes:
            reply_codes_add(action=action, codes=list(codes))
        return action


def _bodies(messages: list[Message]) -> list[str]:
    return [message.body for message in messages]


def _inbound(tenant, phone: str = CUSTOMER) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(direction="inbound", from_address=phone)
                    .order_by("id"))


# --- Attribution ----------------------------------------------------------------------------

def test_a_text_within_72_hours_is_marked_with_the_campaign_that_texted_last(alpha,
                                                                            sim_sender):
    older, newer = _campaign(alpha, "Older"), _campaign(alpha, "Newer")
    campaign_texts(alpha, older, hours_ago=30)
    campaign_texts(alpha, newer, hours_ago=2)
    campaign_texts(alpha, older, OTHER, hours_ago=73)
    customer_texts(alpha, "Nice, thanks")
    customer_texts(alpha, "Who is this?", from_=OTHER)
    [reply], [late] = _inbound(alpha), _inbound(alpha, OTHER)
    assert reply.campaign_id == newer.pk
    assert late.campaign_id is None  # its message left more than 72 hours before
    with schema_context(alpha.schema_name):
        assert replies_count(campaign_id=newer.pk) == 1
        assert replies_count(campaign_id=older.pk) == 0


def test_a_message_still_waiting_to_leave_is_not_answered(alpha, sim_sender):
    campaign = _campaign(alpha)
    with schema_context(alpha.schema_name):
        message = message_send(from_address=SIM_NUMBER, to=CUSTOMER, body=campaign.body,
                               origin=Message.Origin.CAMPAIGN,
                               send_at=timezone.now() + timedelta(hours=8))
        Message.objects.filter(pk=message.pk).update(campaign_id=campaign.pk)
    _action(alpha, campaign, ["A-1"])
    customer_texts(alpha, "YES")
    assert _inbound(alpha)[0].campaign_id is None
    with schema_context(alpha.schema_name):
        assert not ReplyCode.objects.exclude(phone="").exists()


# --- Reply actions and codes --------------------------------------------------------------

def test_yes_gets_a_code_and_yes_again_gets_the_same_code(alpha, sim_sender):
    campaign = _campaign(alpha)
    campaign_texts(alpha, campaign)
    _action(alpha, campaign, ["SPRING-1", "SPRING-2"])
    first = customer_texts(alpha, "yes!")
    again = customer_texts(alpha, " Yes ")
    assert _bodies(first) == _bodies(again) == [
        "Your 20% code: SPRING-1. Show it at the till."]
    with schema_context(alpha.schema_name):
        given = ReplyCode.objects.exclude(phone="").get()
        assert (given.code, given.phone) == ("SPRING-1", CUSTOMER)
        assert ReplyCode.objects.filter(phone="").count() == 1
        # The reply is an automatic message, not one of the campaign's.
        assert first[0].campaign_id is None and first[0].origin == "system"


def test_the_pool_s_last_code_goes_to_one_number_and_the_next_gets_the_fallback(
        alpha, sim_sender):
    campaign = _campaign(alpha)
    campaign_texts(alpha, campaign)
    campaign_texts(alpha, campaign, OTHER)
    _action(alpha, campaign, ["LAST"])
    assert _bodies(customer_texts(alpha, "YES")) == [
        "Your 20% code: LAST. Show it at the till."]
    assert _bodies(customer_texts(alpha, "YES", from_=OTHER)) == [
        "Sorry friend, all codes have gone."]


def test_an_action_without_a_code_replies_its_template(alpha, sim_sender):
    campaign = _campaign(alpha)
    campaign_texts(alpha, campaign)
    _action(alpha, campaign, keyword="hours", reply="Open 9-5. {{ sender }}", fallback_text="")
    assert _bodies(customer_texts(alpha, "HOURS?")) == [f"Open 9-5. {SIM_NUMBER}"]


def test_stop_within_72_hours_is_not_answered_by_the_action_and_counts_as_its_opt_out(
        alpha, sim_sender):
    campaign = _campaign(alpha)
    campaign_texts(alpha, campaign)
    _action(alpha, campaign, ["SPRING-1"])
    [confirmation] = customer_texts(alpha, "STOP")
    assert confirmation.origin_ref == OPTOUT_CONFIRMATION
    # Opted out, YES opts back in (the opt-in keywords come first): no code either.
    [opted_in] = customer_texts(alpha, "YES")
    assert opted_in.origin_ref == "optout:opt_in"
    stop, yes = _inbound(alpha)
    assert stop.campaign_id == yes.campaign_id == campaign.pk
    with schema_context(alpha.schema_name):
        assert not ReplyCode.objects.exclude(phone="").exists()
        assert opt_outs_count(campaign_id=campaign.pk) == 1
        assert replies_count(campaign_id=campaign.pk) == 2


def test_a_stop_to_no_campaign_counts_for_none(alpha, sim_sender):
    campaign = _campaign(alpha)
    campaign_texts(alpha, campaign, hours_ago=80)
    customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        assert opt_outs_count(campaign_id=campaign.pk) == 0


def test_the_action_answers_before_a_keyword_rule_for_recipients_within_72_hours_only(
        alpha, sim_sender):
    campaign = _campaign(alpha)
    with schema_context(alpha.schema_name):
        keyword_rule_save(keyword="yes", reply="The rule's answer.")
    campaign_texts(alpha, campaign)
    campaign_texts(alpha, campaign, OTHER, hours_ago=73)
    _action(alpha, campaign, ["SPRING-1"])
    assert _bodies(customer_texts(alpha, "YES")) == [
        "Your 20% code: SPRING-1. Show it at the till."]
    assert _bodies(customer_texts(alpha, "YES", from_=OTHER)) == ["The rule's answer."]
    assert _bodies(customer_texts(alpha, "YES", from_="+14155550166")) == [
        "The rule's answer."]


def test_of_two_campaigns_answering_a_word_the_latest_to_text_answers(alpha, sim_sender):
    older, newer = _campaign(alpha, "Older"), _campaign(alpha, "Newer")
    campaign_texts(alpha, older, hours_ago=20)
    campaign_texts(alpha, newer, hours_ago=1)
    _action(alpha, older, ["OLD-1"])
    _action(alpha, newer, ["NEW-1"])
    assert "NEW-1" in customer_texts(alpha, "YES")[0].body


def test_an_action_of_an_older_campaign_answers_when_the_latest_has_none(alpha, sim_sender):
    older, newer = _campaign(alpha, "Older"), _campaign(alpha, "Newer")
    campaign_texts(alpha, older, hours_ago=20)
    campaign_texts(alpha, newer, hours_ago=1)
    _action(alpha, older, ["OLD-1"])
    assert "OLD-1" in customer_texts(alpha, "YES")[0].body


# --- Concurrent replies -------------------------------------------------------------------

@pytest.mark.parametrize(("recipients", "codes", "workers"), [(2, 1, 2), (8, 5, 4)])
def test_concurrent_yes_replies_never_get_the_same_code(committed_db, recipients, codes,
                                                        workers):
    """Real connections side by side, each draining the tenant's texts as a worker does:
    every code goes to one number, and the numbers left over get the fallback."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    phones = [f"+1415555{n:04d}" for n in range(recipients)]
    pool = [f"CODE-{n}" for n in range(codes)]
    try:
        campaign = _campaign(alpha)
        for phone in phones:
            campaign_texts(alpha, campaign, phone)
        action = _action(alpha, campaign, pool)
        with schema_context(alpha.schema_name):
            for phone in phones:
                message_receive_simulated(from_address=phone, to=SIM_NUMBER, body="YES")
        start = threading.Barrier(workers)
        failures: list[BaseException] = []

        def work() -> None:
            try:
                with schema_context(alpha.schema_name):
                    start.wait(10)
                    messages_process_pending()
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        with schema_context(alpha.schema_name):
            assert not Message.objects.filter(status="received").exists()
            given = list(ReplyCode.objects.exclude(phone="").values_list("code", "phone"))
            replies = dict(Message.objects.filter(origin_ref=f"reply-action:{action.pk}")
                           .values_list("to_address", "body"))
        assert sorted(code for code, _ in given) == sorted(pool)  # each code once
        holders = {phone: code for code, phone in given}
        assert len(holders) == codes  # each to another number
        assert replies == {
            phone: f"Your 20% code: {holders[phone]}. Show it at the till."
            if phone in holders else "Sorry friend, all codes have gone."
            for phone in phones}
    finally:
        tenant_data_reset(alpha)


# --- The API --------------------------------------------------------------------------------

def test_the_api_creates_lists_and_deletes_actions(alpha, api, sim_sender):
    campaign = _campaign(alpha)
    path = f"campaigns/{campaign.pk}/reply-actions"
    created = api.post(path, {"keyword": "yes!", "reply": REPLY})
    assert created.status_code == 201, created.content
    body = created.json()
    assert {key: body[key] for key in ("campaign", "keyword", "hands_out_codes", "codes")} == {
        "campaign": campaign.pk, "keyword": "YES", "hands_out_codes": True,
        "codes": {"available": 0, "given": 0}}
    assert body["fallback_text"]  # the default apology
    plain = api.post(path, {"keyword": "hours", "reply": "Open 9-5."}).json()
    assert (plain["hands_out_codes"], plain["fallback_text"]) == (False, "")
    listed = api.get(path).json()
    assert [action["keyword"] for action in listed["results"]] == ["HOURS", "YES"]
    assert api.get(f"{path}/{body['id']}").json()["keyword"] == "YES"
    assert api.delete(f"{path}/{body['id']}").status_code == 204
    assert api.get(f"{path}/{body['id']}").status_code == 404
    assert api.get("campaigns/987654/reply-actions").status_code == 404


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"keyword": "STOP"}, "keyword_reserved", "keyword"),
    ({"keyword": "HELP"}, "keyword_reserved", "keyword"),
    ({"keyword": "a-b"}, "invalid_keyword", "keyword"),
    ({"reply": "Code {{ coupon }}"}, "invalid_template", "reply"),
    ({"reply": "x" * 1601}, "validation_error", "reply"),
    ({"reply": "   "}, "validation_error", "reply"),
    ({"fallback_text": "Gone {{ code }}"}, "invalid_template", "fallback_text"),
])
def test_a_bad_action_is_refused_with_its_field_and_nothing_is_stored(
        alpha, api, sim_sender, fields, code, field):
    campaign = _campaign(alpha)
    response = api.post(f"campaigns/{campaign.pk}/reply-actions",
                        {"keyword": "YES", "reply": REPLY, **fields})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    with schema_context(alpha.schema_name):
        assert not ReplyAction.objects.exists()


def test_the_same_keyword_twice_and_a_list_s_join_keyword_are_refused(alpha, api, sim_sender):
    campaign = _campaign(alpha)
    path = f"campaigns/{campaign.pk}/reply-actions"
    assert api.post(path, {"keyword": "YES", "reply": REPLY}).status_code == 201
    again = api.post(path, {"keyword": "yes", "reply": REPLY})
    assert (again.status_code, again.json()["code"]) == (400, "keyword_taken")
    assert api.post("lists", {"name": "VIP", "keyword": "VIP"}).status_code == 201
    joined = api.post(path, {"keyword": "vip", "reply": "Hi"})
    assert (joined.status_code, joined.json()["code"]) == (400, "keyword_reserved")


def test_codes_as_json_and_csv_report_and_drop_duplicates(alpha, api, sim_sender):
    campaign = _campaign(alpha)
    action = api.post(f"campaigns/{campaign.pk}/reply-actions",
                      {"keyword": "YES", "reply": REPLY}).json()
    path = f"/api/v1/campaigns/{campaign.pk}/reply-actions/{action['id']}/codes"
    as_json = api.post(path.removeprefix("/api/v1/"), {"codes": ["A-1", "B-2", "A-1"]})
    assert as_json.status_code == 201
    assert as_json.json() == {"added": 2, "duplicates": 1, "duplicate_codes": ["A-1"],
                              "available": 2, "given": 0}
    csv = SimpleUploadedFile(
        "codes.csv", b"\xef\xbb\xbfcode\r\nB-2\r\nC-3\r\n\r\nD-4,extra\r\nC-3\r\n",
        content_type="text/csv")
    as_csv = api.client.post(path, {"file": csv}, **api.headers)
    assert as_csv.status_code == 201, as_csv.content
    assert as_csv.json() == {"added": 2, "duplicates": 2, "duplicate_codes": ["C-3", "B-2"],
                             "available": 4, "given": 0}
    with schema_context(alpha.schema_name):
        assert sorted(ReplyCode.objects.values_list("code", flat=True)) == [
            "A-1", "B-2", "C-3", "D-4"]


@pytest.mark.parametrize(("upload", "code"), [
    ({"codes": ["OK-1", "has space"]}, "invalid_code"),
    ({"codes": ["OK-1", "x" * 65]}, "validation_error"),
    ({"codes": []}, "validation_error"),
    ({"file": b"OK-1\nbad\x00code\n"}, "invalid_file"),
    ({"file": b"OK-1\n\xff\xfe\n"}, "invalid_file"),
    ({"file": b"code\n"}, "invalid_code"),
])
def test_a_bad_upload_adds_no_code(alpha, api, sim_sender, upload, code):
    campaign = _campaign(alpha)
    action = api.post(f"campaigns/{campaign.pk}/reply-actions",
                      {"keyword": "YES", "reply": REPLY}).json()
    path = f"/api/v1/campaigns/{campaign.pk}/reply-actions/{action['id']}/codes"
    if "file" in upload:
        response = api.client.post(path, {"file": SimpleUploadedFile(
            "codes.csv", upload["file"], content_type="text/csv")}, **api.headers)
    else:
        response = api.post(path.removeprefix("/api/v1/"), upload)
    assert response.status_code == 400
    assert response.json()["code"] == code
    with schema_context(alpha.schema_name):
        assert not ReplyCode.objects.exists()


def test_codes_for_an_action_whose_reply_names_no_code_are_refused(alpha, api, sim_sender):
    campaign = _campaign(alpha)
    action = api.post(f"campaigns/{campaign.pk}/reply-actions",
                      {"keyword": "hours", "reply": "Open 9-5."}).json()
    response = api.post(f"campaigns/{campaign.pk}/reply-actions/{action['id']}/codes",
                        {"codes": ["A-1"]})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_reply")


# --- The page -------------------------------------------------------------------------------

def _owner() -> Client:
    client = host_client("alpha.localhost")
    assert login(client, "owner@alpha.example").status_code == 302
    return client


def test_an_admin_adds_an_action_and_uploads_codes_on_the_page(alpha, sim_sender):
    campaign = _campaign(alpha)
    client = _owner()
    page = f"/campaigns/{campaign.pk}/reply-actions/"
    assert client.get(page).status_code == 200
    refused = client.post(page, {"keyword": "STOP", "reply": REPLY})
    assert refused.status_code == 400
    # The refusal stands beside the field it is about.
    assert re.search(r'<div class="field field-keyword">(?:(?!</div>).)*'
                     r'<span class="error" role="alert">STOP is an opt-out keyword',
                     refused.content.decode(), re.S)
    added = client.post(page, {"keyword": "YES", "reply": REPLY, "fallback_text": ""})
    assert added.status_code == 302
    with schema_context(alpha.schema_name):
        action = ReplyAction.objects.get()
    upload = client.post(f"/campaigns/{campaign.pk}/reply-actions/{action.pk}/codes/", {
        "file": SimpleUploadedFile("codes.csv", b"code\nA-1\nB-2\nA-1\n", "text/csv")},
        follow=True)
    html = upload.content.decode()
    assert "Added 2 codes to YES; 2 available, 0 given. 1 duplicate dropped: A-1." in html
    assert "2 available · 0 given" in html
    bad = client.post(f"/campaigns/{campaign.pk}/reply-actions/{action.pk}/codes/", {
        "file": SimpleUploadedFile("codes.csv", b"has space\n", "text/csv")}, follow=True)
    assert "No codes added: Code 1 is not 1 to 64 characters" in bad.content.decode()
    deleted = client.post(f"/campaigns/{campaign.pk}/reply-actions/{action.pk}/delete/",
                          follow=True)
    assert "No reply actions yet." in deleted.content.decode()


def test_an_agent_may_not_open_the_reply_actions(alpha, sim_sender):
    campaign = _campaign(alpha)
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    client = host_client("alpha.localhost")
    assert login(client, "agent@alpha.example").status_code == 302
    assert client.get(f"/campaigns/{campaign.pk}/reply-actions/").status_code == 403
