"""Event webhooks: subscriptions through the API and the pages, events from the pipelines
(received, status changes, opt-outs, assignment), signed deliveries to a real receiver on
127.0.0.1 that verifies each one, retries, disabling, the outbound-HTTP rule, isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accounts.models import Role, User
from cpaas.sweeps import delivery_logs_prune
from events.actions import (
    delivery_attempt,
    event_emit,
    events_sweep,
    subscription_create,
    subscription_disabled_notify,
    subscription_update,
)
from events.models import (
    CONVERSATION_ASSIGNED,
    MESSAGE_RECEIVED,
    MESSAGE_STATUS_CHANGED,
    OPTOUT_CHANGED,
    ConversationSequence,
    Delivery,
    DeliveryAttempt,
    Event,
    WebhookSubscription,
)
from events.selectors import subscribed_types_forget
from messaging.inbound import message_receive_simulated
from messaging.models import Contact, Conversation, KeywordRule, Message, Sender
from messaging.outbound import message_deliver, message_send
from messaging.rules import keyword_rule_save
from tenants.models import SenderRoute, Tenant, schema_name_for
from tests.conftest import PASSWORD, host_client, login
from tests.support.fakes import FakeHTTPServer, Recorded, Reply
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    Api,
    approved_sender,
    customer_texts,
    key_for,
    twilio_post,
)
from tests.support.workers import celery_worker

USER_AGENT = "cpaas-webhooks/1"


class Receiver:
    """The tenant's system: verifies every request with the webhook's secret (401 when it
    does not verify), then answers as scripted, or 200."""

    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[Reply] = []
        self.verified: list[dict] = []
        self.refused: list[Recorded] = []
        self.server = FakeHTTPServer(self.respond)

    def respond(self, request: Recorded) -> Reply:
        try:
            payload = Webhook(self.secret).verify(request.body, request.headers)
        except WebhookVerificationError:
            self.refused.append(request)
            return Reply(401, {"error": "bad signature"})
        self.verified.append(payload)
        return self.answers.pop(0) if self.answers else Reply(200, {"ok": True})

    @property
    def url(self) -> str:
        return self.server.url + "/events"

    def types(self) -> list[str]:
        return [payload["type"] for payload in self.verified]


def header(request: Recorded, name: str) -> str | None:
    return {key.lower(): value for key, value in request.headers.items()}.get(name)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    system = Receiver()
    system.server.start()
    yield system
    system.server.stop()
    # Whatever the platform sent verified (tests that tamper send with another agent).
    assert not [r for r in system.refused if header(r, "user-agent") == USER_AGENT]


@pytest.fixture(autouse=True)
def _fresh_subscription_caches() -> Iterator[None]:
    """Each process caches which event types a tenant's subscriptions want; rolled-back
    subscriptions of another test must not linger in it."""

    def forget() -> None:
        for slug in ("alpha", "beta"):
            with schema_context(schema_name_for(slug)):
                subscribed_types_forget()

    forget()
    yield
    forget()


def subscribe(tenant, receiver: Receiver, *events: str) -> WebhookSubscription:
    with schema_context(tenant.schema_name):
        subscription = subscription_create(url=receiver.url, events=list(events))
    receiver.secret = subscription.secret
    return subscription


def deliver(tenant) -> list[Delivery]:
    """Attempt every pending delivery once, as their tasks would; return them after."""
    with schema_context(tenant.schema_name):
        ids = list(Delivery.objects.filter(status="pending").order_by("id")
                   .values_list("pk", flat=True))
        for delivery_id in ids:
            delivery_attempt(delivery_id=delivery_id)
        return list(Delivery.objects.filter(pk__in=ids).order_by("id"))


def attempts(tenant) -> list[DeliveryAttempt]:
    with schema_context(tenant.schema_name):
        return list(DeliveryAttempt.objects.order_by("delivery_id", "number"))


def send(tenant, body: str, *, from_address: str = SIM_NUMBER) -> Message:
    """Queue a message and send it as the send task would."""
    with schema_context(tenant.schema_name):
        message = message_send(from_address=from_address, to=CUSTOMER, body=body,
                               origin="api")
        message_deliver(message_id=message.pk)
        return Message.objects.get(pk=message.pk)


# --- Events from the pipelines ---------------------------------------------------------------

def test_a_processed_inbound_message_is_delivered_as_the_api_shows_it(
        alpha, api, sim_sender, receiver):
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    customer_texts(alpha, "Hello there")
    [delivery] = deliver(alpha)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    [payload] = receiver.verified
    [request] = receiver.server.requests
    with schema_context(alpha.schema_name):
        message = Message.objects.get(direction="inbound")
    assert payload["type"] == "message.received"
    assert payload["id"] == header(request, "webhook-id")
    assert payload["id"].startswith("evt_") and payload["timestamp"].endswith("Z")
    assert payload["sequence"] == 1
    # The same shape and values as GET /api/v1/messages/{id}.
    assert payload["data"] == {"message": api.get(f"messages/{message.pk}").json()}
    assert payload["data"]["message"]["body"] == "Hello there"
    assert header(request, "content-type") == "application/json"


def test_the_event_payload_is_stored_as_sent(alpha, sim_sender, receiver):
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    customer_texts(alpha, "hi")
    deliver(alpha)
    [request] = receiver.server.requests
    with schema_context(alpha.schema_name):
        event = Event.objects.get()
    assert request.body == event.payload.encode()
    assert list(json.loads(event.payload)) == ["id", "type", "timestamp", "sequence", "data"]

def test_a_tampered_body_or_signature_is_refused_by_the_receiver(alpha, sim_sender, receiver):
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    customer_texts(alpha, "Hello")
    deliver(alpha)
    [signed] = receiver.server.requests
    headers = {k: v for k, v in signed.headers.items()
               if k.lower().startswith("webhook-") or k.lower() == "content-type"}
    tampered = signed.body.replace(b"Hello", b"Hullo")
    assert requests.post(receiver.url, data=tampered, headers=headers, timeout=5).status_code == 401
    forged = {**headers, "webhook-signature": "v1," + "A" * 43 + "="}
    assert requests.post(receiver.url, data=signed.body, headers=forged,
                         timeout=5).status_code == 401
    assert len(receiver.refused) == 2 and len(receiver.verified) == 1


def test_without_a_subscription_to_a_type_emitting_it_costs_no_query(
        alpha, receiver, django_assert_num_queries):
    with schema_context(alpha.schema_name):
        event_emit(type=OPTOUT_CHANGED, data={})  # loads this process's copy
        with django_assert_num_queries(0):
            assert event_emit(type=OPTOUT_CHANGED, data={}) is None
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    with schema_context(alpha.schema_name):
        event_emit(type=OPTOUT_CHANGED, data={})
        with django_assert_num_queries(0):
            assert event_emit(type=OPTOUT_CHANGED, data={}) is None
        assert not Event.objects.exists()


def test_simulator_sends_emit_status_changes_in_conversation_order(alpha, sim_sender,
                                                                   receiver):
    subscribe(alpha, receiver, MESSAGE_RECEIVED, MESSAGE_STATUS_CHANGED)
    customer_texts(alpha, "Where is my order?")
    first = send(alpha, "On its way")
    second = send(alpha, "Arriving today")
    deliver(alpha)
    assert receiver.types() == ["message.received", "message.status_changed",
                                "message.status_changed"]
    received, *changes = receiver.verified
    assert [p["sequence"] for p in receiver.verified] == [1, 2, 3]
    assert [(c["data"]["message"]["id"], c["data"]["previous_status"],
             c["data"]["message"]["status"]) for c in changes] == [
        (first.pk, "sending", "delivered"), (second.pk, "sending", "delivered")]
    conversation = received["data"]["message"]["conversation"]
    assert {c["data"]["message"]["conversation"] for c in changes} == {conversation}


def test_provider_status_callbacks_emit_each_change_once(alpha, alpha_twilio_sender,
                                                         fake_twilio, receiver):
    subscribe(alpha, receiver, MESSAGE_STATUS_CHANGED)
    message = send(alpha, "Your order is ready", from_address=ALPHA_NUMBER)
    assert message.status == "sent"
    client = host_client(settings.BASE_DOMAIN)
    for status in ("delivered", "sent", "delivered"):  # late and repeated callbacks
        params = {"MessageSid": message.provider_message_id, "MessageStatus": status,
                  "AccountSid": fake_twilio.sid, "To": CUSTOMER, "From": ALPHA_NUMBER}
        assert twilio_post(client, "/webhooks/twilio-test/status", params,
                           fake_twilio.token).status_code == 200
    fake_twilio.answers = [(400, {"code": 21211, "message": "The 'To' number is not valid."})]
    failed = send(alpha, "Second try", from_address=ALPHA_NUMBER)
    deliver(alpha)
    moves = [(p["data"]["message"]["id"], p["data"]["previous_status"],
              p["data"]["message"]["status"], p["sequence"]) for p in receiver.verified]
    assert moves == [(message.pk, "sending", "sent", 1), (message.pk, "sent", "delivered", 2),
                     (failed.pk, "sending", "failed", 3)]
    assert receiver.verified[2]["data"]["message"]["error_code"] == "21211"


def test_a_send_stopped_by_a_later_stop_reports_queued_to_failed(alpha, sim_sender,
                                                                  receiver):
    subscribe(alpha, receiver, MESSAGE_STATUS_CHANGED)
    with schema_context(alpha.schema_name):
        queued = message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="Sale today!",
                              origin="api")
    customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        message_deliver(message_id=queued.pk)
    deliver(alpha)
    [payload] = receiver.verified
    assert (payload["data"]["previous_status"], payload["data"]["message"]["status"],
            payload["data"]["message"]["error_code"]) == (
        "queued", "failed", "recipient_opted_out")


def test_stop_and_an_api_opt_in_emit_optout_changed(alpha, api, sim_sender, receiver):
    subscribe(alpha, receiver, OPTOUT_CHANGED)
    customer_texts(alpha, "STOP")
    assert api.delete(f"optouts/{CUSTOMER}").status_code == 204
    deliver(alpha)
    with schema_context(alpha.schema_name):
        stop = Message.objects.get(direction="inbound", body="STOP")
    out, back_in = receiver.verified
    assert out["data"] == {"phone": CUSTOMER, "action": "opt_out", "source": "keyword",
                           "scope": "tenant", "sender": None, "reason": "",
                           "message": stop.pk}
    assert out["sequence"] == 1  # in the conversation the STOP arrived in
    assert (back_in["data"]["action"], back_in["data"]["source"],
            back_in["sequence"]) == ("opt_in", "api", None)


def test_a_rule_assigning_the_conversation_emits_conversation_assigned(alpha, sim_sender,
                                                                       receiver):
    with schema_context(alpha.schema_name):
        agent = User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT,
                                         name="Ada")
        keyword_rule_save(keyword="sales", assign_to=agent)
    subscribe(alpha, receiver, CONVERSATION_ASSIGNED)
    customer_texts(alpha, "sales")
    customer_texts(alpha, "sales")  # already theirs: no second event
    deliver(alpha)
    [payload] = receiver.verified
    assert payload["data"]["assignee"] == {"id": agent.pk, "email": "agent@alpha.example",
                                           "name": "Ada"}
    assert payload["data"]["previous_assignee"] is None
    assert payload["data"]["assigned_by"] is None
    assert payload["data"]["conversation"]["contact"] == CUSTOMER
    assert payload["data"]["conversation"]["sender"] == SIM_NUMBER
    assert payload["sequence"] == 1


# --- Delivery: retries, disabling, the outbound-HTTP rule, the sweep --------------------------

def test_a_500_is_retried_on_schedule_and_both_attempts_are_logged(alpha, api, sim_sender,
                                                                  receiver):
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    receiver.answers = [Reply(500, "boom"), Reply(200)]
    customer_texts(alpha, "hi")
    [delivery] = deliver(alpha)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    # The first retry waits 5 s: a duplicate task arriving now leaves it alone.
    assert 4 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 5
    deliver(alpha)
    assert len(receiver.server.requests) == 1
    with schema_context(alpha.schema_name):
        Delivery.objects.update(next_attempt_at=timezone.now())
    [delivery] = deliver(alpha)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    log = attempts(alpha)
    assert [(a.number, a.response_status, a.error) for a in log] == [
        (1, 500, "HTTP 500."), (2, 200, "")]
    assert log[0].response_excerpt == "boom"
    # Both attempts carried the same webhook-id, so the receiver can drop a duplicate.
    assert len({header(r, "webhook-id") for r in receiver.server.requests}) == 1
    [listed] = api.get(f"webhooks/{subscription.pk}/deliveries").json()["results"]
    assert (listed["type"], listed["status"], listed["attempts"]) == (
        "message.received", "succeeded", 2)
    assert [a["response_status"] for a in listed["attempt_log"]] == [500, 200]


def test_a_delivery_exhausting_its_retries_turns_the_webhook_off_and_emails_admins(
        alpha, sim_sender, receiver, settings, django_capture_on_commit_callbacks):
    settings.EVENT_WEBHOOK_RETRY_DELAYS = [0, 0]  # three attempts, back to back
    with schema_context(alpha.schema_name):
        User.objects.create_user("admin@alpha.example", PASSWORD, role=Role.ADMIN)
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    receiver.answers = [Reply(503, "down")] * 3
    customer_texts(alpha, "hi")
    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(3):
            deliver(alpha)
    # Two retries enqueued, then the admins' email once the webhook is off.
    assert len(callbacks) == 3
    with schema_context(alpha.schema_name):
        delivery = Delivery.objects.get()
        subscription.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert not subscription.active and subscription.disabled_at is not None
    assert "3 attempts in a row" in subscription.disabled_reason
    assert "HTTP 503." in subscription.disabled_reason
    with schema_context(alpha.schema_name):
        subscription_disabled_notify(subscription_id=subscription.pk)
    [email] = mail.outbox
    assert sorted(email.to) == ["admin@alpha.example", "owner@alpha.example"]
    assert receiver.url in email.body
    assert f"http://alpha.localhost:8000/webhooks/{subscription.pk}/" in email.body
    # Off: new events are not even recorded for it.
    customer_texts(alpha, "anyone there?")
    with schema_context(alpha.schema_name):
        assert Delivery.objects.count() == 1
    # Turned back on: the streak starts again.
    with schema_context(alpha.schema_name):
        subscription_update(subscription=subscription, active=True)
    assert (subscription.active, subscription.disabled_at, subscription.disabled_reason) == (
        True, None, "")
    assert (subscription.consecutive_failures, subscription.failing_since) == (0, None)


def test_an_endpoint_that_fails_now_and_then_stays_on(alpha, sim_sender, receiver, settings):
    settings.EVENT_WEBHOOK_RETRY_DELAYS = [0, 0]
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    customer_texts(alpha, "first")
    customer_texts(alpha, "second")
    # The first event fails three times; the second succeeds in between.
    receiver.answers = [Reply(503), Reply(200), Reply(503), Reply(503)]
    for _ in range(3):
        deliver(alpha)
    with schema_context(alpha.schema_name):
        statuses = list(Delivery.objects.order_by("id").values_list("status", flat=True))
        subscription.refresh_from_db()
    assert statuses == ["failed", "succeeded"]
    assert subscription.active and subscription.disabled_at is None


def test_an_unsafe_url_is_refused_when_sent(alpha, sim_sender, receiver):
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    with schema_context(alpha.schema_name):
        # Say the name resolved elsewhere since it was saved.
        WebhookSubscription.objects.update(url="http://169.254.169.254/latest/meta-data/")
    customer_texts(alpha, "hi")
    [delivery] = deliver(alpha)
    [attempt] = attempts(alpha)
    assert delivery.status == "pending"  # retried later, refused again unless it changes
    assert attempt.response_status is None
    assert attempt.error.startswith("Not sent:") and "not on this machine" in attempt.error
    assert receiver.server.requests == []


def test_in_production_a_url_read_two_ways_is_refused_when_sent(alpha, sim_sender, receiver,
                                                               settings):
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    settings.OUTBOUND_HTTP_PUBLIC_ONLY = True
    # Saved before the check knew better: urlsplit reads 93.184.216.34 as the host, an
    # HTTP client 127.0.0.1, where the receiver listens.
    port = receiver.server.url.rsplit(":", 1)[1]
    with schema_context(alpha.schema_name):
        WebhookSubscription.objects.update(url=f"http://127.0.0.1:{port}\\@93.184.216.34/x")
    customer_texts(alpha, "hi")
    deliver(alpha)
    [attempt] = attempts(alpha)
    assert (attempt.response_status, attempt.response_excerpt) == (None, "")
    assert attempt.error.startswith("Not sent:") and "backslash" in attempt.error
    assert receiver.server.requests == []


def test_the_sweep_re_enqueues_overdue_deliveries_of_active_webhooks(alpha, sim_sender,
                                                                      receiver):
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    customer_texts(alpha, "hi")  # its task is lost: nothing runs it here
    with schema_context(alpha.schema_name):
        Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        stale = timezone.now() - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
        assert events_sweep(schema=alpha.schema_name, stale_before=stale) == 1
        WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False)
        assert events_sweep(schema=alpha.schema_name, stale_before=stale) == 0


# --- API --------------------------------------------------------------------------------------

def test_old_finished_deliveries_are_pruned_with_their_logs(alpha, beta, sim_sender,
                                                          receiver, settings):
    settings.DELIVERY_LOG_RETENTION_DAYS = 30
    subscribe(alpha, receiver, MESSAGE_RECEIVED)
    receiver.answers = [Reply(200), Reply(500)]
    customer_texts(alpha, "old and delivered")
    customer_texts(alpha, "old and still pending")
    customer_texts(alpha, "recent")
    deliver(alpha)
    with schema_context(alpha.schema_name):
        events = list(Event.objects.order_by("id"))
        Event.objects.filter(pk__in=[e.pk for e in events[:2]]).update(
            created_at=timezone.now() - timedelta(days=31))
    assert delivery_logs_prune() == 1
    with schema_context(alpha.schema_name):
        # The pending one waits for its retry however old; the recent one is kept.
        assert list(Event.objects.order_by("id")) == events[1:]
        assert Delivery.objects.count() == 2
        assert DeliveryAttempt.objects.count() == 2
        assert Message.objects.filter(body="old and delivered").exists()


def test_unsafe_urls_are_refused_when_saved(alpha, api, receiver):
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/"):
        response = api.post("webhooks", {"url": url, "events": [MESSAGE_RECEIVED]})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "unsafe_url"
        assert body["fields"]["url"][0]["code"] == "unsafe_url"
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    response = api.patch(f"webhooks/{subscription.pk}", {"url": "http://10.0.0.1/"})
    assert (response.status_code, response.json()["code"]) == (400, "unsafe_url")
    with schema_context(alpha.schema_name):
        assert WebhookSubscription.objects.get().url == receiver.url


def test_the_secret_is_in_the_create_answer_only(alpha, api, receiver):
    created = api.post("webhooks", {"url": receiver.url, "events": [OPTOUT_CHANGED],
                                    "description": "CRM"})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert (body["events"], body["description"], body["active"]) == (
        [OPTOUT_CHANGED], "CRM", True)
    assert "secret" not in api.get(f"webhooks/{body['id']}").json()
    [listed] = api.get("webhooks").json()["results"]
    assert "secret" not in listed
    receiver.secret = body["secret"]
    assert api.post(f"webhooks/{body['id']}/test", {}).status_code == 202
    deliver(alpha)
    assert receiver.types() == ["webhook.test"]  # signed with that secret


def test_webhook_crud_and_validation(alpha, api, receiver):
    unknown = api.post("webhooks", {"url": receiver.url, "events": ["message.deleted"]})
    assert unknown.status_code == 400
    assert unknown.json()["fields"]["events.0"][0]["code"] == "invalid_choice"
    empty = api.post("webhooks", {"url": receiver.url, "events": []})
    assert (empty.status_code, empty.json()["code"]) == (400, "validation_error")
    not_url = api.post("webhooks", {"url": "not a url", "events": [OPTOUT_CHANGED]})
    assert not_url.json()["fields"]["url"][0]["code"] == "invalid"
    created = api.post("webhooks", {"url": receiver.url, "events": [OPTOUT_CHANGED]}).json()
    path = f"webhooks/{created['id']}"
    replaced = api.put(path, {"url": receiver.url + "/v2",
                              "events": [MESSAGE_RECEIVED, MESSAGE_RECEIVED, OPTOUT_CHANGED],
                              "description": "v2"})
    assert replaced.status_code == 200
    assert (replaced.json()["events"], replaced.json()["description"]) == (
        [MESSAGE_RECEIVED, OPTOUT_CHANGED], "v2")
    assert api.put(path, {"description": "no url"}).status_code == 400
    paused = api.patch(path, {"active": False}).json()
    assert (paused["active"], paused["disabled_at"]) == (False, None)
    test = api.post(f"{path}/test", {})
    assert (test.status_code, test.json()["code"]) == (400, "webhook_inactive")
    with schema_context(alpha.schema_name):  # as if the platform had turned it off
        WebhookSubscription.objects.update(disabled_at=timezone.now(), disabled_reason="x",
                                           consecutive_failures=8)
    resumed = api.patch(path, {"active": True}).json()
    assert (resumed["active"], resumed["disabled_at"], resumed["disabled_reason"]) == (
        True, None, "")
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    with schema_context(alpha.schema_name):
        assert not WebhookSubscription.objects.exists()


def test_webhooks_need_the_settings_scope(alpha, receiver):
    reader = Api(alpha, key_for(alpha, scopes=["messages:read"]))
    response = reader.post("webhooks", {"url": receiver.url, "events": [OPTOUT_CHANGED]})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert reader.get("webhooks").status_code == 403


def test_tenants_see_and_feed_only_their_own_webhooks(alpha, beta, api, sim_sender, receiver):
    subscription = subscribe(alpha, receiver, MESSAGE_RECEIVED)
    beta_api = Api(beta, key_for(beta))
    path = f"webhooks/{subscription.pk}"
    assert beta_api.get("webhooks").json()["results"] == []
    assert beta_api.get(path).status_code == 404
    assert beta_api.patch(path, {"active": False}).status_code == 404
    assert beta_api.get(f"{path}/deliveries").status_code == 404
    assert beta_api.post(f"{path}/test", {}).status_code == 404
    assert beta_api.delete(path).status_code == 404
    approved_sender(beta, SIM_NUMBER_2, "simulator")
    customer_texts(beta, "hello beta", to=SIM_NUMBER_2)
    with schema_context(beta.schema_name):
        assert not Event.objects.exists()
    assert deliver(alpha) == []
    assert api.get(path).json()["active"] is True


# --- Pages ------------------------------------------------------------------------------------

@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_the_pages_show_the_secret_once_and_the_delivery_log_escaped(alpha, owner, receiver):
    assert b"No webhooks yet." in owner.get("/webhooks/").content
    created = owner.post("/webhooks/", {"url": receiver.url, "events": [OPTOUT_CHANGED],
                                        "description": "CRM"})
    assert created.status_code == 200
    with schema_context(alpha.schema_name):
        subscription = WebhookSubscription.objects.get()
    secret = subscription.secret.encode()
    assert secret in created.content
    assert secret not in owner.get("/webhooks/").content
    detail = f"/webhooks/{subscription.pk}/"
    assert secret not in owner.get(detail).content
    receiver.secret = subscription.secret
    receiver.answers = [Reply(500, "<script>alert(1)</script>")]
    sent = owner.post(f"{detail}test/", follow=True)
    assert b"Test event evt_" in sent.content
    deliver(alpha)
    page = owner.get(detail).content
    assert b"webhook.test" in page and b"HTTP 500" in page
    assert b"<script>alert(1)" not in page and b"&lt;script&gt;alert(1)" in page
    refused = owner.post("/webhooks/", {"url": "http://10.0.0.1/", "events": [OPTOUT_CHANGED]})
    assert refused.status_code == 400 and b"not on this machine" in refused.content


def test_owners_turn_webhooks_off_and_on_edit_and_delete_them(alpha, owner, receiver):
    subscription = subscribe(alpha, receiver, OPTOUT_CHANGED)
    detail = f"/webhooks/{subscription.pk}/"
    owner.post(f"{detail}active/")
    with schema_context(alpha.schema_name):
        subscription.refresh_from_db()
    assert not subscription.active
    assert b"Send test event" in owner.get(detail).content
    owner.post(f"{detail}active/", {"active": "on"})
    saved = owner.post(detail, {"url": receiver.url, "events": [OPTOUT_CHANGED,
                                                                 MESSAGE_RECEIVED]},
                       follow=True)
    assert b"Webhook saved." in saved.content
    with schema_context(alpha.schema_name):
        subscription.refresh_from_db()
    assert subscription.active and subscription.events == [OPTOUT_CHANGED, MESSAGE_RECEIVED]
    owner.post(f"{detail}delete/")  # not from the confirmation: nothing goes
    with schema_context(alpha.schema_name):
        assert WebhookSubscription.objects.exists()
    deleted = owner.post(f"{detail}delete/", {"confirm": "yes"}, follow=True)
    assert b"Webhook deleted." in deleted.content
    with schema_context(alpha.schema_name):
        assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("suffix", ["", "{id}/", "{id}/active/", "{id}/test/", "{id}/delete/"])
def test_agents_are_refused_the_webhook_pages(alpha, alpha_client, receiver, suffix):
    subscription = subscribe(alpha, receiver, OPTOUT_CHANGED)
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    path = "/webhooks/" + suffix.format(id=subscription.pk)
    assert alpha_client.get(path).status_code in (403, 405)
    assert alpha_client.post(path, {"confirm": "yes"}).status_code == 403
    assert b"/webhooks/" not in alpha_client.get("/").content  # no nav link either
    with schema_context(alpha.schema_name):
        assert WebhookSubscription.objects.filter(active=True).exists()



# --- A real worker ----------------------------------------------------------------------------

@pytest.fixture
def worker(process_env, tmp_path) -> Iterator[None]:
    with (tmp_path / "worker.log").open("w") as log, celery_worker(process_env, log=log):
        yield


@pytest.mark.slow
def test_a_worker_processes_the_message_and_delivers_its_events(committed_db, receiver,
                                                                 worker):
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    try:
        subscribe(alpha, receiver, MESSAGE_RECEIVED, MESSAGE_STATUS_CHANGED)
        with schema_context(alpha.schema_name):
            # Committed: the processing task reaches the worker, which emits the event and
            # enqueues its delivery on the webhooks queue; then the same for the reply.
            keyword_rule_save(keyword="hours", reply="Open 9 to 5.")
            message_receive_simulated(from_address=CUSTOMER, to=SIM_NUMBER, body="hours")
        deadline = time.monotonic() + 60
        while len(receiver.verified) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.types() == ["message.received", "message.status_changed"]
        assert [p["sequence"] for p in receiver.verified] == [1, 2]
        assert receiver.verified[1]["data"]["message"]["body"] == "Open 9 to 5."
    finally:
        with schema_context(alpha.schema_name):
            WebhookSubscription.objects.all().delete()
            Event.objects.all().delete()
            ConversationSequence.objects.all().delete()
            KeywordRule.objects.all().delete()
            Message.objects.all().delete()
            Conversation.objects.all().delete()
            Contact.objects.all().delete()
            Sender.objects.all().delete()
        SenderRoute.objects.filter(address=SIM_NUMBER).delete()
