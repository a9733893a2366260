"""Canned responses: the service that saves them, the owners' and admins' page, and the
inbox composer, where every role uses them (the ``/shortcode`` list itself is driven in a
browser in tests/test_inbox_browser.py)."""

from __future__ import annotations

import json
import re

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from core.errors import DomainError
from messaging.canned import canned_response_append, canned_response_save
from messaging.contacts import contact_update
from messaging.models import CannedResponse, Conversation, Message
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import CUSTOMER, SIM_NUMBER, customer_texts

THANKS = 'Thanks {{ contact.name | default: "there" }}, {{ sender }} will call you back.'


@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def member(alpha, role: str):
    """A signed-in client of a new teammate with ``role``."""
    email = f"{role}@alpha.example"
    with schema_context(alpha.schema_name):
        User.objects.create_user(email, PASSWORD, role=role)
    client = host_client("alpha.localhost")
    login(client, email)
    return client


def canned(alpha, shortcode: str, body: str) -> CannedResponse:
    with schema_context(alpha.schema_name):
        return canned_response_save(shortcode=shortcode, body=body)


def stored(alpha) -> list[tuple[str, str]]:
    with schema_context(alpha.schema_name):
        return list(CannedResponse.objects.values_list("shortcode", "body"))


def conversation_of(alpha) -> Conversation:
    with schema_context(alpha.schema_name):
        return Conversation.objects.select_related("contact").get(contact__phone=CUSTOMER)


# The service.

def test_a_shortcode_is_kept_as_the_composer_matches_it(alpha):
    saved = canned(alpha, " /Thanks-2_u ", "  Thank you!  ")
    assert (saved.shortcode, saved.body) == ("thanks-2_u", "Thank you!")


@pytest.mark.parametrize(("shortcode", "body", "code", "field"), [
    ("thank you", "Hi", "invalid_shortcode", "shortcode"),
    ("merci-beaucoup-é", "Hi", "invalid_shortcode", "shortcode"),
    ("a.b", "Hi", "invalid_shortcode", "shortcode"),
    ("/", "Hi", "invalid_shortcode", "shortcode"),
    ("x" * 31, "Hi", "invalid_shortcode", "shortcode"),
    ("hi", " \n ", "empty_body", "body"),
    ("hi", "Hi {{ contact.secret }}", "invalid_template", "body"),
    ("hi", "Hi {{ contact.name", "invalid_template", "body"),
    ("hi", "ж" * 671, "body_too_long", "body"),
])
def test_the_service_refuses_and_writes_nothing(alpha, shortcode, body, code, field):
    with pytest.raises(DomainError) as refused:
        canned(alpha, shortcode, body)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert stored(alpha) == []


def test_shortcodes_are_unique_and_an_edit_keeps_its_own(alpha):
    first = canned(alpha, "hours", "9 to 5")
    canned(alpha, "address", "12 Long Street")
    with pytest.raises(DomainError) as refused:
        canned(alpha, "Hours", "Always open")
    assert refused.value.code == "shortcode_exists"
    with schema_context(alpha.schema_name):
        canned_response_save(canned=first, shortcode="hours", body="8 to 6")
        with pytest.raises(DomainError) as renamed:
            canned_response_save(canned=first, shortcode="address", body="8 to 6")
    assert renamed.value.code == "shortcode_exists"
    assert first.shortcode == "hours"  # the refused change is not left on the object
    assert sorted(stored(alpha)) == [("address", "12 Long Street"), ("hours", "8 to 6")]


def test_an_edit_of_one_deleted_meanwhile_does_not_bring_it_back(alpha):
    stale = canned(alpha, "hours", "9 to 5")
    with schema_context(alpha.schema_name):
        CannedResponse.objects.filter(pk=stale.pk).delete()  # another tab, another admin
        with pytest.raises(DomainError) as refused:
            canned_response_save(canned=stale, shortcode="hours", body="8 to 6")
    assert refused.value.code == "canned_response_deleted"
    assert stored(alpha) == []


