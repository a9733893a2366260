"""The tenant's senders page (``/senders/``): its senders with the operator's review, and
registering another through ``sender_register``. Owners and admins only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.models import Sender
from messaging.senders import sender_review
from tenants.connections import connection_add
from tests.conftest import PASSWORD, host_client, login
from tests.support.factories import SenderFactory

NUMBER = "+14155550142"


@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def senders_of(tenant) -> list[tuple[str, str, str, str]]:
    with schema_context(tenant.schema_name):
        return list(Sender.objects.values_list("address", "kind", "connection", "status"))


def test_register_a_sender_and_follow_its_review(alpha, owner):
    page = owner.get("/senders/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No senders yet" in html
    assert '<option value="simulator">simulator</option>' in html
    assert 'href="/senders/">Senders</a>' in html  # in the nav
    registered = owner.post("/senders/", {"address": "+1 (415) 555-0142", "kind": "long_code",
                                          "connection": "simulator"}, follow=True)
    html = registered.content.decode()
    assert f"Registered {NUMBER}: it can send once the operator approves it." in html
    assert '<strong class="sender-status pending">Pending</strong>' in html
    assert "waiting for the operator" in html and "not yet" in html
    assert senders_of(alpha) == [(NUMBER, "long_code", "simulator", "pending")]

    sender_review(tenant=alpha, address=NUMBER, decision="reject",
                  reason="Show us the number's ownership papers.")
    alpha.timezone = "Asia/Kolkata"  # UTC+05:30
    alpha.save(update_fields=["timezone"])
    with schema_context(alpha.schema_name):
        Sender.objects.update(reviewed_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    html = owner.get("/senders/").content.decode()
    assert '<strong class="sender-status rejected">Rejected</strong>' in html
    assert "Show us the number&#x27;s ownership papers." in html
    assert "Reviewed (Asia/Kolkata)" in html
    assert ">2026-03-04 15:30</time>" in html

    sender_review(tenant=alpha, address=NUMBER, decision="approve")
    html = owner.get("/senders/").content.decode()
    assert '<strong class="sender-status approved">Approved</strong>' in html
    assert '<td data-label="Kind">Long Code</td>' in html
    assert '<td data-label="Connection">simulator</td>' in html


def test_short_codes_and_alphanumeric_ids_register_too(alpha, owner):
    owner.post("/senders/", {"address": "72345", "kind": "short_code",
                             "connection": "simulator"})
    owner.post("/senders/", {"address": "ACME", "kind": "alphanumeric",
                             "connection": "simulator"})
    assert sorted(senders_of(alpha)) == [("72345", "short_code", "simulator", "pending"),
                                         ("ACME", "alphanumeric", "simulator", "pending")]


@pytest.mark.parametrize(("fields", "message"), [
    ({"address": "555-0142", "kind": "long_code", "connection": "simulator"},
     "is not a phone number in international format"),
    ({"address": "12", "kind": "short_code", "connection": "simulator"},
     "A short code is 3 to 8 digits."),
    ({"address": NUMBER, "kind": "long_code", "connection": "nowhere"},
     "Select a valid choice. nowhere is not one of the available choices."),
    ({"address": NUMBER, "kind": "carrier_pigeon", "connection": "simulator"},
     "Select a valid choice."),
    ({"address": "", "kind": "long_code", "connection": "simulator"},
     "This field is required."),
])
def test_form_errors_are_shown_and_nothing_is_registered(alpha, owner, fields, message):
    response = owner.post("/senders/", fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert senders_of(alpha) == []


def test_an_address_registered_already_is_refused(alpha, owner):
    fields = {"address": NUMBER, "kind": "long_code", "connection": "simulator"}
    assert owner.post("/senders/", fields).status_code == 302
    again = owner.post("/senders/", {**fields, "address": "+1 415 555 0142"})
    assert again.status_code == 400
    assert f'<span class="error" role="alert">{NUMBER} is already registered.</span>' in (
        again.content.decode())
    assert len(senders_of(alpha)) == 1


def test_only_active_connections_are_offered(alpha, owner):
    off = connection_add(name="old-http", kind="http",
                         settings={"url": "http://127.0.0.1:9/send", "secret": "s"})
    off.is_active = False
    off.save(update_fields=["is_active"])
    html = owner.get("/senders/").content.decode()
    assert '<option value="old-http">' not in html
    response = owner.post("/senders/", {"address": NUMBER, "kind": "long_code",
                                        "connection": "old-http"})
    assert response.status_code == 400
    assert senders_of(alpha) == []


def test_the_page_shows_only_this_tenants_senders(alpha, beta, owner):
    with schema_context(beta.schema_name):
        SenderFactory(address="+14155550143", status=Sender.Status.PENDING)
    assert "+14155550143" not in owner.get("/senders/").content.decode()


def test_an_admin_may_and_an_agent_may_not(alpha):
    with schema_context(alpha.schema_name):
        User.objects.create_user("admin@alpha.example", PASSWORD, role=Role.ADMIN)
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    admin = host_client("alpha.localhost")
    login(admin, "admin@alpha.example")
    assert admin.get("/senders/").status_code == 200
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    assert 'href="/senders/"' not in agent.get("/").content.decode()
    assert agent.get("/senders/").status_code == 403
    refused = agent.post("/senders/", {"address": NUMBER, "kind": "long_code",
                                       "connection": "simulator"})
    assert refused.status_code == 403
    assert senders_of(alpha) == []
