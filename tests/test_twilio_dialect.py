"""The Twilio dialect, driven by Twilio's own Python client against the portal served over
HTTP: what code written for Twilio does works here by changing the base URL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tenants.models import Tenant
from tests.support.db import tenant_data_reset
from tests.support.fakes import FakeHTTPServer, Reply
from tests.support.live import portal_server
from tests.support.messaging import CUSTOMER, SIM_NUMBER, approved_sender
from tests.support.twilio_dialect import sdk_client, twilio_credentials, work_off


@dataclass
class Live:
    tenant: Tenant
    port: int
    sid: str
    token: str
    client: Client


@pytest.fixture
def live(committed_db) -> Iterator[Live]:
    alpha = Tenant.objects.get(slug="alpha")
    try:
        approved_sender(alpha, SIM_NUMBER, "simulator")
        sid, token = twilio_credentials(alpha)
        with portal_server() as port:
            yield Live(alpha, port, sid, token, sdk_client(port, sid, token))
    finally:
        tenant_data_reset(alpha)


@pytest.fixture
def receiver() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer(lambda request: Reply(204))
    yield server.start()
    server.stop()


def test_a_message_created_with_a_status_callback_reports_its_status_signed(live, receiver):
    callback_url = receiver.url + "/status?tag=1"
    message = live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="Hello there",
                                          status_callback=callback_url)
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.num_segments, message.direction) == (
        "queued", "1", "outbound-api")
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.account_sid == live.sid and message.error_code is None
    work_off(live.tenant)
    [request] = receiver.requests
    form = request.form()
    assert (form["MessageSid"], form["MessageStatus"], form["To"], form["From"]) == (
        message.sid, "delivered", CUSTOMER, SIM_NUMBER)
    assert RequestValidator(live.token).validate(
        callback_url, form, request.headers["X-Twilio-Signature"])
    assert live.client.messages(message.sid).fetch().status == "delivered"