def test_the_database_refuses_a_shortcode_the_composer_could_not_match(alpha):
    with schema_context(alpha.schema_name), pytest.raises(IntegrityError), \
            transaction.atomic():
        CannedResponse.objects.create(shortcode="Not Valid", body="x")


def test_appending_to_what_was_typed():
    assert canned_response_append(body="", text="Hello") == "Hello"
    assert canned_response_append(body="  ", text="Hello") == "Hello"
    assert canned_response_append(body="Hi.", text="Hello") == "Hi. Hello"
    assert canned_response_append(body="Hi.\n", text="Hello") == "Hi.\nHello"


# The page of owners and admins.

def test_owner_adds_edits_and_deletes_a_canned_response(alpha, owner):
    page = owner.get("/canned-responses/")
    assert page.status_code == 200 and b"No canned responses yet." in page.content
    assert b'href="/canned-responses/">Canned responses</a>' in page.content  # in the nav
    added = owner.post("/canned-responses/", {"shortcode": "thanks", "body": THANKS},
                       follow=True)
    assert b"Canned response added." in added.content
    assert b"<code>/thanks</code>" in added.content
    assert stored(alpha) == [("thanks", THANKS)]
    with schema_context(alpha.schema_name):
        pk = CannedResponse.objects.get().pk
    form = owner.get(f"/canned-responses/{pk}/").content.decode()
    assert 'value="thanks"' in form and "Thanks {{ contact.name" in form
    edited = owner.post(f"/canned-responses/{pk}/", {"shortcode": "ty", "body": "Ta!"},
                        follow=True)
    assert b"Saved /ty." in edited.content
    assert stored(alpha) == [("ty", "Ta!")]
    assert b"Delete the canned response /ty?" in owner.get(
        f"/canned-responses/{pk}/delete/").content
    owner.post(f"/canned-responses/{pk}/delete/")  # not confirmed: nothing goes
    assert stored(alpha) == [("ty", "Ta!")]
    deleted = owner.post(f"/canned-responses/{pk}/delete/", {"confirm": "yes"}, follow=True)
    assert b"Deleted /ty." in deleted.content
    assert stored(alpha) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"shortcode": "hours", "body": "Again"}, "/hours is already a canned response."),
    ({"shortcode": "opening hours", "body": "x"}, "Use 1-30 lowercase letters"),
    ({"shortcode": "late", "body": "  "}, "This field is required."),
    ({"shortcode": "", "body": "x"}, "This field is required."),
    ({"shortcode": "late", "body": "Hi {{ contact.secret }}"}, "Unknown placeholder"),
])
def test_form_errors_are_shown_and_nothing_is_saved(alpha, owner, fields, message):
    canned(alpha, "hours", "9 to 5")
    response = owner.post("/canned-responses/", fields)
    assert response.status_code == 400
    assert re.search(r'<span class="error" role="alert">[^<]*' + re.escape(message),
                     response.content.decode())
    assert stored(alpha) == [("hours", "9 to 5")]


