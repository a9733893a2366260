"""The Vonage and generic HTTP backends against fake servers speaking the real wire formats.

No database: connections are built unsaved. Vonage signatures are computed independently
(tests/signing.py) from Vonage's signing guide (and checked against the test vectors of
Vonage's own Python SDK); Standard Webhooks signatures with the ``standardwebhooks``
package, as a receiver would.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from standardwebhooks.webhooks import Webhook

from messaging.providers import base
from messaging.providers.base import (
    ConcatInfo,
    InvalidPayload,
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    TransientSendError,
)
from messaging.providers.http import HttpBackend
from messaging.providers.vonage import VonageBackend, signature
from tenants.models import ProviderConnection
from tests.support.fakes import FakeHTTPServer, Recorded, Reply, closed_port, silent_port
from tests.support.signing import vonage_signed

rf = RequestFactory()
CALLBACK = "http://localhost:8000/webhooks/v/status"
SIG_SECRET = "my-signature-secret"
WH_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def sms(body: str = "Hello", encoding: str = "GSM-7", segments: int = 1) -> OutboundSMS:
    return OutboundSMS(message_id=42, tenant_schema="alpha", from_address="+15550001111",
                       to="+447700900123", body=body, encoding=encoding, segments=segments,
                       status_callback=CALLBACK)


@pytest.fixture
def fast_timeouts(monkeypatch) -> None:
    monkeypatch.setattr(base, "HTTP_TIMEOUT", (1, 0.5))


# --- Vonage ------------------------------------------------------------------------------


def vonage(**settings) -> VonageBackend:
    return VonageBackend(ProviderConnection(
        name="v", kind="vonage",
        settings={"api_key": "key", "api_secret": "secret", **settings}))


def vonage_answer(parts: int = 1, statuses: list[str] | None = None, error_text: str = ""):
    """Vonage's /sms/json: checks credentials, answers one entry per part."""
    statuses = statuses or ["0"] * parts

    def respond(request: Recorded) -> Reply:
        form = request.form()
        if request.path != "/sms/json" or request.method != "POST":
            return Reply(404, "not found")
        if form.get("api_key") != "key" or form.get("api_secret") != "secret":
            statuses_now = ["4"]
        else:
            statuses_now = statuses
        messages = []
        for n, status in enumerate(statuses_now):
            if status == "0":
                messages.append({"to": form["to"], "message-id": f"MID-{n + 1}",
                                 "status": "0", "remaining-balance": "3.1415",
                                 "message-price": "0.0333", "network": "23410"})
            else:
                messages.append({"status": status,
                                 "error-text": error_text or "Bad Credentials"})
        return Reply(200, {"message-count": str(len(messages)), "messages": messages})

    return respond


@pytest.fixture
def vonage_server():
    with FakeHTTPServer(vonage_answer()) as server:
        yield server


def test_vonage_send_posts_the_documented_form_fields(vonage_server):
    result = vonage(api_base_url=vonage_server.url + "/").send(sms())

    assert result.provider_message_id == "MID-1"
    assert result.status == "sent"
    [request] = vonage_server.requests
    assert request.path == "/sms/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "api_key": "key", "api_secret": "secret", "from": "15550001111",
        "to": "447700900123", "text": "Hello", "callback": CALLBACK, "client-ref": "42",
    }


def test_vonage_send_unicode_multipart_keeps_the_first_part_id(vonage_server):
    vonage_server.responder = vonage_answer(parts=3)
    body = "Привет " * 30

    result = vonage(api_base_url=vonage_server.url).send(sms(body, "UCS-2", 3))

    assert result.provider_message_id == "MID-1"
    form = vonage_server.requests[0].form()
    assert form["type"] == "unicode"
    assert form["text"] == body


def test_vonage_alphanumeric_sender_is_sent_as_is(vonage_server):
    message = OutboundSMS(message_id=1, tenant_schema="alpha", from_address="ACME",
                          to="+447700900123", body="Hi", encoding="GSM-7", segments=1,
                          status_callback=CALLBACK)
    vonage(api_base_url=vonage_server.url).send(message)
    assert vonage_server.requests[0].form()["from"] == "ACME"


