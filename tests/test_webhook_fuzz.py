"""Every provider webhook parser, fuzzed with hypothesis: correctly signed requests carrying
whatever a provider (or an attacker holding a leaked secret) could send. The answer is never
a server error: a 2xx, or a 4xx JSON body with a stable code, and nothing half-written."""

from __future__ import annotations

import base64
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from messaging.inbound import message_process
from messaging.models import Contact, Message
from tenants.connections import connection_add
from tests.conftest import host_client
from tests.support.messaging import ALPHA_NUMBER, CUSTOMER, approved_sender
from tests.support.signing import standard_webhook_headers, vonage_signed

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

TWILIO_TOKEN = "fuzz-twilio-token"
VONAGE_SECRET = "fuzz-vonage-signature-secret"
VONAGE_NUMBER = "+14155550101"
HTTP_NUMBER = "+14155550102"
HTTP_SECRET = "whsec_" + "ZnV6ei1zZWNyZXQtZm9yLXRoZS1odHRwLWJhY2tlbmQ="

FUZZ = hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])

# What a field may hold: short and long text in any script, control characters and NUL
# included (PostgreSQL refuses NUL in text), numbers as text, our own numbers.
values = st.one_of(st.text(max_size=40), st.text(max_size=2000),
                   st.text(alphabet=st.characters(codec="utf-8"), max_size=10).map(
                       lambda text: text + "\x00"),
                   st.sampled_from(["", "\x00", "0", "-1", "99999999999999999999", "1e309",
                                    "true", "null", ALPHA_NUMBER, CUSTOMER, "14155550100"]))
numbers = st.sampled_from([ALPHA_NUMBER, ALPHA_NUMBER[1:], CUSTOMER, "", "+1", "abc"])
ids = st.text("ABCDEFabcdef0123456789", min_size=1, max_size=34)


def plausible_or_random(plausible: dict, optional: dict) -> st.SearchStrategy:
    """Half the time a request right in every field but the fuzzed ones, so the parser's
    deeper paths (storing, reassembling, status moves) run; else anything at all."""
    return st.one_of(st.fixed_dictionaries(plausible, optional=optional),
                     st.fixed_dictionaries({}, optional={**plausible, **optional}))


@pytest.fixture
def connections(alpha):
    connection_add(name="tw-fuzz", kind="twilio", settings={
        "account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN,
        "api_base_url": "http://127.0.0.1:9"})
    connection_add(name="vo-fuzz", kind="vonage", settings={
        "api_key": "key", "api_secret": "secret", "signature_secret": VONAGE_SECRET,
        "signature_method": "sha256", "api_base_url": "http://127.0.0.1:9"})
    connection_add(name="ht-fuzz", kind="http", settings={
        "url": "http://127.0.0.1:9/sms", "secret": HTTP_SECRET})
    approved_sender(alpha, ALPHA_NUMBER, "tw-fuzz")
    approved_sender(alpha, VONAGE_NUMBER, "vo-fuzz")
    approved_sender(alpha, HTTP_NUMBER, "ht-fuzz")
    return host_client(settings.BASE_DOMAIN)


def assert_answered_cleanly(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], body


twilio_inbound = plausible_or_random(
    {"MessageSid": ids, "From": st.just(CUSTOMER), "To": st.just(ALPHA_NUMBER),
     "Body": values},
    {"NumSegments": values, "AccountSid": values, "NumMedia": values, "SmsStatus": values,
     "FromCountry": values})
twilio_status = plausible_or_random(
    {"MessageSid": ids, "MessageStatus": st.sampled_from(
        ["queued", "sent", "delivered", "undelivered", "failed", "read", "canceled"])},
    {"ErrorCode": values, "ErrorMessage": values, "To": numbers, "From": numbers})


@pytest.mark.parametrize(("kind", "fields"), [("inbound", twilio_inbound),
                                              ("status", twilio_status)])
def test_twilio_webhooks_never_fail_on_signed_input(connections, kind, fields):
    path = f"/webhooks/tw-fuzz/{kind}"
    validator = RequestValidator(TWILIO_TOKEN)

    @FUZZ
    @given(params=fields)
    def check(params: dict[str, str]) -> None:
        signature = validator.compute_signature(settings.PUBLIC_BASE_URL + path, params)
        assert_answered_cleanly(connections.post(path, params,
                                                 HTTP_X_TWILIO_SIGNATURE=signature))

    check()


vonage_inbound = plausible_or_random(
    {"msisdn": st.just(CUSTOMER[1:]), "to": st.just(VONAGE_NUMBER[1:]), "messageId": ids,
     "text": values, "type": st.sampled_from(["text", "unicode", "binary"])},
    {"concat": st.sampled_from(["true", "false"]) | values,
     "concat-ref": values, "concat-total": st.sampled_from(["2", "3", "0", "-1"]) | values,
     "concat-part": st.sampled_from(["1", "2", "4", "0"]) | values,
     "message-timestamp": values})
