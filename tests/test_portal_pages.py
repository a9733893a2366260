"""What every admin page shares: destructive actions ask first, errors come as styled pages
that keep the navigation (and as JSON on an unknown host's API), forms show every error
beside its field in plain words, and a new tenant is walked through its first steps."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django_tenants.utils import schema_context

from accounts.models import ApiKey, Invitation, Role, User
from accounts.services import api_key_create
from campaigns.lists import list_create, subscriber_add
from campaigns.models import SubscriberList, Subscription
from compat.public.models import TwilioApiKey
from compat.twilio.credentials import twilio_account_ensure, twilio_api_key_create
from core.api_errors import server_error
from events.models import WebhookSubscription
from messaging.hours import business_hours_get
from messaging.models import CannedResponse, KeywordRule
from messaging.onboarding import DONE_KEY
from optout.actions import do_opt_out
from optout.imports import do_optout_import
from optout.models import OptOut, OptOutImport
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import SIM_NUMBER, approved_sender, customer_texts

CONFIRM = {"confirm": "yes"}


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def owner(alpha) -> Client:
    client = host_client("alpha.localhost")
    login(client, "owner@alpha.example")
    return client


def _seed(tenant, kind: str) -> tuple[str, dict, object]:
    """A thing to delete: its confirmation path and a check that it is still there."""
    with schema_context(tenant.schema_name):
        if kind == "rule":
            rule = KeywordRule.objects.create(keyword="hours", match="exact", reply="9-5")
            return f"/rules/{rule.pk}/delete/", {}, KeywordRule.objects.filter(pk=rule.pk)
        if kind == "canned":
            canned = CannedResponse.objects.create(shortcode="thanks", body="Thanks!")
            return (f"/canned-responses/{canned.pk}/delete/", {},
                    CannedResponse.objects.filter(pk=canned.pk))
        if kind == "webhook":
            hook = WebhookSubscription.objects.create(url="http://127.0.0.1:9/e",
                                                      events=["message.received"])
            return (f"/webhooks/{hook.pk}/delete/", {},
                    WebhookSubscription.objects.filter(pk=hook.pk))
        if kind == "list":
            club = list_create(name="Club")
            return f"/lists/{club.pk}/delete/", {}, SubscriberList.objects.filter(pk=club.pk)
        if kind == "list member":
            club = list_create(name="Club")
            subscriber_add(subscriber_list=club, phone="+14155550101", source="staff",
                           evidence="At the till")
            member = Subscription.objects.get()
            return (f"/lists/{club.pk}/members/{member.pk}/remove/", {"reason": "asked"},
                    Subscription.objects.filter(pk=member.pk, status="subscribed"))
        if kind == "opt-out":
            do_opt_out(phone="+14155550102", source="admin", reason="asked")
            return ("/optouts/remove/", {"phone": "+14155550102", "reason": "called"},
                    OptOut.objects.filter(phone="+14155550102"))
        if kind == "api key":
            key, _ = api_key_create(name="CRM")
            return (f"/settings/api-keys/{key.pk}/revoke/", {},
                    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True))
    key, _ = twilio_api_key_create(account=twilio_account_ensure(tenant=tenant), name="Old")
    return (f"/settings/api-keys/twilio/keys/{key.pk}/revoke/", {},
            TwilioApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True))


@pytest.mark.parametrize("kind", ["rule", "canned", "webhook", "list", "list member",
                                  "opt-out", "api key", "twilio key"])
def test_a_destructive_action_asks_first_and_only_its_confirmation_acts(alpha, owner, kind):
    path, fields, still_there = _seed(alpha, kind)
    question = owner.get(path) if not fields else owner.post(path, fields)
    if kind == "opt-out":  # its button posts the number and the reason: asked all the same
        assert question.status_code == 200
    else:
        assert question.status_code == 200
        assert owner.post(path, fields).status_code == 200  # a POST without it: asked again
    page = question.content.decode()
    assert re.search(r'<button type="submit" class="danger">[^<]+</button>', page), page
    assert '<input type="hidden" name="confirm" value="yes">' in page
    assert 'class="button secondary"' in page and ">Cancel</a>" in page
    with schema_context(alpha.schema_name):
        assert still_there.exists(), kind
    done = owner.post(path, {**fields, **CONFIRM})
    assert done.status_code == 302
    with schema_context(alpha.schema_name):
        assert not still_there.exists(), kind


# --- Error pages --------------------------------------------------------------------------

def test_a_missing_page_keeps_the_navigation_of_whoever_is_signed_in(alpha, owner):
    missing = owner.get("/rules/999999/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert "This page does not exist" in page and "/static/css/portal.css" in page
    assert '<nav aria-label="Main" class="nav-wide">' in page and "owner@alpha.example" in page
    assert 'href="/team/"' in page  # the Manage menu is there too
    assert host_client("alpha.localhost").get("/nowhere/").status_code == 404
    gone = owner.get("/?c=999999")  # a conversation that does not exist
    assert gone.status_code == 404 and "This page does not exist" in text(gone)
    assert '<nav aria-label="Main" class="nav-wide">' in gone.content.decode()


def test_an_agent_gets_a_styled_403_that_says_why_with_the_navigation(alpha):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    refused = agent.get("/settings/api-keys/")
    assert refused.status_code == 403
    shown = text(refused)
    assert "You cannot open this page" in shown
    assert "Only owners and admins can open this page." in shown
    assert "signed in as agent@alpha.example (agent)" in shown
    assert '<nav aria-label="Main" class="nav-wide">' in refused.content.decode()


def test_the_500_page_keeps_the_navigation(alpha):
    request = RequestFactory().get("/", HTTP_HOST="alpha.localhost")
    request.tenant = alpha
    with schema_context(alpha.schema_name):
        request.user = User.objects.get(email="owner@alpha.example")
        answer = server_error(request)
    assert answer.status_code == 500
    page = answer.content.decode()
    assert "Something went wrong on our side" in page and "owner@alpha.example" in page


def test_an_unknown_host_answers_its_api_in_json_and_its_pages_with_a_styled_page(db):
    client = host_client("nowhere.localhost")
    api = client.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer sk_x_y")
    assert api.status_code == 404
    assert api.json() == {"code": "unknown_tenant", "detail": "No workspace is served at "
                          "nowhere.localhost: check the host name in the URL."}
    page = client.get("/accounts/login/")
    assert page.status_code == 404
    assert "No workspace at nowhere.localhost" in text(page)
    assert "Content-Security-Policy" in page.headers
    assert b"/static/css/portal.css" in page.content
    assert b"Sign up" not in page.content  # no public-site links: they are not served here
    assert client.get("/static/css/portal.css").status_code == 200  # so the page is styled


# --- Forms -----------------------------------------------------------------------------------

def test_business_hours_errors_sit_beside_their_day_in_plain_words(alpha, owner):
    refused = owner.post("/hours/", {"day_0": "9-17", "day_1": "17:00-09:00",
                                     "day_2": "nine to five", "day_3": "25:00-26:00"})
    assert refused.status_code == 400
    page = refused.content.decode()

    def error_of(day: int) -> str:
        block = re.search(rf'<div class="field field-day_{day}">(.*?)</div>', page, re.S)
        return " ".join(re.findall(r'<span class="error" role="alert">([^<]+)</span>',
                                   block.group(1)))

    assert error_of(0) == ""
    assert "“17:00-09:00” closes before it opens" in error_of(1)
    assert "“nine to five” is not a time range: write it like 09:00-17:00" in error_of(2)
    assert "“25:00-26:00” is not a time of day" in error_of(3)
    assert "[" not in error_of(1) + error_of(2)  # not the API's list syntax
    saved = owner.post("/hours/", {"day_0": "9-12:30, 13:30-17"})
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        assert business_hours_get().opening_hours == {
            "0": [["09:00", "12:30"], ["13:30", "17:00"]]}


def test_signup_shows_every_error_at_once_and_none_twice(public_client):
    refused = public_client.post("/signup/", {"name": "", "slug": "alpha",
                                              "owner_email": "not-an-email",
                                              "owner_password": "short"})
    assert refused.status_code == 400
    errors = re.findall(r'<span class="error" role="alert">([^<]+)</span>',
                        refused.content.decode())
    assert len(errors) == len(set(errors))
    shown = " ".join(errors)
    assert "This field is required." in shown  # the name
    assert "&#x27;alpha&#x27; is already taken." in shown  # the address, checked all the same
    assert "Enter a valid email address." in shown
    assert "too short" in shown  # the password, too


def test_the_login_page_is_the_portals_and_offers_no_closed_signup(alpha):
    page = host_client("alpha.localhost").get("/accounts/login/")
    content = page.content.decode()
    assert "Sign in to Alpha" in text(page)
    assert "/static/css/portal.css" in content
    assert "/accounts/signup/" not in content and "sign up" not in content.lower()
    assert '<label for="id_login">' in content and '<label for="id_password">' in content
    assert "Ask an owner or admin of your team to invite you." in text(page)


def test_the_opt_out_import_page_polls_its_progress_as_json(alpha, owner):
    started = owner.post("/optouts/import/", {"file": SimpleUploadedFile(
        "list.csv", b"+14155550141\nnope\n")})
    page = owner.get(started["Location"]).content.decode()
    assert f'data-progress-url="{started["Location"]}?format=json"' in page
    assert "/static/js/import_progress.js" in page
    progress = owner.get(started["Location"] + "?format=json").json()
    assert progress == {"status": "pending", "status_display": "Pending", "finished": False,
                        "percent": 0, "processed_rows": 0, "total_rows": 2, "added": 0,
                        "already": 0, "error_count": 0}
    with schema_context(alpha.schema_name):
        do_optout_import(import_id=OptOutImport.objects.get().pk)
    done = owner.get(started["Location"] + "?format=json").json()
    assert (done["finished"], done["percent"], done["added"], done["error_count"]) == (
        True, 100, 1, 1)
    assert "data-progress-url" not in owner.get(started["Location"]).content.decode()


# --- First run ------------------------------------------------------------------------------

def test_a_new_tenant_is_walked_through_its_first_steps_ticked_from_real_state(alpha, owner):
    with schema_context(alpha.schema_name):  # the cache key carries the schema
        cache.delete(DONE_KEY)

    def steps() -> list[tuple[str, bool]]:
        page = owner.get("/dashboard/").content.decode()
        return re.findall(r'<li class="(done)?">\s*<span class="tick"[^>]*>[^<]*</span>\s*'
                          r'<div><span class="step-title">([^<]+)</span>', page)

    assert steps() == [("", "Register a sender"), ("", "Wait for approval"),
                       ("", "Try the phone simulator"), ("", "Invite a teammate"),
                       ("", "Create an API key")]
    inbox = owner.get("/").content.decode()
    assert "Finish setting up: 0 of 5 steps done." in inbox
    assert 'href="/dashboard/#get-started"' in inbox
    approved_sender(alpha, SIM_NUMBER, "simulator")
    customer_texts(alpha, "Hi")
    with schema_context(alpha.schema_name):
        owner_user = User.objects.get(email="owner@alpha.example")
        Invitation.objects.create(email="x@alpha.example", nonce="0" * 32,
                                  invited_by=owner_user, expires_at="2999-01-01T00:00Z")
    assert [done for done, _ in steps()] == ["done", "done", "done", "done", ""]
    assert 'href="/settings/api-keys/">Create an API key</a>' in owner.get(
        "/dashboard/").content.decode()
    with schema_context(alpha.schema_name):
        api_key_create(name="CRM")
    assert "Get started" not in text(owner.get("/dashboard/"))
    assert "Finish setting up" not in owner.get("/").content.decode()
    with schema_context(alpha.schema_name):  # the next test's alpha starts afresh
        cache.delete(DONE_KEY)


def test_agents_see_no_checklist_and_the_simulator_links_the_senders_page(alpha, owner):
    empty = owner.get("/simulator/").content.decode()
    assert 'href="/senders/"' in empty and "POST /api/v1/senders" not in empty
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    assert "Finish setting up" not in agent.get("/").content.decode()
    assert 'href="/senders/"' not in agent.get("/simulator/").content.decode()