def test_vonage_throttled_is_transient(vonage_server):
    vonage_server.responder = vonage_answer(statuses=["1"], error_text="Throughput exceeded")
    with pytest.raises(TransientSendError) as exc:
        vonage(api_base_url=vonage_server.url).send(sms())
    assert exc.value.code == "vonage_1"


def test_vonage_internal_error_is_transient(vonage_server):
    vonage_server.responder = vonage_answer(statuses=["5"], error_text="Internal Error")
    with pytest.raises(TransientSendError) as exc:
        vonage(api_base_url=vonage_server.url).send(sms())
    assert exc.value.code == "vonage_5"


def test_vonage_invalid_message_is_permanent_with_the_status_as_code(vonage_server):
    vonage_server.responder = vonage_answer(statuses=["6"], error_text="Invalid Message")
    with pytest.raises(PermanentSendError) as exc:
        vonage(api_base_url=vonage_server.url).send(sms())
    assert (exc.value.code, exc.value.detail) == ("6", "Invalid Message")


def test_vonage_bad_credentials_is_permanent(vonage_server):
    with pytest.raises(PermanentSendError) as exc:
        vonage(api_base_url=vonage_server.url, api_secret="wrong").send(sms())
    assert (exc.value.code, exc.value.detail) == ("4", "Bad Credentials")


def test_vonage_partly_accepted_message_is_not_retried(vonage_server):
    # Resending would deliver the accepted part a second time.
    vonage_server.responder = vonage_answer(statuses=["0", "1"], error_text="Throttled")
    with pytest.raises(PermanentSendError) as exc:
        vonage(api_base_url=vonage_server.url).send(sms("x" * 200, segments=2))
    assert exc.value.code == "1"


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (503, None), (429, 7.0)])
def test_vonage_http_errors_are_transient(vonage_server, status, retry_after):
    headers = {"Retry-After": "7"} if retry_after else {}
    vonage_server.responder = lambda request: Reply(status, "busy", headers)
    with pytest.raises(TransientSendError) as exc:
        vonage(api_base_url=vonage_server.url).send(sms())
    assert exc.value.code == f"http_{status}"
    assert exc.value.retry_after == retry_after


def test_vonage_unreadable_200_has_an_unknown_outcome(vonage_server):
    vonage_server.responder = lambda request: Reply(200, "<html>oops</html>")
    with pytest.raises(OutcomeUnknownError):
        vonage(api_base_url=vonage_server.url).send(sms())


def test_vonage_sends_are_not_idempotent():
    assert VonageBackend.idempotent_send is False


def test_vonage_unreachable_is_transient():
    with pytest.raises(TransientSendError) as exc:
        vonage(api_base_url=f"http://127.0.0.1:{closed_port()}").send(sms())
    assert exc.value.code == "provider_unreachable"


INBOUND = {
    "msisdn": "447700900001", "to": "447700900000", "messageId": "0A0000000123ABCD1",
    "text": "Hello world", "type": "text", "keyword": "HELLO", "api-key": "key",
    "message-timestamp": "2020-01-01 12:00:00",
}
CONCAT = {"concat": "true", "concat-ref": "1", "concat-total": "3", "concat-part": "2"}


def form_post(params: dict[str, str], path: str = "/webhooks/v/inbound"):
    return rf.post(path, data=urlencode(params),
                   content_type="application/x-www-form-urlencoded")


def json_post(params: dict, path: str = "/webhooks/v/inbound"):
    return rf.post(path, data=json.dumps(params), content_type="application/json")


def test_vonage_inbound_get():
    inbound = vonage().parse_inbound(rf.get("/webhooks/v/inbound", INBOUND))
    assert inbound.provider_message_id == "0A0000000123ABCD1"
    assert inbound.from_address == "+447700900001"
    assert inbound.to_address == "+447700900000"
    assert inbound.body == "Hello world"
    assert inbound.concat is None


def test_vonage_inbound_form_post_with_concat():
    inbound = vonage().parse_inbound(form_post({**INBOUND, **CONCAT}))
    assert inbound.concat == ConcatInfo(reference="1", total=3, number=2)
    assert inbound.from_address == "+447700900001"


def test_vonage_inbound_json_with_concat():
    inbound = vonage().parse_inbound(json_post({**INBOUND, **CONCAT, "text": "a&b=c"}))
    assert inbound.concat == ConcatInfo(reference="1", total=3, number=2)
    assert inbound.body == "a&b=c"
    assert inbound.to_address == "+447700900000"