vonage_status = plausible_or_random(
    {"messageId": ids, "status": st.sampled_from(
        ["accepted", "delivered", "buffered", "expired", "failed", "rejected", "unknown"])},
    {"err-code": values, "msisdn": numbers, "to": numbers, "price": values})


@pytest.mark.parametrize(("kind", "fields"), [("inbound", vonage_inbound),
                                              ("status", vonage_status)])
def test_vonage_webhooks_never_fail_on_signed_input(connections, kind, fields):
    path = f"/webhooks/vo-fuzz/{kind}"

    @FUZZ
    @given(params=fields, how=st.sampled_from(["form", "json", "get"]))
    def check(params: dict[str, str], how: str) -> None:
        signed = vonage_signed(params, "sha256", VONAGE_SECRET)
        if how == "get":
            response = connections.get(path, signed)
        elif how == "json":
            response = connections.post(path, json.dumps(signed),
                                        content_type="application/json")
        else:
            response = connections.post(path, urlencode(signed),
                                        content_type="application/x-www-form-urlencoded")
        assert_answered_cleanly(response)

    check()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | values,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8)
http_payload = st.one_of(
    plausible_or_random(
        {"id": ids, "from": st.just(CUSTOMER), "to": st.just(HTTP_NUMBER), "body": values,
         "status": st.sampled_from(["sent", "delivered", "failed", "undelivered"])},
        {"error_code": json_values, "error_message": json_values}),
    plausible_or_random({"id": json_values, "body": json_values}, {}),
    json_values)


@pytest.mark.parametrize("kind", ["inbound", "status"])
def test_http_webhooks_never_fail_on_signed_input(connections, kind):
    path = f"/webhooks/ht-fuzz/{kind}"

    @FUZZ
    @given(payload=http_payload)
    def check(payload) -> None:
        body = json.dumps(payload)
        response = connections.post(path, body, content_type="application/json",
                                    headers=standard_webhook_headers(HTTP_SECRET, "msg_f", body))
        assert_answered_cleanly(response)

    check()


def twilio_signed_post(client, path: str, params: dict[str, str]):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        settings.PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_nul_character_is_stored_as_a_visible_replacement(alpha, connections):
    """Found by fuzzing: PostgreSQL refused the row and the provider was told to retry."""
    response = twilio_signed_post(connections, "/webhooks/tw-fuzz/inbound", {
        "MessageSid": "SMnul", "From": CUSTOMER, "To": ALPHA_NUMBER, "Body": "a\x00b"})
    assert response.status_code == 200
    with schema_context(alpha.schema_name):
        assert Message.objects.get(provider_message_id="SMnul").body == "a\ufffdb"


def test_fields_too_long_to_be_real_are_refused_and_nothing_is_stored(alpha, connections):
    response = twilio_signed_post(connections, "/webhooks/tw-fuzz/inbound", {
        "MessageSid": "SM" + "x" * 200, "From": CUSTOMER, "To": ALPHA_NUMBER, "Body": "Hi"})
    assert (response.status_code, response.json()["code"]) == (400, "malformed_payload")
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_a_body_larger_than_any_sms_webhook_is_refused_unread(alpha, connections):
    params = {"MessageSid": "SMbig", "From": CUSTOMER, "To": ALPHA_NUMBER,
              "Body": "x" * (settings.WEBHOOK_MAX_BODY_BYTES + 1)}
    response = twilio_signed_post(connections, "/webhooks/tw-fuzz/inbound", params)
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


# --- text no column can store, and bytes that are not UTF-8 --------------------------------


def http_signed_post(client, path: str, body: str):
    return client.post(path, body, content_type="application/json",
                       headers=standard_webhook_headers(HTTP_SECRET, "msg_t", body))


def test_a_lone_surrogate_in_a_signed_json_body_is_stored_as_a_visible_replacement(
        alpha, connections):
    """JSON can carry half a UTF-16 pair, which no UTF-8 column can hold: it used to fail
    the INSERT, and the provider retried for ever."""
    body = json.dumps({"id": "m-sur", "from": CUSTOMER, "to": HTTP_NUMBER, "body": "a\ud800b"})
    response = http_signed_post(connections, "/webhooks/ht-fuzz/inbound", body)
    assert response.status_code == 204
    with schema_context(alpha.schema_name):
        assert Message.objects.get(provider_message_id="m-sur").body == "a\ufffdb"


def test_a_lone_surrogate_in_a_status_callback_id_is_an_unknown_message(alpha, connections):
    body = json.dumps({"id": "m\ud800", "status": "delivered", "error_message": "\ud800"})
    response = http_signed_post(connections, "/webhooks/ht-fuzz/status", body)
    assert (response.status_code, response.json()["code"]) == (404, "unknown_message")


