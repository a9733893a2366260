"""Fixtures for the messaging tests: a fake Twilio, a connection to it, approved senders, an
API client, a customer texting a simulator sender, and a committed Twilio world for tests
with real worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context
from twilio.request_validator import RequestValidator

from accounts.services import api_key_create
from messaging.inbound import message_process, message_receive_simulated
from messaging.models import Contact, Conversation, Message, Sender
from messaging.senders import sender_register, sender_review
from tenants.connections import connection_add
from tenants.models import MessageRoute, ProviderConnection, SenderRoute, Tenant
from tests.conftest import host_client
from tests.support.fake_twilio import FakeTwilio

ALPHA_NUMBER = "+14155550100"
CUSTOMER = "+14155550199"
SIM_NUMBER = "+14155550123"
SIM_NUMBER_2 = "+14155550124"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_connection(db, fake_twilio) -> ProviderConnection:
    return connection_add(name="twilio-test", kind="twilio", settings={
        "account_sid": fake_twilio.sid, "auth_token": fake_twilio.token,
        "api_base_url": fake_twilio.base_url,
    })


def approved_sender(tenant: Tenant, address: str, connection: str,
                    rate_limit: int | None = None) -> Sender:
    with schema_context(tenant.schema_name):
        sender = sender_register(address=address, kind="long_code", connection=connection)
        Sender.objects.filter(pk=sender.pk).update(rate_limit=rate_limit)
    return sender_review(tenant=tenant, address=address, decision="approve")


@pytest.fixture
def alpha_twilio_sender(alpha, twilio_connection) -> Sender:
    return approved_sender(alpha, ALPHA_NUMBER, twilio_connection.name)


def twilio_post(client: Client, path: str, params: dict[str, str], token: str,
                signature: str | None = None):
    """POST a form to our webhook signed exactly as Twilio signs it."""
    url = settings.PUBLIC_BASE_URL + path
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def twilio_inbound(sid: str, body: str = "Hello", to: str = ALPHA_NUMBER,
                   from_: str = CUSTOMER) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": from_,
            "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01", "FromCountry": "US"}


class Api:
    """A tenant's API, called with one key."""

    def __init__(self, tenant: Tenant, key: str) -> None:
        self.client = host_client(f"{tenant.slug}.localhost")
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1/{path}", params, **self.headers)

    def post(self, path: str, body):
        return self.client.post(f"/api/v1/{path}", json.dumps(body),
                                content_type="application/json", **self.headers)

    def put(self, path: str, body):
        return self.client.put(f"/api/v1/{path}", json.dumps(body),
                               content_type="application/json", **self.headers)

    def patch(self, path: str, body):
        return self.client.patch(f"/api/v1/{path}", json.dumps(body),
                                 content_type="application/json", **self.headers)

    def delete(self, path: str):
        return self.client.delete(f"/api/v1/{path}", **self.headers)


def key_for(tenant: Tenant, scopes: list[str] | None = None) -> str:
    with schema_context(tenant.schema_name):
        return api_key_create(name="test", scopes=scopes)[1]


@pytest.fixture
def api(alpha) -> Api:
    return Api(alpha, key_for(alpha))


@pytest.fixture
def sim_sender(alpha) -> Sender:
    return approved_sender(alpha, SIM_NUMBER, "simulator")


def customer_texts(tenant: Tenant, body: str, *, to: str = SIM_NUMBER,
                   from_: str = CUSTOMER) -> list[Message]:
    """The customer sends ``body``; processing runs as the worker runs it. Returns the
    outbound messages the platform queued in answer."""
    with schema_context(tenant.schema_name):
        inbound = message_receive_simulated(from_address=from_, to=to, body=body)
        message_process(message_id=inbound.pk)
        return list(Message.objects.filter(pk__gt=inbound.pk, direction="outbound")
                    .order_by("id"))


@pytest.fixture
def committed_alpha(committed_db) -> Iterator[Tenant]:
    """Tenant alpha with an approved simulator sender, committed for real (a worker or a
    thread uses its own connection); everything is removed afterwards."""
    from tests.support.db import tenant_data_reset

    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    try:
        yield alpha
    finally:
        tenant_data_reset(alpha)


@pytest.fixture
def twilio_world(committed_db) -> Iterator[tuple[Tenant, ProviderConnection, FakeTwilio]]:
    """Committed rows a separate process can see: a Twilio connection to a fake Twilio and
    an approved alpha sender on it. Removed afterwards."""
    fake = FakeTwilio().start()
    alpha = Tenant.objects.get(slug="alpha")
    connection = ProviderConnection.objects.create(
        name="twilio-faults", kind="twilio",
        settings={"account_sid": fake.sid, "auth_token": fake.token,
                  "api_base_url": fake.base_url})
    approved_sender(alpha, ALPHA_NUMBER, connection.name)
    try:
        yield alpha, connection, fake
    finally:
        fake.stop()
        with schema_context(alpha.schema_name):
            Message.objects.all().delete()
            Conversation.objects.all().delete()
            Contact.objects.all().delete()
            Sender.objects.all().delete()
        SenderRoute.objects.filter(connection=connection).delete()
        MessageRoute.objects.filter(connection=connection.name).delete()
        connection.delete()