def test_vonage_inbound_empty_text_and_alphanumeric_to():
    inbound = vonage().parse_inbound(form_post({**INBOUND, "text": "", "to": "ACME"}))
    assert inbound.body == ""
    assert inbound.to_address == "ACME"


@pytest.mark.parametrize("request_for", [
    lambda: form_post({key: value for key, value in INBOUND.items() if key != "msisdn"}),
    lambda: form_post({key: value for key, value in INBOUND.items() if key != "text"}),
    lambda: form_post({**INBOUND, **CONCAT, "concat-total": "three"}),
    lambda: form_post({**INBOUND, **CONCAT, "concat-part": "4"}),
    lambda: form_post({**INBOUND, "concat": "true"}),
    lambda: rf.post("/webhooks/v/inbound", data="{not json", content_type="application/json"),
    lambda: json_post(["a list"]),
])
def test_vonage_inbound_rejects_malformed(request_for):
    with pytest.raises(InvalidPayload):
        vonage().parse_inbound(request_for())


@pytest.mark.parametrize(("vonage_status", "ours"), [
    ("delivered", "delivered"), ("accepted", "sent"), ("buffered", "sent"),
    ("unknown", "sent"), ("expired", "undelivered"), ("rejected", "undelivered"),
    ("failed", "failed"),
])
def test_vonage_delivery_receipt_mapping(vonage_status, ours):
    receipt = {"msisdn": "447700900123", "to": "15550001111", "network-code": "23410",
               "messageId": "MID-1", "price": "0.0333", "status": vonage_status,
               "scts": "2001011400", "err-code": "0", "message-timestamp": "2020-01-01 12:00:00"}
    report = vonage().parse_status(form_post(receipt, "/webhooks/v/status"))
    assert (report.provider_message_id, report.status, report.error_code) == ("MID-1", ours, "")


def test_vonage_delivery_receipt_error_code_json():
    report = vonage().parse_status(json_post(
        {"messageId": "MID-1", "status": "failed", "err-code": "6"}, "/webhooks/v/status"))
    assert (report.status, report.error_code) == ("failed", "6")


@pytest.mark.parametrize("receipt", [
    {"messageId": "MID-1", "status": "teleported", "err-code": "0"},
    {"messageId": "MID-1", "err-code": "0"},
    {"status": "delivered", "err-code": "0"},
])
def test_vonage_delivery_receipt_rejects_malformed(receipt):
    with pytest.raises(InvalidPayload):
        vonage().parse_status(form_post(receipt, "/webhooks/v/status"))


def test_vonage_acknowledges_with_an_empty_200():
    response = vonage().acknowledge()
    assert (response.status_code, response.content) == (200, b"")


def signed(params: dict[str, str], method: str, secret: str = SIG_SECRET,
           timestamp: int | None = None) -> dict[str, str]:
    return vonage_signed(params, method, secret, timestamp)


def test_signature_matches_vonage_sdk_test_vectors():
    # From Vonage's Python SDK tests (test_signature, test_signature_sha256).
    params = {"a": "1", "b": "2", "timestamp": "1461605396"}
    assert signature(params, "secret") == "6af838ef94998832dbfc29020b564830"
    assert signature(params, "secret", "sha256") == (
        "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24")


def test_vonage_md5hash_signed_get_passes():
    backend = vonage(signature_secret=SIG_SECRET)
    params = signed({**INBOUND, "text": "Fish & chips = tea"}, "md5hash")
    assert backend.verify(rf.get("/webhooks/v/inbound", params))


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_vonage_hmac_signed_form_post_passes(method):
    backend = vonage(signature_secret=SIG_SECRET, signature_method=method)
    assert backend.verify(form_post(signed({**INBOUND, **CONCAT}, method)))


def test_vonage_sha256_signed_json_passes():
    backend = vonage(signature_secret=SIG_SECRET, signature_method="sha256")
    assert backend.verify(json_post(signed(INBOUND, "sha256")))


def test_vonage_tampered_param_fails():
    backend = vonage(signature_secret=SIG_SECRET)
    params = signed(INBOUND, "md5hash")
    assert not backend.verify(form_post({**params, "text": "Hello w0rld"}))
    assert not backend.verify(form_post({**params, "extra": "1"}))