@pytest.mark.parametrize("how", ["json", "form"])
def test_a_vonage_webhook_with_a_lone_surrogate_or_bad_utf8_is_refused_not_failed(
        alpha, connections, how):
    """Vonage signs UTF-8, which cannot hold either: the signature check refuses them."""
    params = {"msisdn": CUSTOMER[1:], "to": VONAGE_NUMBER[1:], "messageId": "v-sur",
              "text": "a\ud800b", "timestamp": str(int(time.time())), "sig": "0" * 64}
    if how == "json":
        response = connections.post("/webhooks/vo-fuzz/inbound", json.dumps(params),
                                    content_type="application/json")
    else:
        response = connections.post("/webhooks/vo-fuzz/inbound",
                                    b"text=%ED%A0%80&msisdn=%FF",
                                    content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.json()["code"]) == (403, "invalid_signature")
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_a_json_body_that_is_not_utf8_is_refused_and_nothing_stored(alpha, connections):
    """Signed over its bytes as the Standard Webhooks scheme signs: the scheme's checker
    reads the body as UTF-8 text and cannot, so the signature does not verify."""
    body = b'{"id": "m-bad", "from": "+14155550199", "to": "+14155550102", "body": "\xff"}'
    timestamp = str(int(time.time()))
    key = base64.b64decode(HTTP_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_b." + timestamp.encode() + b"." + body, "sha256").digest()
    response = connections.post("/webhooks/ht-fuzz/inbound", body,
                                content_type="application/json", headers={
                                    "webhook-id": "msg_b", "webhook-timestamp": timestamp,
                                    "webhook-signature": "v1," + base64.b64encode(digest).decode()})
    assert (response.status_code, response.json()["code"]) == (403, "invalid_signature")
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_a_form_body_that_is_not_utf8_is_stored_as_read_with_replacements(alpha, connections):
    """Django reads a form's bad bytes as U+FFFD; signed over what we read, it is kept."""
    path = "/webhooks/tw-fuzz/inbound"
    read = {"MessageSid": "SMbad", "From": CUSTOMER, "To": ALPHA_NUMBER, "Body": "a\ufffdb"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        settings.PUBLIC_BASE_URL + path, read)
    response = connections.post(
        path, urlencode({**read, "Body": "a"}).encode().replace(b"Body=a", b"Body=a%FFb"),
        content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    with schema_context(alpha.schema_name):
        assert Message.objects.get(provider_message_id="SMbad").body == "a\ufffdb"


# --- who a message is from -----------------------------------------------------------------


def send_from(client, provider: str, sender: str):
    """An inbound message from ``sender``, signed as the provider signs it."""
    if provider == "twilio":
        return twilio_signed_post(client, "/webhooks/tw-fuzz/inbound", {
            "MessageSid": "SMfrom", "From": sender, "To": ALPHA_NUMBER, "Body": "Hi"})
    if provider == "vonage":
        return client.post("/webhooks/vo-fuzz/inbound", vonage_signed(
            {"msisdn": sender, "to": VONAGE_NUMBER[1:], "messageId": "v-from", "text": "Hi",
             "type": "text"}, "sha256", VONAGE_SECRET))
    body = json.dumps({"id": "h-from", "from": sender, "to": HTTP_NUMBER, "body": "Hi"})
    return http_signed_post(client, "/webhooks/ht-fuzz/inbound", body)


@pytest.mark.parametrize(("provider", "sender", "code"), [
    ("twilio", "not a number!", "invalid_address"),
    ("twilio", "+1", "invalid_phone_number"),
    ("twilio", "+1 (415) 555-0199", "invalid_address"),
    ("twilio", "ACME SHOP 123", "invalid_address"),  # 12 characters
    ("twilio", "12", "invalid_address"),
    ("vonage", "4477009000012345", "invalid_address"),  # 16 digits
    ("vonage", "ab$", "invalid_address"),
    ("http", "a\x00b", "invalid_address"),
    ("http", "<script>", "invalid_address"),
])
def test_a_sender_that_is_no_number_nor_sender_id_is_refused_and_logged(
        alpha, connections, caplog, provider, sender, code):
    response = send_from(connections, provider, sender)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert response.json()["detail"]
    assert f"inbound refused with 400 {code}" in caplog.text
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()
        assert not Contact.objects.exists()


@pytest.mark.parametrize(("provider", "sender", "stored"), [
    ("twilio", CUSTOMER, CUSTOMER),
    ("twilio", "12345", "12345"),
    ("twilio", "ACME Shop", "ACME Shop"),
    ("twilio", "Ølstue 24", "Ølstue 24"),
    ("vonage", "447700900001", "+447700900001"),
    ("vonage", "62884", "62884"),
    ("http", "InfoSMS", "InfoSMS"),
])
def test_numbers_short_codes_and_sender_ids_become_the_contact(
        alpha, connections, provider, sender, stored):
    response = send_from(connections, provider, sender)
    assert response.status_code in (200, 204)
    with schema_context(alpha.schema_name):
        message = Message.objects.get()
        message_process(message_id=message.pk)
        assert Contact.objects.get().phone == stored
