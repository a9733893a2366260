"""The phone simulator page: staff play a customer texting a simulator sender."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from messaging.models import Message, Sender
from messaging.outbound import message_send
from messaging.senders import sender_register
from tests.conftest import csrf_checked_client, host_client, login
from tests.support.messaging import approved_sender

SIM_NUMBER = "+14155550123"
CUSTOMER = "+15555550199"


@pytest.fixture
def alpha_sim_sender(alpha) -> Sender:
    return approved_sender(alpha, SIM_NUMBER, "simulator")


@pytest.fixture
def owner_client(alpha):
    client = host_client("alpha.localhost")
    assert login(client, "owner@alpha.example").status_code == 302
    return client


def _inbound(tenant) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(direction=Message.Direction.INBOUND))


def _thread_page(client) -> str:
    return client.get("/simulator/", {"sender": SIM_NUMBER, "phone": CUSTOMER}).content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(alpha):
    response = host_client("alpha.localhost").get("/simulator/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_an_approved_simulator_sender_the_page_says_what_to_do(alpha, owner_client):
    response = owner_client.get("/simulator/")
    assert response.status_code == 200
    assert b"no approved simulator sender" in response.content
    assert b"Send as customer" not in response.content


def test_the_form_lists_approved_simulator_senders_only(alpha, owner_client, alpha_sim_sender,
                                                        alpha_twilio_sender):
    with schema_context(alpha.schema_name):
        sender_register(address="+14155550124", kind="long_code", connection="simulator")
    response = owner_client.get("/simulator/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="id_sender">Sender</label>' in page
    assert '<label for="id_phone">Customer number</label>' in page
    assert '<label for="id_body">Message</label>' in page
    assert "Send as customer" in page
    assert f'value="{SIM_NUMBER}"' in page
    assert 'value="+14155550124"' not in page  # pending
    assert f'value="{alpha_twilio_sender.address}"' not in page  # not on the simulator
    assert f'value="{CUSTOMER}"' in page  # the default customer number


def test_posting_stores_an_inbound_message_and_redirects_back(alpha, owner_client,
                                                              alpha_sim_sender):
    response = owner_client.post("/simulator/", {
        "sender": SIM_NUMBER, "phone": "+1 555 555 0199", "body": "Hello there",
    })
    assert response.status_code == 302
    assert response["Location"] == "/simulator/?sender=%2B14155550123&phone=%2B15555550199"
    [message] = _inbound(alpha)
    assert (message.from_address, message.to_address, message.body, message.status) == (
        CUSTOMER, SIM_NUMBER, "Hello there", Message.Status.RECEIVED)
    page = owner_client.get(response["Location"]).content.decode()
    assert "Hello there" in page and "received" in page.lower()


def test_an_invalid_number_shows_the_error_and_stores_nothing(alpha, owner_client,
                                                              alpha_sim_sender):
    response = owner_client.post("/simulator/", {
        "sender": SIM_NUMBER, "phone": "12", "body": "Hello",
    })
    assert response.status_code == 400
    assert b"is not a phone number in international format" in response.content
    assert _inbound(alpha) == []


def test_a_sender_that_is_not_an_approved_simulator_sender_is_refused(
    alpha, owner_client, alpha_sim_sender, alpha_twilio_sender
):
    response = owner_client.post("/simulator/", {
        "sender": alpha_twilio_sender.address, "phone": CUSTOMER, "body": "Hello",
    })
    assert response.status_code == 400
    assert _inbound(alpha) == []


def test_posting_requires_a_csrf_token(alpha, alpha_sim_sender):
    client = csrf_checked_client("alpha.localhost", "owner@alpha.example")
    response = client.post("/simulator/", {"sender": SIM_NUMBER, "phone": CUSTOMER,
                                           "body": "Hello"})
    assert response.status_code == 403
    assert _inbound(alpha) == []


def test_replies_appear_in_the_thread_oldest_first(alpha, owner_client, alpha_sim_sender):
    owner_client.post("/simulator/", {"sender": SIM_NUMBER, "phone": CUSTOMER,
                                      "body": "First from customer"})
    with schema_context(alpha.schema_name):
        message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Reply from staff",
                     origin=Message.Origin.API)
        message_send(from_address=SIM_NUMBER, to="+15555550101", body="To someone else",
                     origin=Message.Origin.API)
    page = _thread_page(owner_client)
    assert "Reply from staff" in page and "queued" in page.lower()
    assert page.index("First from customer") < page.index("Reply from staff")
    assert "To someone else" not in page


def test_message_bodies_are_escaped(alpha, owner_client, alpha_sim_sender):
    owner_client.post("/simulator/", {"sender": SIM_NUMBER, "phone": CUSTOMER,
                                      "body": "<script>alert(1)</script>"})
    page = _thread_page(owner_client)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_another_tenants_user_cannot_see_the_page(alpha, beta, alpha_sim_sender):
    client = host_client("beta.localhost")
    assert login(client, "owner@beta.example").status_code == 302
    # Beta's own page shows none of alpha's senders.
    own = client.get("/simulator/")
    assert own.status_code == 200
    assert SIM_NUMBER.encode() not in own.content
    # Beta's session means nothing on alpha's host.
    response = client.get("/simulator/", HTTP_HOST="alpha.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # And beta's owner cannot sign in on alpha's host.
    alpha_client = host_client("alpha.localhost")
    assert login(alpha_client, "owner@beta.example").status_code == 200
    assert alpha_client.get("/simulator/").status_code == 302