def test_vonage_old_timestamp_fails():
    backend = vonage(signature_secret=SIG_SECRET)
    params = signed(INBOUND, "md5hash", timestamp=int(time.time()) - 3600)
    assert not backend.verify(form_post(params))


@pytest.mark.parametrize("change", [
    lambda params: {key: value for key, value in params.items() if key != "sig"},
    lambda params: {**params, "timestamp": "yesterday"},
])
def test_vonage_missing_sig_or_bad_timestamp_fails(change):
    backend = vonage(signature_secret=SIG_SECRET)
    assert not backend.verify(form_post(change(signed(INBOUND, "md5hash"))))


def test_vonage_wrong_secret_or_method_fails():
    params = signed(INBOUND, "sha256")
    assert not vonage(signature_secret="other", signature_method="sha256").verify(
        form_post(params))
    assert not vonage(signature_secret=SIG_SECRET).verify(form_post(params))  # md5hash
    assert not vonage(signature_secret=SIG_SECRET, signature_method="crc32").verify(
        form_post(params))


def test_vonage_without_signature_secret_accepts_unsigned():
    assert vonage().verify(form_post(INBOUND))


# --- Generic HTTP (Standard Webhooks) ----------------------------------------------------


def http_backend(url: str, secret: str = WH_SECRET) -> HttpBackend:
    return HttpBackend(ProviderConnection(name="h", kind="http",
                                          settings={"url": url, "secret": secret}))


def verifying_answer(reply: dict | None = None):
    """A receiver that checks the Standard Webhooks signature as the spec says."""

    def respond(request: Recorded) -> Reply:
        try:
            Webhook(WH_SECRET).verify(request.body, request.headers)
        except Exception as exc:
            return Reply(401, str(exc))
        return Reply(200, {"id": "p-1"} if reply is None else reply)

    return respond


@pytest.fixture
def http_server():
    with FakeHTTPServer(verifying_answer()) as server:
        yield server


def test_http_send_is_signed_json(http_server):
    result = http_backend(http_server.url + "/sms").send(sms())

    assert result.provider_message_id == "p-1"
    [request] = http_server.requests
    assert request.path == "/sms"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == "alpha-42"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert request.json() == {"id": "alpha-42", "from": "+15550001111",
                              "to": "+447700900123", "body": "Hello",
                              "status_callback": CALLBACK}


def test_http_resend_carries_the_same_webhook_id(http_server):
    backend = http_backend(http_server.url)
    backend.send(sms())
    backend.send(sms())
    assert {request.headers["webhook-id"] for request in http_server.requests} == {"alpha-42"}
    assert HttpBackend.idempotent_send is True


@pytest.mark.parametrize("reply", [{}, {"id": None}, []])
def test_http_send_without_provider_id_uses_ours(http_server, reply):
    http_server.responder = verifying_answer(reply)
    assert http_backend(http_server.url).send(sms()).provider_message_id == "alpha-42"


def test_http_send_with_the_wrong_secret_is_refused(http_server):
    other = "whsec_" + base64.b64encode(b"another secret, quite different").decode()
    with pytest.raises(PermanentSendError) as exc:
        http_backend(http_server.url, secret=other).send(sms())
    assert exc.value.code == "http_401"


def test_http_4xx_is_permanent(http_server):
    http_server.responder = lambda request: Reply(422, {"error": "bad number"})
    with pytest.raises(PermanentSendError) as exc:
        http_backend(http_server.url).send(sms())
    assert exc.value.code == "http_422"
    assert "bad number" in exc.value.detail


def test_http_503_is_transient(http_server):
    http_server.responder = lambda request: Reply(503, "down", {"Retry-After": "30"})
    with pytest.raises(TransientSendError) as exc:
        http_backend(http_server.url).send(sms())
    assert (exc.value.code, exc.value.retry_after) == ("http_503", 30.0)


def test_http_silent_server_has_an_unknown_outcome(fast_timeouts):
    with silent_port() as port, pytest.raises(OutcomeUnknownError):
        http_backend(f"http://127.0.0.1:{port}/sms").send(sms())


def test_http_answer_after_the_read_timeout_has_an_unknown_outcome(http_server, fast_timeouts):
    http_server.responder = lambda request: Reply(200, {"id": "late"}, delay=1.5)
    with pytest.raises(OutcomeUnknownError) as exc:
        http_backend(http_server.url).send(sms())
    assert exc.value.code == "provider_timeout"
    assert len(http_server.requests) == 1  # it did arrive


