"""Forwarding to the business's own system: a signed JSON POST, its answer texted back,
retries with backoff, the attempt log, and the outbound-HTTP rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cpaas.sweeps import delivery_logs_prune, tenant_sweep
from messaging.forwarding import do_message_forward, endpoint_save, forward_backoff
from messaging.models import Forward, ForwardAttempt, ForwardingEndpoint, Message
from messaging.rules import keyword_rule_save
from tests.support.fakes import FakeHTTPServer, Recorded, Reply, closed_port, silent_port
from tests.support.messaging import CUSTOMER, SIM_NUMBER, customer_texts


class BusinessSystem:
    """The tenant's balance service: verifies our signature, answers with scripted
    replies (then a balance)."""

    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[Reply] = []
        self.verified: list[dict] = []
        self.server = FakeHTTPServer(self.respond)

    def respond(self, request: Recorded) -> Reply:
        try:
            payload = Webhook(self.secret).verify(request.body, {
                key.lower(): value for key, value in request.headers.items()})
        except WebhookVerificationError:
            return Reply(401, {"error": "bad signature"})
        self.verified.append(payload)
        if self.answers:
            return self.answers.pop(0)
        return Reply(200, {"reply": f"Balance for {payload['data']['from']}: $12.50"})


@pytest.fixture
def business() -> Iterator[BusinessSystem]:
    system = BusinessSystem()
    system.server.start()
    yield system
    system.server.stop()


@pytest.fixture
def balance_rule(alpha, sim_sender, business) -> ForwardingEndpoint:
    with schema_context(alpha.schema_name):
        endpoint = endpoint_save(name="balances", url=business.server.url + "/sms",
                                 timeout_seconds=2)
        keyword_rule_save(keyword="balance", match="starts_with", forward_to=endpoint)
    business.secret = endpoint.secret
    return endpoint


def forward_now(alpha) -> float | None:
    """Run the pending forward as its task would."""
    with schema_context(alpha.schema_name):
        forward = Forward.objects.get()
        return do_message_forward(forward_id=forward.pk)


def test_a_forwarded_message_is_signed_and_its_answer_texted_back(alpha, balance_rule,
                                                                   business):
    assert customer_texts(alpha, "Balance please") == []  # the answer comes from the task
    assert forward_now(alpha) is None
    [payload] = business.verified
    assert payload["type"] == "message.received"
    assert {k: payload["data"][k] for k in ("from", "to", "body")} == {
        "from": CUSTOMER, "to": SIM_NUMBER, "body": "Balance please"}
    assert payload["data"]["contact"]["phone"] == CUSTOMER
    with schema_context(alpha.schema_name):
        [reply] = Message.objects.filter(direction="outbound")
        forward = Forward.objects.get()
        [attempt] = ForwardAttempt.objects.all()
    assert (reply.to_address, reply.body, reply.origin) == (
        CUSTOMER, f"Balance for {CUSTOMER}: $12.50", "rule")
    assert (forward.status, forward.reply_id) == ("succeeded", reply.pk)
    assert (attempt.response_status, attempt.error) == (200, "")
    assert forward_now(alpha) is None  # a redelivered task sends nothing more
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 1


def test_a_tampered_delivery_fails_the_receivers_check(balance_rule):
    body = json.dumps({"type": "message.received"})
    sent_at = timezone.now()
    signature = Webhook(balance_rule.secret).sign("fwd_1", sent_at, body)
    headers = {"webhook-id": "fwd_1", "webhook-timestamp": str(int(sent_at.timestamp())),
               "webhook-signature": signature}
    Webhook(balance_rule.secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(balance_rule.secret).verify(body.replace("received", "deleted"), headers)


def test_failures_retry_with_backoff_and_every_attempt_is_logged(alpha, balance_rule,
                                                                 business):
    business.answers = [Reply(503, "down for maintenance"), Reply(200, b"")]
    customer_texts(alpha, "balance")
    assert forward_now(alpha) == forward_backoff(1) == 10.0
    assert forward_now(alpha) is None
    with schema_context(alpha.schema_name):
        attempts = list(ForwardAttempt.objects.order_by("number"))
        assert Forward.objects.get().status == "succeeded"
        # An empty 200 is a success with nothing to text back.
        assert not Message.objects.filter(direction="outbound").exists()
    assert [(a.number, a.response_status) for a in attempts] == [(1, 503), (2, 200)]
    assert attempts[0].error == "HTTP 503." and "maintenance" in attempts[0].response_excerpt
    # Both tries carried the same webhook id, so the receiver can drop a duplicate.
    ids = {r.headers["webhook-id"] for r in business.server.requests}
    assert len(ids) == 1


def test_a_silent_or_closed_endpoint_is_retried_then_given_up(alpha, balance_rule):
    customer_texts(alpha, "balance")
    with silent_port() as port, schema_context(alpha.schema_name):
        ForwardingEndpoint.objects.update(url=f"http://127.0.0.1:{port}/", timeout_seconds=1)
        assert do_message_forward(forward_id=Forward.objects.get().pk) == 10.0
        assert "No answer within 1 s" in ForwardAttempt.objects.get().error
        ForwardingEndpoint.objects.update(url=f"http://127.0.0.1:{closed_port()}/")
        delays = [do_message_forward(forward_id=Forward.objects.get().pk) for _ in range(5)]
        assert delays == [30.0, 90.0, 270.0, 810.0, None]
        assert Forward.objects.get().status == "failed"
        assert ForwardAttempt.objects.count() == 6


def test_in_production_a_url_read_two_ways_is_refused_when_sent(alpha, balance_rule,
                                                               business, settings):
    settings.OUTBOUND_HTTP_PUBLIC_ONLY = True
    port = business.server.url.rsplit(":", 1)[1]
    customer_texts(alpha, "balance")
    with schema_context(alpha.schema_name):
        # Saved before the check knew better: urlsplit reads 93.184.216.34 as the host,
        # an HTTP client 127.0.0.1, where the business's system listens.
        ForwardingEndpoint.objects.update(url=f"http://127.0.0.1:{port}\\@93.184.216.34/x")
        assert do_message_forward(forward_id=Forward.objects.get().pk) is None
        assert Forward.objects.get().status == "failed"  # refused: not retried
        assert "backslash" in ForwardAttempt.objects.get().error
        assert not Message.objects.filter(direction="outbound").exists()
    assert business.server.requests == []


def test_the_answer_obeys_opt_out_and_is_never_sent_to_an_opted_out_contact(
        alpha, balance_rule, business):
    customer_texts(alpha, "balance")
    customer_texts(alpha, "STOP")  # before the business answered
    assert forward_now(alpha) is None
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound", origin="rule").exists()
        assert "opted out" in ForwardAttempt.objects.get().error


def test_a_lost_forward_task_is_found_by_the_sweep(alpha, balance_rule, settings):
    settings.SWEEP_GRACE_SECONDS = 0
    customer_texts(alpha, "balance")
    with schema_context(alpha.schema_name):
        Forward.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
        assert tenant_sweep(schema=alpha.schema_name) >= 1


def test_old_finished_forwards_are_pruned_with_their_attempts(alpha, balance_rule, settings):
    settings.DELIVERY_LOG_RETENTION_DAYS = 30
    customer_texts(alpha, "balance please")
    forward_now(alpha)
    customer_texts(alpha, "balance again")
    with schema_context(alpha.schema_name):
        Forward.objects.update(created_at=timezone.now() - timedelta(days=31))
        pending = Forward.objects.get(status="pending")
    assert delivery_logs_prune() == 1
    with schema_context(alpha.schema_name):
        assert list(Forward.objects.all()) == [pending]
        assert not ForwardAttempt.objects.exists()
        # The texted answer is part of the conversation: it stays.
        assert Message.objects.filter(body__startswith="Balance for").exists()


@pytest.mark.parametrize(("fields", "code"), [
    ({"url": "http://example.com/hook"}, "unsafe_url"),
    ({"url": "ftp://127.0.0.1/x"}, "unsafe_url"),
    ({"url": "not a url"}, "validation_error"),
    ({"url": "http://127.0.0.1/x", "timeout_seconds": 60}, "invalid_timeout"),
])
def test_endpoints_refuse_urls_off_the_machine_and_bad_timeouts(alpha, api, fields, code):
    response = api.post("forwarding-endpoints", {"name": "crm", **fields})
    assert (response.status_code, response.json()["code"]) == (400, code)
    with schema_context(alpha.schema_name):
        assert not ForwardingEndpoint.objects.exists()


def test_endpoint_api_shows_the_secret_once_and_the_attempt_log(alpha, api, sim_sender,
                                                                business):
    created = api.post("forwarding-endpoints", {"name": "crm",
                                                "url": business.server.url + "/in"})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    endpoint_id = created.json()["id"]
    assert "secret" not in api.get(f"forwarding-endpoints/{endpoint_id}").json()
    assert "secret" not in api.get("forwarding-endpoints").json()["results"][0]
    rule = api.post("keyword-rules", {"keyword": "order", "match": "starts_with",
                                      "forward_to": endpoint_id})
    assert rule.status_code == 201 and rule.json()["forward_to"] == endpoint_id
    business.secret = secret
    customer_texts(alpha, "order 42?")
    forward_now(alpha)
    [attempt] = api.get(f"forwarding-endpoints/{endpoint_id}/attempts").json()["results"]
    assert (attempt["number"], attempt["response_status"], attempt["forward_status"]) == (
        1, 200, "succeeded")
    assert api.get("forwarding-endpoints/999999/attempts").status_code == 404
