"""Subscription lists: the four ways in (join keyword, web form, API, import and a
teammate), double opt-in by YES, STOP ending every membership, the consent log, the pages,
and bad input. Customers' texts are processed in the test thread as the worker would
(``customer_texts``); tests/test_lists_e2e.py runs the same through a real worker and a
browser."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from campaigns import imports as list_imports
from campaigns.imports import do_list_import, list_import_create
from campaigns.lists import list_create, subscriber_add
from campaigns.models import ListConsentEvent, ListImport, SubscriberList, Subscription
from campaigns.sweep import campaigns_sweep
from core.rate_limit import _client as redis_client
from events.actions import subscription_create
from events.models import Event
from events.selectors import subscribed_types_forget
from messaging.models import Contact, Message
from optout.actions import do_opt_out, optout_settings_update
from optout.imports import do_optout_import, optout_import_create
from optout.models import ConsentEvent
from tests.conftest import PASSWORD, login
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


@pytest.fixture(autouse=True)
def _fresh_join_limits() -> Iterator[None]:
    """The join form's buckets live in Redis and outlive a test; every test here posts
    from 127.0.0.1."""
    yield
    keys = list(redis_client().scan_iter(match="ratelimit:join:*"))
    if keys:
        redis_client().delete(*keys)


@pytest.fixture
def vip(alpha, sim_sender) -> SubscriberList:
    with schema_context(alpha.schema_name):
        return list_create(name="VIP club", keyword="vip")


def outbound(tenant) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(direction="outbound").order_by("id"))


def membership(tenant, phone: str = CUSTOMER, **filters) -> Subscription | None:
    with schema_context(tenant.schema_name):
        return Subscription.objects.filter(phone=phone, **filters).select_related(
            "list").first()


def consent_log(tenant, phone: str = CUSTOMER) -> list[ListConsentEvent]:
    with schema_context(tenant.schema_name):
        return list(ListConsentEvent.objects.filter(phone=phone).select_related(
            "message", "actor").order_by("id"))


def nothing_stored(tenant, phone: str) -> bool:
    with schema_context(tenant.schema_name):
        return not (Contact.objects.filter(phone=phone).exists()
                    or Subscription.objects.filter(phone=phone).exists()
                    or ListConsentEvent.objects.filter(phone=phone).exists()
                    or Message.objects.filter(to_address=phone).exists())


# --- Lists through the API ------------------------------------------------------------------

def test_a_new_list_has_texts_that_name_the_business_and_say_how_to_stop(api, sim_sender):
    response = api.post("lists", {"name": "VIP club", "keyword": " vip! "})
    assert response.status_code == 201
    created = response.json()
    assert {k: created[k] for k in ("name", "keyword", "double_opt_in", "subscribers")} == {
        "name": "VIP club", "keyword": "VIP", "double_opt_in": True,
        "subscribers": {"pending": 0, "subscribed": 0, "unsubscribed": 0}}
    confirmation, welcome = created["confirmation_text"], created["welcome_text"]
    for phrase in ("Alpha", "YES", "Msg frequency varies", "Msg & data rates may apply",
                   "HELP", "STOP"):
        assert phrase in confirmation
    assert "Alpha" in welcome and "STOP" in welcome
    assert created["join_url"] == "http://alpha.localhost/join/vip-club"
    silent = api.post("lists", {"name": "Receipts", "welcome_text": "",
                                "double_opt_in": False}).json()
    assert silent["welcome_text"] == "" and silent["keyword"] is None
    assert api.get(f"lists/{created['id']}").json()["name"] == "VIP club"
    assert [item["id"] for item in api.get("lists").json()["results"]] == [
        silent["id"], created["id"]]


@pytest.mark.parametrize(("keyword", "code"), [
    ("stop", "keyword_reserved"), ("Help", "keyword_reserved"), ("START", "keyword_reserved"),
    ("yes", "keyword_reserved"), ("OK", "keyword_reserved"), ("vip", "keyword_taken"),
    ("no-way", "invalid_keyword"), ("x" * 31, "invalid_keyword"),
])
def test_a_keyword_with_another_meaning_is_refused_with_a_field_error(api, vip, keyword,
                                                                      code):
    response = api.post("lists", {"name": "Other", "keyword": keyword})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["fields"]["keyword"][0]["code"] == code


def test_a_tenants_own_optout_keywords_and_list_keywords_exclude_each_other(alpha, api, vip):
    with schema_context(alpha.schema_name):
        optout_settings_update(optin_keywords=["START", "UNSTOP", "JOIN"])
    assert api.post("lists", {"name": "Other", "keyword": "join"}).json()["code"] == (
        "keyword_reserved")
    refused = api.put("optout-settings", {"help_keywords": ["HELP", "INFO", "VIP"]})
    assert refused.status_code == 400
    assert refused.json()["fields"]["help_keywords"][0]["code"] == "duplicate_keyword"


def test_a_confirmation_that_does_not_ask_for_yes_is_refused(api, sim_sender):
    response = api.post("lists", {"name": "VIP", "confirmation_text": "Welcome aboard!"})
    assert (response.status_code, response.json()["code"]) == (400, "confirmation_needs_yes")
    assert api.post("lists", {"name": "VIP", "double_opt_in": False,
                              "confirmation_text": "Hi"}).status_code == 201


def test_patch_turns_the_welcome_off_and_drops_the_keyword(api, vip):
    response = api.patch(f"lists/{vip.pk}", {"welcome_text": "", "keyword": None})
    assert response.status_code == 200
    assert (response.json()["welcome_text"], response.json()["keyword"]) == ("", None)
    assert response.json()["double_opt_in"] is True
    renamed = api.patch(f"lists/{vip.pk}", {"name": "Gold club"}).json()
    assert "Gold club" in renamed["confirmation_text"]  # the default follows the name
    assert api.delete(f"lists/{vip.pk}").status_code == 204
    assert api.get(f"lists/{vip.pk}").status_code == 404


def test_an_unknown_list_is_404_everywhere(api, sim_sender):
    for answer in (api.get("lists/999999"), api.get("lists/999999/subscribers"),
                   api.post("lists/999999/subscribers", {"phone": CUSTOMER, "source": "api"}),
                   api.delete(f"lists/999999/subscribers/{CUSTOMER}"),
                   api.patch("lists/999999", {"name": "x"})):
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_lists_need_the_campaigns_scope_and_an_admin(alpha, alpha_client, vip):
    reader = Api(alpha, key_for(alpha, ["contacts"]))
    assert reader.get("lists").status_code == 403
    assert Api(alpha, key_for(alpha, ["campaigns"])).get("lists").status_code == 200
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    assert alpha_client.get("/api/v1/lists").status_code == 403
    assert alpha_client.get("/lists/").status_code == 403


# --- Members through the API ----------------------------------------------------------------

def test_an_api_sign_up_is_pending_with_one_confirmation_resent_at_most_hourly(alpha, api,
                                                                               vip):
    path = f"lists/{vip.pk}/subscribers"
    response = api.post(path, {"phone": CUSTOMER, "name": "Ann", "tags": ["spring"],
                               "source": "api"})
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("phone", "status", "list")} == {
        "phone": CUSTOMER, "status": "pending", "list": vip.pk}
    [confirmation] = outbound(alpha)
    assert (confirmation.body, confirmation.from_address) == (vip.confirmation_text,
                                                              SIM_NUMBER)
    again = api.post(path, {"phone": CUSTOMER, "source": "api"})
    assert (again.status_code, again.json()["status"]) == (200, "pending")
    assert len(outbound(alpha)) == 1
    with schema_context(alpha.schema_name):
        Subscription.objects.update(confirmation_sent_at=timezone.now() - timedelta(hours=2))
        contact = Contact.objects.get(phone=CUSTOMER)
        assert (contact.name, contact.tags) == ("Ann", ["spring"])
    assert api.post(path, {"phone": CUSTOMER, "source": "api"}).status_code == 200
    assert len(outbound(alpha)) == 2
    listed = api.get(path, status="pending").json()["results"]
    assert [m["phone"] for m in listed] == [CUSTOMER]
    assert api.get(path, status="subscribed").json()["results"] == []
    assert api.get(f"lists/{vip.pk}").json()["subscribers"]["pending"] == 1


def test_staff_and_import_sources_subscribe_at_once_on_evidence_without_sms(alpha, api, vip):
    path = f"lists/{vip.pk}/subscribers"
    missing = api.post(path, {"phone": CUSTOMER, "source": "staff"})
    assert (missing.status_code, missing.json()["code"]) == (400, "evidence_required")
    assert nothing_stored(alpha, CUSTOMER)
    response = api.post(path, {"phone": CUSTOMER, "source": "staff",
                               "evidence": "Signed the sheet at the counter"})
    assert (response.status_code, response.json()["status"]) == (201, "subscribed")
    assert outbound(alpha) == []
    [logged] = consent_log(alpha)
    assert (logged.action, logged.source, logged.evidence) == (
        "subscribed", "staff", "Signed the sheet at the counter")
    assert logged.actor_label.startswith("api key ")
    detail = api.get(f"{path}/{CUSTOMER}").json()
    assert detail["status"] == "subscribed"
    assert [event["action"] for event in detail["history"]] == ["subscribed"]


def test_without_double_opt_in_an_api_sign_up_gets_the_welcome_once(alpha, api, sim_sender):
    open_list = api.post("lists", {"name": "Deals", "double_opt_in": False}).json()
    response = api.post(f"lists/{open_list['id']}/subscribers",
                        {"phone": CUSTOMER, "source": "api"})
    assert response.json()["status"] == "subscribed"
    assert [m.body for m in outbound(alpha)] == [open_list["welcome_text"]]
    quiet = api.post("lists", {"name": "Quiet", "double_opt_in": False,
                               "welcome_text": ""}).json()
    api.post(f"lists/{quiet['id']}/subscribers", {"phone": OTHER, "source": "api"})
    assert len(outbound(alpha)) == 1


def test_bad_numbers_and_opted_out_numbers_are_refused_leaving_nothing(alpha, api, vip):
    path = f"lists/{vip.pk}/subscribers"
    bad = api.post(path, {"phone": "12", "source": "api"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_phone_number")
    assert bad.json()["fields"]["phone"][0]["code"] == "invalid_phone_number"
    with schema_context(alpha.schema_name):
        do_opt_out(phone=OTHER, source=ConsentEvent.Source.ADMIN)
    for source, evidence in (("api", ""), ("staff", "Asked in the shop")):
        refused = api.post(path, {"phone": OTHER, "source": source, "evidence": evidence})
        assert (refused.status_code, refused.json()["code"]) == (409, "recipient_opted_out")
    assert nothing_stored(alpha, OTHER)
    with schema_context(alpha.schema_name):
        assert not Contact.objects.filter(phone="12").exists()


def test_no_approved_sender_to_confirm_from_stores_nothing(alpha, api):
    with schema_context(alpha.schema_name):
        subscriber_list = list_create(name="Early")
    response = api.post(f"lists/{subscriber_list.pk}/subscribers",
                        {"phone": CUSTOMER, "source": "api"})
    assert (response.status_code, response.json()["code"]) == (400, "no_sender")
    assert nothing_stored(alpha, CUSTOMER)


def test_the_words_members_confirm_with_cannot_become_opt_in_keywords(alpha, api, vip):
    """An opt-in keyword YES would answer before the list step: no pending member could
    ever confirm again."""
    for word in ("YES", "Y", "OK"):
        refused = api.put("optout-settings", {"optin_keywords": ["START", "UNSTOP", word]})
        assert refused.status_code == 400, word
        assert refused.json()["fields"]["optin_keywords"][0]["code"] == "duplicate_keyword"


def test_someone_who_left_is_not_added_back_by_a_teammate_or_an_import(alpha, api, vip):
    path = f"lists/{vip.pk}/subscribers"
    api.post(path, {"phone": CUSTOMER, "source": "staff", "evidence": "Phone call"})
    api.delete(f"{path}/{CUSTOMER}")
    for source in ("staff", "import"):
        refused = api.post(path, {"phone": CUSTOMER, "source": source, "evidence": "Again"})
        assert (refused.status_code, refused.json()["code"]) == (409, "unsubscribed")
    assert membership(alpha).status == "unsubscribed"


def test_add_to_list_with_an_odd_id_answers_without_a_server_error(alpha, owner, vip):
    for contact, list_id in (("abc", str(vip.pk)), ("\u00b2", str(vip.pk)), ("1", "\u00b2")):
        response = owner.post("/lists/add-contact/", {"contact": contact, "list": list_id})
        assert response.status_code in (302, 404), (contact, list_id, response.status_code)


def test_deleting_a_member_unsubscribes_them_and_logs_it(alpha, api, vip):
    path = f"lists/{vip.pk}/subscribers"
    api.post(path, {"phone": CUSTOMER, "source": "staff", "evidence": "Phone call"})
    assert api.delete(f"{path}/{CUSTOMER}?reason=asked").status_code == 204
    assert membership(alpha).status == "unsubscribed"
    assert [e.action for e in consent_log(alpha)] == ["subscribed", "unsubscribed"]
    assert api.delete(f"{path}/{CUSTOMER}").status_code == 204  # nothing more to do
    never = api.delete(f"{path}/{OTHER}")
    assert (never.status_code, never.json()["code"]) == (404, "not_a_member")
    assert api.get(f"{path}/{OTHER}").status_code == 404


# --- A customer's texts ---------------------------------------------------------------------

def test_the_keyword_then_yes_gives_one_confirmation_one_welcome_and_a_logged_consent(
        alpha, vip):
    [confirmation] = customer_texts(alpha, "Vip")
    assert confirmation.body == vip.confirmation_text
    assert confirmation.to_address == CUSTOMER and confirmation.from_address == SIM_NUMBER
    assert membership(alpha).status == "pending"
    assert customer_texts(alpha, "VIP!") == []  # within the hour: nothing more
    [welcome] = customer_texts(alpha, "yes")
    assert welcome.body == vip.welcome_text
    assert membership(alpha).status == "subscribed"
    assert customer_texts(alpha, "YES") == []
    pending, subscribed = consent_log(alpha)
    assert (pending.action, pending.source, pending.confirmation_message_id) == (
        "pending", "keyword", confirmation.pk)
    assert pending.message.body == "Vip"
    assert (subscribed.action, subscribed.confirmation_message_id) == ("subscribed",
                                                                       confirmation.pk)
    assert subscribed.message.body == "yes"


@pytest.mark.parametrize("word", ["Y", "ok.", " Yes! "])
def test_every_documented_yes_confirms(alpha, vip, word):
    customer_texts(alpha, "VIP")
    assert len(customer_texts(alpha, word)) == 1
    assert membership(alpha).status == "subscribed"


def test_a_yes_after_72_hours_confirms_nothing_and_the_sweep_drops_the_member(alpha, vip,
                                                                              sim_sender):
    customer_texts(alpha, "VIP")
    with schema_context(alpha.schema_name):
        Subscription.objects.update(
            confirmation_sent_at=timezone.now() - timedelta(hours=72, minutes=1))
    assert customer_texts(alpha, "YES") == []
    assert membership(alpha).status == "pending"
    with schema_context(alpha.schema_name):
        campaigns_sweep(schema=alpha.schema_name, now=timezone.now(),
                        stale_before=timezone.now())
    assert membership(alpha) is None
    assert [e.action for e in consent_log(alpha)] == ["pending", "expired"]
    assert len(outbound(alpha)) == 1  # dropped silently


def test_a_yes_from_someone_not_pending_goes_on_to_the_rules(alpha, api, vip):
    api.post("keyword-rules", {"keyword": "yes", "reply": "Great!"})
    [reply] = customer_texts(alpha, "YES")
    assert reply.body == "Great!"
    assert membership(alpha) is None


def test_the_join_keyword_answers_before_a_rule_with_the_same_word(alpha, api, vip):
    api.post("keyword-rules", {"keyword": "vip", "reply": "Rule reply"})
    [confirmation] = customer_texts(alpha, "vip")
    assert confirmation.body == vip.confirmation_text


def test_a_keyword_member_is_answered_by_the_sender_they_texted(alpha, vip):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    [confirmation] = customer_texts(alpha, "VIP", to=SIM_NUMBER_2)
    assert confirmation.from_address == SIM_NUMBER_2
    [welcome] = customer_texts(alpha, "YES", to=SIM_NUMBER_2)
    assert welcome.from_address == SIM_NUMBER_2


def test_stop_from_a_member_of_two_lists_leaves_them_in_none_and_start_rejoins_none(
        alpha, api, vip):
    with schema_context(alpha.schema_name):
        deals = list_create(name="Deals", double_opt_in=False)
        subscriber_add(subscriber_list=deals, phone=CUSTOMER, source="staff",
                       evidence="Asked at the till")
    customer_texts(alpha, "VIP")
    customer_texts(alpha, "YES")
    [stop_confirmation] = customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        assert list(Subscription.objects.values_list("status", flat=True)) == [
            "unsubscribed", "unsubscribed"]
        stop = Message.objects.get(direction="inbound", body="STOP")
        ended = ListConsentEvent.objects.filter(action="unsubscribed")
        assert sorted(e.list_name for e in ended) == ["Deals", "VIP club"]
        assert {(e.source, e.message_id) for e in ended} == {("keyword", stop.pk)}
    assert "unsubscribed" in stop_confirmation.body
    customer_texts(alpha, "START")
    assert {s.status for s in (membership(alpha, list__name="VIP club"),
                               membership(alpha, list__name="Deals"))} == {"unsubscribed"}
    lists = api.get("lists").json()["results"]
    assert [item["subscribers"] for item in lists] == [
        {"pending": 0, "subscribed": 0, "unsubscribed": 1}] * 2


def test_stop_while_pending_ends_it_and_a_later_yes_is_an_opt_in_only(alpha, vip):
    customer_texts(alpha, "VIP")
    customer_texts(alpha, "STOP")
    [opt_in] = customer_texts(alpha, "YES")  # YES while opted out opts back in (STOP rules)
    assert "subscribed again" in opt_in.body
    assert membership(alpha).status == "unsubscribed"


def test_an_opted_out_customer_texting_the_keyword_gets_nothing(alpha, vip):
    with schema_context(alpha.schema_name):
        do_opt_out(phone=CUSTOMER, source=ConsentEvent.Source.ADMIN)
    assert customer_texts(alpha, "VIP") == []
    assert membership(alpha) is None


def test_an_optout_import_ends_memberships_too(alpha, api, vip):
    api.post(f"lists/{vip.pk}/subscribers", {"phone": CUSTOMER, "source": "staff",
                                             "evidence": "Phone call"})
    with schema_context(alpha.schema_name):
        job = optout_import_create(file_name="out.csv", content=f"{CUSTOMER}\n".encode())
        do_optout_import(import_id=job.pk)
    assert membership(alpha).status == "unsubscribed"
    assert consent_log(alpha)[-1].source == "import"


def test_each_change_is_announced_as_subscriber_changed(alpha, vip):
    with schema_context(alpha.schema_name):
        subscription_create(url="http://127.0.0.1:9/events", events=["subscriber.changed"])
        subscribed_types_forget()
    try:
        customer_texts(alpha, "VIP")
        customer_texts(alpha, "YES")
        customer_texts(alpha, "STOP")
        with schema_context(alpha.schema_name):
            payloads = [json.loads(e.payload) for e in
                        Event.objects.filter(type="subscriber.changed").order_by("id")]
    finally:
        with schema_context(alpha.schema_name):
            subscribed_types_forget()
    assert [(p["data"]["previous_status"], p["data"]["status"]) for p in payloads] == [
        (None, "pending"), ("pending", "subscribed"), ("subscribed", "unsubscribed")]
    first = payloads[0]["data"]
    assert first["list"] == {"id": vip.pk, "name": "VIP club"}
    assert first["phone"] == CUSTOMER and first["source"] == "keyword"
    assert first["confirmation_message"] is not None


# --- Imports --------------------------------------------------------------------------------

def _import(tenant, subscriber_list, content: str, **extra) -> ListImport:
    with schema_context(tenant.schema_name):
        job = list_import_create(
            subscriber_list=subscriber_list, file_name="people.csv", content=content.encode(),
            consent_source=extra.get("consent_source", "Paper sign-up sheet"),
            evidence=extra.get("evidence", "Scans in the shared drive"))
        do_list_import(import_id=job.pk)
        return ListImport.objects.get(pk=job.pk)


def test_an_import_subscribes_at_once_texts_nobody_and_reports_each_bad_row(alpha, api, vip):
    path = f"lists/{vip.pk}/subscribers"
    with schema_context(alpha.schema_name):
        do_opt_out(phone="+14155550103", source=ConsentEvent.Source.KEYWORD)
        Contact.objects.create(phone="+14155550101", name="Old name", tags=["old"],
                               fields={"plan": "basic", "city": "Oslo"})
    api.post(path, {"phone": "+14155550104", "source": "api"})  # pending: confirmed now
    api.post(path, {"phone": "+14155550105", "source": "staff", "evidence": "call"})
    api.post(path, {"phone": "+14155550106", "source": "staff", "evidence": "call"})
    api.delete(f"{path}/+14155550106")  # left: not re-added by an import
    texted = len(outbound(alpha))
    job = _import(alpha, vip, "\n".join([
        "Phone,Name,Tags,plan",
        "+14155550100,Ann,vip; spring,gold",
        "+1 415 555 0101,,spring,pro",
        "not-a-number,Bad,,",
        "+14155550103,Opted,,",
        "+14155550100,Ann again,,",
        "+14155550104,,,",
        "+14155550105,,,",
        "+14155550106,,,",
        "",
    ]))
    assert (job.status, job.total_rows, job.processed_rows) == ("done", 8, 8)
    assert (job.added, job.already, job.error_count) == (3, 1, 4)
    assert [(e["line"], e["code"]) for e in job.errors] == [
        (4, "invalid_phone_number"), (5, "recipient_opted_out"), (6, "duplicate"),
        (9, "unsubscribed")]
    assert len(outbound(alpha)) == texted
    with schema_context(alpha.schema_name):
        ann = Contact.objects.get(phone="+14155550100")
        assert (ann.name, ann.tags, ann.fields) == ("Ann", ["vip", "spring"], {"plan": "gold"})
        old = Contact.objects.get(phone="+14155550101")
        assert (old.name, old.tags, old.fields) == ("Old name", ["old", "spring"],
                                                    {"plan": "pro", "city": "Oslo"})
        statuses = dict(Subscription.objects.values_list("phone", "status"))
        logged = ListConsentEvent.objects.filter(source="import")
        assert {e.phone for e in logged} == {"+14155550100", "+14155550101", "+14155550104"}
        assert all(e.evidence == "Paper sign-up sheet. Scans in the shared drive"
                   for e in logged)
    assert statuses == {"+14155550100": "subscribed", "+14155550101": "subscribed",
                        "+14155550104": "subscribed", "+14155550105": "subscribed",
                        "+14155550106": "unsubscribed"}


def _upload(api: Api, subscriber_list, content: bytes, **fields):
    data = {"consent_source": "Checkout box", "evidence": "Order records", **fields}
    if content is not None:
        data["file"] = SimpleUploadedFile("people.csv", content, content_type="text/csv")
    return api.client.post(f"/api/v1/lists/{subscriber_list.pk}/imports", data,
                           **api.headers)


@pytest.mark.parametrize(("content", "fields", "code"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "invalid_file"),
    (b"number,name\n+14155550100,Ann\n", {}, "missing_phone_column"),
    (b"phone,name\n", {}, "invalid_file"),
    (b"phone\n+14155550100\n", {"consent_source": ""}, "validation_error"),
    (b'phone\n"' + b"x" * 140_000 + b'"\n', {}, "invalid_file"),
    (b"phone,my field\n+14155550100,x\n", {}, "invalid_file"),
])
def test_an_unusable_csv_is_refused_whole_with_a_clear_code(alpha, api, vip, content, fields,
                                                            code):
    response = _upload(api, vip, content, **fields)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]
    with schema_context(alpha.schema_name):
        assert not ListImport.objects.exists()


def test_a_csv_too_large_is_refused(alpha, api, vip, monkeypatch):
    monkeypatch.setattr(list_imports, "MAX_IMPORT_BYTES", 100)
    response = _upload(api, vip, b"phone\n" + b"+14155550100\n" * 20)
    assert (response.status_code, response.json()["code"]) == (400, "file_too_large")


def test_an_import_through_the_api_reports_its_progress(alpha, api, vip):
    response = _upload(api, vip, b"phone,name\n+14155550100,Ann\n12,Bad\n")
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["total_rows"], job["list"]) == ("pending", 2, vip.pk)
    with schema_context(alpha.schema_name):
        do_list_import(import_id=job["id"])
    done = api.get(f"lists/{vip.pk}/imports/{job['id']}").json()
    assert (done["status"], done["added"], done["error_count"], done["percent"]) == (
        "done", 1, 1, 100)
    assert done["errors"][0]["line"] == 3


# --- Pages ----------------------------------------------------------------------------------

@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_an_owner_creates_a_list_and_manages_its_members_on_the_pages(alpha, owner,
                                                                       sim_sender):
    assert b"No lists yet." in owner.get("/lists/").content
    refused = owner.post("/lists/", {"name": "Club", "keyword": "STOP"})
    assert refused.status_code == 400 and b"opt-out keyword" in refused.content
    created = owner.post("/lists/", {"name": "Club", "keyword": "club", "double_opt_in": "on",
                                     "send_welcome": "on"})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        club = SubscriberList.objects.get()
    assert created["Location"] == f"/lists/{club.pk}/"
    assert "Alpha" in club.welcome_text
    added = owner.post(f"/lists/{club.pk}/", {"member-phone": CUSTOMER, "member-name": "Ann",
                                              "member-evidence": "At the till"})
    assert added.status_code == 302
    no_evidence = owner.post(f"/lists/{club.pk}/", {"member-phone": OTHER})
    assert no_evidence.status_code == 400
    page = owner.get(f"/lists/{club.pk}/?status=subscribed&q=ann").content.decode()
    assert CUSTOMER in page and "1 member" in page
    assert "0 pending · 1 subscribed · 0 unsubscribed" in page
    assert "http://alpha.localhost/join/club" in page
    assert OTHER not in owner.get(f"/lists/{club.pk}/?status=pending").content.decode()
    member = membership(alpha)
    history = owner.get(f"/lists/{club.pk}/members/{member.pk}/").content.decode()
    assert "At the till" in history and "owner@alpha.example" in history
    owner.post(f"/lists/{club.pk}/members/{member.pk}/remove/", {"reason": "Asked"})
    assert membership(alpha).status == "subscribed"  # asked first
    owner.post(f"/lists/{club.pk}/members/{member.pk}/remove/",
               {"reason": "Asked", "confirm": "yes"})
    assert membership(alpha).status == "unsubscribed"
    qr = owner.get(f"/lists/{club.pk}/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    sign = owner.get(f"/lists/{club.pk}/sign/").content.decode()
    assert "Texts from Alpha" in sign and f"/lists/{club.pk}/qr.svg" in sign
    assert "CLUB" in sign and SIM_NUMBER in sign
    assert owner.post(f"/lists/{club.pk}/delete/").status_code == 200  # the question
    assert owner.post(f"/lists/{club.pk}/delete/", {"confirm": "yes"}).status_code == 302
    with schema_context(alpha.schema_name):
        assert not SubscriberList.objects.exists()
        assert ListConsentEvent.objects.filter(list_name="Club").count() == 2


def test_the_export_is_spreadsheet_safe(alpha, owner, vip):
    with schema_context(alpha.schema_name):
        subscriber_add(subscriber_list=vip, phone=CUSTOMER, source="staff", evidence="x",
                       name="=HYPERLINK(\"http://evil\")", tags=["@risk"])
    response = owner.get(f"/lists/{vip.pk}/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["phone", "name", "status"]
    assert rows[1][:5] == [CUSTOMER, "'=HYPERLINK(\"http://evil\")", "subscribed", "staff",
                           "'@risk"]


def test_the_import_page_shows_progress_and_errors(alpha, owner, vip):
    upload = SimpleUploadedFile("people.csv", b"phone\n+14155550100\nnope\n")
    response = owner.post(f"/lists/{vip.pk}/import/", {
        "import-file": upload, "import-consent_source": "Sheet",
        "import-evidence": "In the drawer"})
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        job = ListImport.objects.get()
        do_list_import(import_id=job.pk)
    page = owner.get(response["Location"]).content.decode()
    assert '<span data-field="added">1</span> subscribed' in page
    assert "nope" in page and "progress" in page
    progress = owner.get(response["Location"] + "?format=json").json()
    assert (progress["finished"], progress["added"], progress["error_count"]) == (True, 1, 1)
    refused = owner.post(f"/lists/{vip.pk}/import/", {
        "import-file": SimpleUploadedFile("x.csv", b"name\nAnn\n"),
        "import-consent_source": "Sheet", "import-evidence": "Drawer"}, follow=True)
    assert "phone" in refused.content.decode()


def test_the_contact_panel_adds_a_contact_to_a_list(alpha, owner, vip):
    customer_texts(alpha, "Hello")
    with schema_context(alpha.schema_name):
        contact = Contact.objects.get(phone=CUSTOMER)
        conversation = contact.conversations.get()
    page = owner.get(f"/?c={conversation.pk}").content.decode()
    assert "Add to list" in page and "VIP club" in page
    response = owner.post("/lists/add-contact/", {
        "contact": contact.pk, "list": vip.pk, "evidence": "Asked in the chat",
        "next": f"/?c={conversation.pk}"})
    assert response["Location"] == f"/?c={conversation.pk}"
    member = membership(alpha)
    assert (member.status, member.source) == ("subscribed", "staff")
    assert consent_log(alpha)[0].actor.email == "owner@alpha.example"
    assert "subscribed" in owner.get(f"/?c={conversation.pk}").content.decode()
    assert owner.post("/lists/add-contact/", {
        "contact": contact.pk, "list": vip.pk, "next": "https://evil.example/"},
    )["Location"] == "/"


# --- The public join form -------------------------------------------------------------------

def test_the_join_form_names_the_business_and_leaves_consent_unticked(alpha, alpha_client,
                                                                      vip):
    page = alpha_client.get(f"/join/{vip.slug}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Alpha" in html and "Join VIP club" in html
    box = re.search(r'<input type="checkbox" name="consent"[^>]*>', html).group(0)
    assert "checked" not in box
    assert "Msg &amp; data rates may apply" in html
    assert alpha_client.get("/join/no-such-list").status_code == 404


def test_without_consent_the_form_comes_back_and_nothing_is_stored(alpha, alpha_client, vip):
    response = alpha_client.post(f"/join/{vip.slug}", {"phone": CUSTOMER})
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    assert f'value="{CUSTOMER}"' in response.content.decode()
    assert nothing_stored(alpha, CUSTOMER)
    bad = alpha_client.post(f"/join/{vip.slug}", {"phone": "12", "consent": "yes"})
    assert bad.status_code == 400 and "international format" in bad.content.decode()


def test_a_sign_up_on_the_form_is_pending_with_the_call_to_action_as_evidence(
        alpha, alpha_client, vip):
    response = alpha_client.post(f"/join/{vip.slug}", {"phone": CUSTOMER, "consent": "yes"})
    assert response.status_code == 302
    assert response["Location"] == f"/join/{vip.slug}/done"
    assert "reply" in alpha_client.get(response["Location"]).content.decode()
    [confirmation] = outbound(alpha)
    assert confirmation.body == vip.confirmation_text
    [logged] = consent_log(alpha)
    assert (logged.action, logged.source) == ("pending", "web_form")
    assert logged.evidence.startswith("I agree to receive recurring automated marketing")
    assert "Alpha" in logged.evidence and logged.actor_label == "web form from 127.0.0.1"
    assert logged.confirmation_message_id == confirmation.pk


def test_an_opted_out_number_on_the_form_gets_the_same_answer_and_nothing(alpha, alpha_client,
                                                                           vip):
    with schema_context(alpha.schema_name):
        do_opt_out(phone=OTHER, source=ConsentEvent.Source.ADMIN)
    response = alpha_client.post(f"/join/{vip.slug}", {"phone": OTHER, "consent": "yes"})
    assert response["Location"] == f"/join/{vip.slug}/done"
    assert nothing_stored(alpha, OTHER)


def test_the_form_is_rate_limited_per_number_and_per_address(alpha, alpha_client, vip,
                                                             settings):
    settings.JOIN_FORM_PER_PHONE_PER_HOUR = 2
    settings.JOIN_FORM_PER_IP_PER_HOUR = 4
    answers = [alpha_client.post(f"/join/{vip.slug}", {"phone": CUSTOMER, "consent": "yes"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Too many sign-ups for this number" in answers[2].content.decode()
    answers = [alpha_client.post(f"/join/{vip.slug}", {"phone": f"+1415555012{i}",
                                                       "consent": "yes"}) for i in range(2)]
    assert [a.status_code for a in answers] == [302, 429]
    assert "Too many sign-ups from here" in answers[1].content.decode()
    assert membership(alpha, phone="+14155550121") is None
    assert len(outbound(alpha)) == 2  # a confirmation, and one for the second number