def test_http_closed_port_is_transient():
    with pytest.raises(TransientSendError) as exc:
        http_backend(f"http://127.0.0.1:{closed_port()}/sms").send(sms())
    assert exc.value.code == "provider_unreachable"


@pytest.mark.parametrize("secret", ["", "whsec_not*base64"])
def test_http_bad_secret_is_a_configuration_error(secret):
    with pytest.raises(PermanentSendError) as exc:
        http_backend("http://127.0.0.1:9/sms", secret=secret).send(sms())
    assert exc.value.code == "provider_misconfigured"


HTTP_INBOUND = {"id": "in-1", "from": "+447700900001", "to": "+15550001111", "body": "Hi"}


def signed_post(payload: dict, path: str = "/webhooks/h/inbound", secret: str = WH_SECRET,
                when: datetime | None = None, body: str | None = None):
    data = json.dumps(payload)
    when = when or datetime.now(UTC)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(when.timestamp())),
               "webhook-signature": Webhook(secret).sign("msg_1", when, data)}
    return rf.post(path, data=data if body is None else body,
                   content_type="application/json", headers=headers)


def test_http_signed_inbound_verifies_and_parses():
    backend = http_backend("http://127.0.0.1:9")
    request = signed_post(HTTP_INBOUND)
    assert backend.verify(request)
    inbound = backend.parse_inbound(request)
    assert (inbound.provider_message_id, inbound.from_address, inbound.to_address,
            inbound.body) == ("in-1", "+447700900001", "+15550001111", "Hi")


def test_http_tampered_body_fails():
    body = json.dumps({**HTTP_INBOUND, "body": "Hi!"})
    assert not http_backend("http://127.0.0.1:9").verify(signed_post(HTTP_INBOUND, body=body))


def test_http_old_timestamp_wrong_secret_or_no_headers_fail():
    backend = http_backend("http://127.0.0.1:9")
    old = datetime.fromtimestamp(time.time() - 600, UTC)
    assert not backend.verify(signed_post(HTTP_INBOUND, when=old))
    other = "whsec_" + base64.b64encode(b"another secret, quite different").decode()
    assert not backend.verify(signed_post(HTTP_INBOUND, secret=other))
    assert not backend.verify(json_post(HTTP_INBOUND, "/webhooks/h/inbound"))
    request = rf.post("/webhooks/h/inbound", data="{}", content_type="application/json",
                      headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
                               "webhook-signature": "garbage"})
    assert not backend.verify(request)


@pytest.mark.parametrize("payload", [
    {**HTTP_INBOUND, "id": ""},
    {key: value for key, value in HTTP_INBOUND.items() if key != "body"},
    {**HTTP_INBOUND, "from": 447700900001},
    ["not", "an", "object"],
])
def test_http_inbound_rejects_malformed(payload):
    with pytest.raises(InvalidPayload):
        http_backend("http://127.0.0.1:9").parse_inbound(json_post(payload))


def test_http_inbound_rejects_non_json():
    request = rf.post("/webhooks/h/inbound", data="id=1", content_type="text/plain")
    with pytest.raises(InvalidPayload):
        http_backend("http://127.0.0.1:9").parse_inbound(request)


@pytest.mark.parametrize("status", ["sent", "delivered", "undelivered", "failed"])
def test_http_status(status):
    report = http_backend("http://127.0.0.1:9").parse_status(json_post(
        {"id": "p-1", "status": status, "error_code": 30003, "error_message": "Unreachable"},
        "/webhooks/h/status"))
    assert (report.provider_message_id, report.status, report.error_code,
            report.error_message) == ("p-1", status, "30003", "Unreachable")


@pytest.mark.parametrize("payload", [
    {"id": "p-1", "status": "queued"},
    {"id": "p-1", "status": ["delivered"]},
    {"status": "delivered"},
])
def test_http_status_rejects_malformed(payload):
    with pytest.raises(InvalidPayload):
        http_backend("http://127.0.0.1:9").parse_status(json_post(payload, "/webhooks/h/status"))


def test_http_acknowledges_with_204():
    assert http_backend("http://127.0.0.1:9").acknowledge().status_code == 204