def test_a_refused_edit_changes_nothing(alpha, owner):
    canned(alpha, "hours", "9 to 5")
    address = canned(alpha, "address", "12 Long Street")
    response = owner.post(f"/canned-responses/{address.pk}/",
                          {"shortcode": "hours", "body": "Moved"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "/hours is already a canned response." in html
    assert "<h1>Edit canned response <code>/address</code></h1>" in html
    assert sorted(stored(alpha)) == [("address", "12 Long Street"), ("hours", "9 to 5")]


def test_an_admin_manages_them_and_an_agent_is_refused(alpha):
    item = canned(alpha, "hours", "9 to 5")
    admin = member(alpha, Role.ADMIN)
    assert admin.get("/canned-responses/").status_code == 200
    agent = member(alpha, Role.AGENT)
    assert b'href="/canned-responses/"' not in agent.get("/").content
    assert agent.get("/canned-responses/").status_code == 403
    assert agent.post("/canned-responses/", {"shortcode": "x", "body": "y"}).status_code == 403
    assert agent.get(f"/canned-responses/{item.pk}/").status_code == 403
    assert agent.post(f"/canned-responses/{item.pk}/",
                      {"shortcode": "x", "body": "y"}).status_code == 403
    assert agent.post(f"/canned-responses/{item.pk}/delete/",
                      {"confirm": "yes"}).status_code == 403
    assert stored(alpha) == [("hours", "9 to 5")]


# The composer.

def composer_data(html: str) -> list[dict[str, str]]:
    found = re.search(r'<script id="canned-responses" type="application/json">(.*?)</script>',
                      html)
    assert found, "no canned responses in the page"
    return json.loads(found.group(1))


def test_every_role_gets_the_canned_responses_filled_for_the_conversation(alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    with schema_context(alpha.schema_name):
        contact_update(contact=conversation.contact, name="Ada")
    canned(alpha, "thanks", THANKS)
    canned(alpha, "hours", "9 to 5")
    agent = member(alpha, Role.AGENT)
    html = agent.get("/", {"c": conversation.pk}).content.decode()
    assert composer_data(html) == [
        {"shortcode": "hours", "body": "9 to 5"},
        {"shortcode": "thanks", "body": f"Thanks Ada, {SIM_NUMBER} will call you back."},
    ]
    assert 'aria-controls="canned-list"' in html and 'aria-autocomplete="list"' in html
    assert '<ul id="canned-list" class="canned-list" role="listbox"' in html
    assert '<label for="canned-select">Canned response</label>' in html
    assert (f'<option value="thanks">/thanks: Thanks Ada, {SIM_NUMBER} will call you …'
            "</option>") in html


def test_without_canned_responses_the_composer_is_as_before(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    html = owner.get("/", {"c": conversation_of(alpha).pk}).content.decode()
    assert "canned" not in html.split('id="composer"')[1].split("</form>")[0]


def test_a_canned_body_is_text_in_the_page(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    canned(alpha, "xss", "</script><img src=x onerror=alert(1)>")
    html = owner.get("/", {"c": conversation_of(alpha).pk}).content.decode()
    assert "<img" not in html
    assert composer_data(html) == [
        {"shortcode": "xss", "body": "</script><img src=x onerror=alert(1)>"}]
    assert "/xss: &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</option>" in html


def test_the_insert_button_fills_the_composer_without_sending(alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    canned(alpha, "thanks", THANKS)
    agent = member(alpha, Role.AGENT)
    url = f"/conversations/{conversation.pk}/reply"
    first = agent.post(url, {"body": "", "canned": "thanks", "insert": "1", "folder": "mine"})
    assert first.status_code == 200
    text = f"Thanks there, {SIM_NUMBER} will call you back."
    html = first.content.decode()
    assert f">{text}</textarea>" in html
    assert "46 · 1 segment · 114 left · GSM-7" in html  # the counter counts it
    assert '<input type="hidden" name="folder" value="mine">' in html
    second = agent.post(url, {"body": "Sorry for the wait.", "canned": "thanks",
                              "insert": "1"})
    assert f">Sorry for the wait. {text}</textarea>" in second.content.decode()
    unknown = agent.post(url, {"body": "Kept", "canned": "nope", "insert": "1"})
    assert unknown.status_code == 400
    assert "Choose one of the canned responses." in unknown.content.decode()
    assert ">Kept</textarea>" in unknown.content.decode()
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()
    sent = agent.post(url, {"body": text, "canned": "thanks"})  # Send, not Insert
    assert sent.status_code == 302
    with schema_context(alpha.schema_name):
        assert Message.objects.get(direction="outbound").body == text


def test_another_tenants_canned_responses_are_not_offered(alpha, beta, sim_sender):
    canned(beta, "secret", "Beta's own words")
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    canned(alpha, "thanks", "Thanks!")
    owner = host_client("alpha.localhost")
    login(owner, "owner@alpha.example")
    html = owner.get("/", {"c": conversation.pk}).content.decode()
    assert composer_data(html) == [{"shortcode": "thanks", "body": "Thanks!"}]
    refused = owner.post(f"/conversations/{conversation.pk}/reply",
                         {"body": "", "canned": "secret", "insert": "1"})
    assert refused.status_code == 400 and "Beta's own words" not in refused.content.decode()
