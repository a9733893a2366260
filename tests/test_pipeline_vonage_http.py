"""The two pipelines through the Vonage and generic HTTP backends, end to end: webhooks on the
public host (signed as each provider signs them), sends through ``message_deliver`` to fake
providers on 127.0.0.1 speaking the real wire formats, and delivery receipts that never move
a message backwards (docs/ARCHITECTURE.md#inbound-pipeline, #statuses)."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook

from cpaas.sweeps import tenant_sweep
from messaging.models import InboundPart, Message
from messaging.outbound import message_deliver, message_send
from tenants.connections import connection_add
from tenants.models import ProviderConnection
from tests.conftest import host_client
from tests.support.fakes import FakeHTTPServer, Recorded, Reply
from tests.support.messaging import ALPHA_NUMBER, CUSTOMER, approved_sender
from tests.support.signing import standard_webhook_headers, vonage_signed

VONAGE_KEY = "vonage-key"
VONAGE_SECRET = "vonage-api-secret-0123"
SIG_SECRET = "vonage-signature-secret"
SIG_METHOD = "sha256"
WH_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def digits(e164: str) -> str:
    """Vonage writes numbers without the +."""
    return e164.removeprefix("+")


def alpha_messages(alpha, **filters) -> list[Message]:
    with schema_context(alpha.schema_name):
        return list(Message.objects.filter(**filters).order_by("pk"))


def public() -> Client:
    return host_client(settings.BASE_DOMAIN)


def send(alpha, body: str = "Your order is ready") -> tuple[Message, float | None]:
    with schema_context(alpha.schema_name):
        message = message_send(from_address=ALPHA_NUMBER, to=CUSTOMER, body=body,
                               origin="api")
        return message, message_deliver(message_id=message.pk)


# --- Vonage ------------------------------------------------------------------------------


class FakeVonage:
    """Vonage's SMS API (``POST /sms/json``): checks the credentials, answers one entry per
    request as Vonage does for a single-part message, with a fresh message-id each time."""

    def __init__(self) -> None:
        self.ids = (f"1A{n:014X}" for n in itertools.count(1))
        self.server = FakeHTTPServer(self.respond)

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def respond(self, request: Recorded) -> Reply:
        if (request.method, request.path) != ("POST", "/sms/json"):
            return Reply(404, "not found")
        form = request.form()
        if (form.get("api_key"), form.get("api_secret")) != (VONAGE_KEY, VONAGE_SECRET):
            entry = {"status": "4", "error-text": "Bad Credentials"}
        else:
            entry = {"to": form["to"], "message-id": next(self.ids), "status": "0",
                     "remaining-balance": "3.14159265", "message-price": "0.03330000",
                     "network": "310004"}
        return Reply(200, {"message-count": "1", "messages": [entry]})


@pytest.fixture
def fake_vonage() -> Iterator[FakeVonage]:
    fake = FakeVonage()
    with fake.server:
        yield fake


@pytest.fixture
def vonage_connection(db, fake_vonage) -> ProviderConnection:
    return connection_add(name="vonage-test", kind="vonage", settings={
        "api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET, "signature_secret": SIG_SECRET,
        "signature_method": SIG_METHOD, "api_base_url": fake_vonage.server.url,
    })


@pytest.fixture
def alpha_vonage_sender(alpha, vonage_connection):
    return approved_sender(alpha, ALPHA_NUMBER, vonage_connection.name)


V_INBOUND = "/webhooks/vonage-test/inbound"
V_STATUS = "/webhooks/vonage-test/status"


def vonage_inbound(message_id: str, text: str = "Hello", **extra: str) -> dict[str, str]:
    return {"msisdn": digits(CUSTOMER), "to": digits(ALPHA_NUMBER), "messageId": message_id,
            "text": text, "type": "text", "keyword": text.split()[0].upper() if text else "",
            "api-key": VONAGE_KEY, "message-timestamp": "2025-01-01 12:00:00", **extra}


def vonage_call(client: Client, path: str, params: dict[str, str], how: str = "form",
                sign: bool = True):
    """Call our webhook as Vonage does: GET with a query, or POST as a form or JSON."""
    if sign:
        params = vonage_signed(params, SIG_METHOD, SIG_SECRET)
    if how == "get":
        return client.get(path, params)
    if how == "json":
        return client.post(path, json.dumps(params), content_type="application/json")
    return client.post(path, urlencode(params),
                       content_type="application/x-www-form-urlencoded")


def concat_part(message_id: str, number: int, text: str, reference: str = "A7",
                total: int = 3) -> dict[str, str]:
    return vonage_inbound(message_id, text, concat="true", **{
        "concat-ref": reference, "concat-total": str(total), "concat-part": str(number)})


PARTS = {1: "The parcel arrived ", 2: "but the box was ", 3: "crushed. Refund?"}


@pytest.mark.parametrize("how", ["get", "form", "json"])
def test_a_concatenated_inbound_out_of_order_becomes_one_message_in_part_order(
        alpha, alpha_vonage_sender, how):
    client = public()
    for number in (3, 1):
        response = vonage_call(client, V_INBOUND,
                               concat_part(f"0B00000{number}", number, PARTS[number]), how)
        assert response.status_code == 200
        assert alpha_messages(alpha) == []  # nothing shows while a part is missing
    last = vonage_call(client, V_INBOUND, concat_part("0B000002", 2, PARTS[2]), how)
    assert (last.status_code, last.content) == (200, b"")
    [message] = alpha_messages(alpha)
    assert message.body == "The parcel arrived but the box was crushed. Refund?"
    assert (message.direction, message.from_address, message.to_address, message.status) == (
        "inbound", CUSTOMER, ALPHA_NUMBER, "received")
    assert message.connection == "vonage-test"
    # Vonage retries a part whose 200 it did not see: the retry creates nothing new.
    for number in (2, 1):
        retried = vonage_call(client, V_INBOUND,
                              concat_part(f"0B00000{number}", number, PARTS[number]), how)
        assert retried.status_code == 200
    assert [m.pk for m in alpha_messages(alpha)] == [message.pk]


def test_a_later_message_reusing_the_concat_ref_is_built_from_its_own_parts(
        alpha, alpha_vonage_sender):
    client = public()
    for number in (1, 2, 3):
        vonage_call(client, V_INBOUND, concat_part(f"0C00000{number}", number, PARTS[number]))
    vonage_call(client, V_INBOUND, concat_part("0C000002", 2, PARTS[2]))  # a late retry
    # Concat references are small counters: the same customer reuses one later.
    later = {1: "Second message, ", 2: "three parts ", 3: "again."}
    for number in (1, 3, 2):
        vonage_call(client, V_INBOUND, concat_part(f"0D00000{number}", number, later[number]))
    assert [m.body for m in alpha_messages(alpha)] == [
        "The parcel arrived but the box was crushed. Refund?",
        "Second message, three parts again.",
    ]


def test_the_sweep_forgets_parts_no_provider_will_retry(alpha, alpha_vonage_sender):
    client = public()
    vonage_call(client, V_INBOUND, concat_part("0G000001", 1, "never finished ", total=2))
    with schema_context(alpha.schema_name):
        InboundPart.objects.update(created_at=timezone.now() - timedelta(days=2))
        tenant_sweep(schema=alpha.schema_name)
        assert not InboundPart.objects.exists()
    # The reference is free again for a new message.
    vonage_call(client, V_INBOUND, concat_part("0H000001", 1, "fresh ", total=2))
    vonage_call(client, V_INBOUND, concat_part("0H000002", 2, "start", total=2))
    assert [m.body for m in alpha_messages(alpha)] == ["fresh start"]


def test_parts_of_two_customers_with_the_same_ref_are_not_mixed(alpha, alpha_vonage_sender):
    client = public()
    other = "+14155550142"
    vonage_call(client, V_INBOUND, concat_part("0E000001", 1, "mine ", total=2))
    vonage_call(client, V_INBOUND, {**concat_part("0F000002", 2, "THEIRS", total=2),
                                    "msisdn": digits(other)})
    assert alpha_messages(alpha) == []
    vonage_call(client, V_INBOUND, concat_part("0E000002", 2, "only", total=2))
    [message] = alpha_messages(alpha)
    assert (message.from_address, message.body) == (CUSTOMER, "mine only")


@pytest.mark.parametrize("how", ["get", "form", "json"])
def test_a_signed_inbound_is_accepted_once(alpha, alpha_vonage_sender, how):
    client = public()
    params = vonage_inbound("0A000001", "Fish & chips = dinner?")
    for _ in range(2):
        response = vonage_call(client, V_INBOUND, params, how)
        assert (response.status_code, response.content) == (200, b"")
    [message] = alpha_messages(alpha)
    assert (message.from_address, message.to_address, message.body) == (
        CUSTOMER, ALPHA_NUMBER, "Fish & chips = dinner?")


def test_unsigned_tampered_stale_or_wrongly_keyed_inbound_is_refused(alpha,
                                                                     alpha_vonage_sender):
    client = public()
    params = vonage_inbound("0A000002", "Hello")
    unsigned = vonage_call(client, V_INBOUND, params, sign=False)
    assert unsigned.status_code == 403
    assert unsigned.json()["code"] == "invalid_signature"
    genuine = vonage_signed(params, SIG_METHOD, SIG_SECRET)
    tampered = vonage_call(client, V_INBOUND, {**genuine, "text": "Send me the refund"},
                           sign=False)
    assert tampered.status_code == 403
    stale = vonage_signed(params, SIG_METHOD, SIG_SECRET, timestamp=1_600_000_000)
    assert vonage_call(client, V_INBOUND, stale, sign=False).status_code == 403
    other_key = vonage_signed(params, SIG_METHOD, "not-the-signature-secret")
    assert vonage_call(client, V_INBOUND, other_key, sign=False).status_code == 403
    md5hash = vonage_signed(params, "md5hash", SIG_SECRET)  # the connection expects sha256
    assert vonage_call(client, V_INBOUND, md5hash, sign=False).status_code == 403
    # An unsigned delivery receipt is refused the same way.
    assert vonage_call(client, V_STATUS, {"messageId": "1A", "status": "delivered"},
                       sign=False).status_code == 403
    assert alpha_messages(alpha) == []


def test_an_unrouted_recipient_gets_404_and_stores_nothing(alpha, alpha_vonage_sender):
    response = vonage_call(public(), V_INBOUND, {**vonage_inbound("0A000003"),
                                                 "to": "14155550111"})
    assert (response.status_code, response.json()["code"]) == (404, "unrouted_recipient")
    assert alpha_messages(alpha) == []


def test_outbound_reaches_vonage_with_the_documented_form_fields(alpha, alpha_vonage_sender,
                                                                 fake_vonage):
    message, retry = send(alpha)
    assert retry is None
    [request] = fake_vonage.requests
    assert request.path == "/sms/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET, "from": digits(ALPHA_NUMBER),
        "to": digits(CUSTOMER), "text": "Your order is ready",
        "callback": f"{settings.PUBLIC_BASE_URL}/webhooks/vonage-test/status",
        "client-ref": str(message.pk),
    }
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.provider_message_id) == ("sent", "1A00000000000001")
    with schema_context(alpha.schema_name):
        assert message_deliver(message_id=message.pk) is None  # a redelivered task
    assert len(fake_vonage.requests) == 1  # the message left once


def test_outbound_unicode_is_sent_as_type_unicode(alpha, alpha_vonage_sender, fake_vonage):
    send(alpha, "Ваш заказ готов 📦")
    form = fake_vonage.requests[0].form()
    assert (form["type"], form["text"]) == ("unicode", "Ваш заказ готов 📦")


def receipt(message_id: str, status: str, err_code: str = "0") -> dict[str, str]:
    """A Vonage delivery receipt: ``msisdn`` is the recipient, ``to`` our sender."""
    return {"msisdn": digits(CUSTOMER), "to": digits(ALPHA_NUMBER), "network-code": "310004",
            "messageId": message_id, "price": "0.03330000", "status": status,
            "err-code": err_code, "scts": "2501011200", "message-timestamp": "2025-01-01 12:00:00"}


@pytest.mark.parametrize("late", ["accepted", "buffered", "unknown", "expired"])
def test_delivered_then_a_late_receipt_leaves_delivered(alpha, alpha_vonage_sender, late):
    message, _ = send(alpha)
    [stored] = alpha_messages(alpha, pk=message.pk)
    client = public()
    delivered = vonage_call(client, V_STATUS, receipt(stored.provider_message_id, "delivered"))
    assert (delivered.status_code, delivered.content) == (200, b"")
    late_receipt = vonage_call(client, V_STATUS,
                               receipt(stored.provider_message_id, late, "1"), "get")
    assert late_receipt.status_code == 200
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.error_code) == ("delivered", "")
    assert stored.delivered_at is not None


def test_an_early_accepted_receipt_keeps_the_message_sent(alpha, alpha_vonage_sender):
    message, _ = send(alpha)
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert vonage_call(public(), V_STATUS,
                       receipt(stored.provider_message_id, "buffered")).status_code == 200
    assert alpha_messages(alpha, pk=message.pk)[0].status == "sent"


@pytest.mark.parametrize(("vonage_status", "err_code", "ours"), [
    ("rejected", "6", "undelivered"), ("expired", "2", "undelivered"),
    ("failed", "3", "failed"),
])
def test_a_negative_receipt_ends_the_message_with_vonages_error_code(
        alpha, alpha_vonage_sender, vonage_status, err_code, ours):
    message, _ = send(alpha)
    [stored] = alpha_messages(alpha, pk=message.pk)
    client = public()
    response = vonage_call(client, V_STATUS,
                           receipt(stored.provider_message_id, vonage_status, err_code), "json")
    assert response.status_code == 200
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.error_code) == (ours, err_code)
    assert stored.failed_at is not None
    # A terminal state is never left, not even for "delivered".
    vonage_call(client, V_STATUS, receipt(stored.provider_message_id, "delivered"))
    assert alpha_messages(alpha, pk=message.pk)[0].status == ours


def test_a_receipt_for_an_unknown_message_is_404(alpha, alpha_vonage_sender):
    response = vonage_call(public(), V_STATUS, receipt("1AFFFFFFFFFFFFFF", "delivered"))
    assert (response.status_code, response.json()["code"]) == (404, "unknown_message")


# --- Generic HTTP (Standard Webhooks) ----------------------------------------------------


class FakeHttpProvider:
    """A provider speaking our generic HTTP format: it verifies the Standard Webhooks
    signature as the spec says and answers with its own message id."""

    def __init__(self) -> None:
        self.ids = (f"prov-{n}" for n in itertools.count(1))
        self.server = FakeHTTPServer(self.respond)
        self.refused: list[str] = []

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def respond(self, request: Recorded) -> Reply:
        if (request.method, request.path) != ("POST", "/sms"):
            return Reply(404, "not found")
        try:
            Webhook(WH_SECRET).verify(request.body, request.headers)
        except Exception as exc:
            self.refused.append(str(exc))
            return Reply(401, {"error": str(exc)})
        return Reply(200, {"id": next(self.ids)})


@pytest.fixture
def fake_http() -> Iterator[FakeHttpProvider]:
    fake = FakeHttpProvider()
    with fake.server:
        yield fake


@pytest.fixture
def alpha_http_sender(alpha, fake_http):
    connection = connection_add(name="http-test", kind="http", settings={
        "url": fake_http.server.url + "/sms", "secret": WH_SECRET})
    return approved_sender(alpha, ALPHA_NUMBER, connection.name)


H_INBOUND = "/webhooks/http-test/inbound"
H_STATUS = "/webhooks/http-test/status"


def http_call(client: Client, path: str, payload: dict, msg_id: str = "msg_1",
              secret: str = WH_SECRET, body: str | None = None):
    data = json.dumps(payload)
    headers = standard_webhook_headers(secret, msg_id, data)
    return client.post(path, data if body is None else body, content_type="application/json",
                       headers=headers)


def test_http_signed_inbound_posted_twice_makes_one_message(alpha, alpha_http_sender):
    client = public()
    payload = {"id": "in-1", "from": CUSTOMER, "to": ALPHA_NUMBER, "body": "Hi from HTTP"}
    for _ in range(2):
        response = http_call(client, H_INBOUND, payload)
        assert response.status_code == 204
    [message] = alpha_messages(alpha)
    assert (message.direction, message.from_address, message.to_address, message.body,
            message.status, message.connection) == (
        "inbound", CUSTOMER, ALPHA_NUMBER, "Hi from HTTP", "received", "http-test")


def test_http_unsigned_tampered_or_wrong_secret_inbound_is_refused(alpha, alpha_http_sender):
    client = public()
    payload = {"id": "in-2", "from": CUSTOMER, "to": ALPHA_NUMBER, "body": "Hi"}
    unsigned = client.post(H_INBOUND, json.dumps(payload), content_type="application/json")
    assert (unsigned.status_code, unsigned.json()["code"]) == (403, "invalid_signature")
    tampered = http_call(client, H_INBOUND, payload,
                         body=json.dumps({**payload, "body": "Hi!"}))
    assert tampered.status_code == 403
    other = "whsec_" + base64.b64encode(b"another secret, quite different").decode()
    assert http_call(client, H_INBOUND, payload, secret=other).status_code == 403
    assert alpha_messages(alpha) == []


def test_http_outbound_is_signed_and_a_status_webhook_delivers_it(alpha, alpha_http_sender,
                                                                 fake_http):
    message, retry = send(alpha)
    assert retry is None
    [request] = fake_http.requests
    assert fake_http.refused == []  # the fake verified our signature
    assert request.headers["webhook-id"] == f"{alpha.schema_name}-{message.pk}"
    assert request.json() == {
        "id": f"{alpha.schema_name}-{message.pk}", "from": ALPHA_NUMBER, "to": CUSTOMER,
        "body": "Your order is ready",
        "status_callback": f"{settings.PUBLIC_BASE_URL}/webhooks/http-test/status",
    }
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.provider_message_id) == ("sent", "prov-1")
    client = public()
    delivered = http_call(client, H_STATUS, {"id": "prov-1", "status": "delivered"},
                          msg_id="st_1")
    assert delivered.status_code == 204
    late = http_call(client, H_STATUS, {"id": "prov-1", "status": "sent"}, msg_id="st_2")
    assert late.status_code == 204
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert stored.status == "delivered" and stored.delivered_at is not None
    forged = http_call(client, H_STATUS, {"id": "prov-1", "status": "failed"}, msg_id="st_3",
                       secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    assert forged.status_code == 403


def test_http_undelivered_status_keeps_the_providers_error(alpha, alpha_http_sender):
    message, _ = send(alpha)
    response = http_call(public(), H_STATUS, {
        "id": "prov-1", "status": "undelivered", "error_code": 30003,
        "error_message": "Unreachable handset"})
    assert response.status_code == 204
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.error_code, stored.error_message) == (
        "undelivered", "30003", "Unreachable handset")
