"""CAMARA ShortMessageService: short-message over the outbound pipeline, delivery-status and
received-SMS subscriptions notified as CloudEvents to a real listener on 127.0.0.1 (parsed
with the cloudevents package), how subscriptions end, CAMARA's error envelope and codes,
x-correlator, and a real worker answering a customer within the conversation."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from compat.camara.models import (
    DELIVERY_STATUS,
    SMS_RECEIVED,
    SUBSCRIPTION_ENDS,
    Notification,
    NotificationAttempt,
    Subscription,
)
from compat.camara.notifications import (
    camara_sweep,
    notification_attempt,
    sms_received_record,
)
from compat.camara.selectors import subscribed_types_forget
from core import secrets
from cpaas.celery import app as celery_app
from messaging.models import Message, Sender
from messaging.outbound import message_deliver
from tenants.connections import connection_add
from tenants.models import ProviderConnection, Tenant, schema_name_for
from tests.conftest import host_client, login
from tests.support.db import tenant_data_reset
from tests.support.fake_twilio import FakeTwilio
from tests.support.fakes import FakeHTTPServer, Recorded, Reply
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    Api,
    approved_sender,
    customer_texts,
    key_for,
    twilio_inbound,
    twilio_post,
)
from tests.support.workers import celery_worker

OTHER = "+14155550198"
THIRD = "+14155550197"
TOKEN = "c8974e592c2fa383d4a3960714"
SUBSCRIPTIONS = "/sms-delivery-notification-subscriptions/v0alpha1/subscriptions"
SHORT_MESSAGE = "/sms/v0alpha1/short-message"


class Camara:
    """A tenant's CAMARA API, called with one key."""

    def __init__(self, tenant: Tenant, key: str | None) -> None:
        self.client = host_client(f"{tenant.slug}.localhost")
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}

    def post(self, path: str, body, **headers):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(path, data, content_type="application/json",
                                **self.headers, **headers)

    def get(self, path: str, **headers):
        return self.client.get(path, **self.headers, **headers)

    def delete(self, path: str, **headers):
        return self.client.delete(path, **self.headers, **headers)

    def send(self, to: list[str], message: str = "Your table is ready.", sender: str = SIM_NUMBER,
             **extra):
        return self.post(SHORT_MESSAGE, {"to": to, "from": sender, "message": message, **extra})

    def subscribe(self, listener: Listener, type: str = DELIVERY_STATUS,
                  sender: str = SIM_NUMBER, **extra) -> dict:
        response = self.post(SUBSCRIPTIONS, {
            "subscriptionDetail": {"senderId": sender, "type": type},
            "webhook": {"notificationUrl": listener.url, "notificationAuthToken": TOKEN},
            **extra})
        assert response.status_code == 201, response.content
        return response.json()


class Listener:
    """The subscriber's system: takes every notification and answers as scripted, else
    204 as CAMARA's listeners do."""

    def __init__(self) -> None:
        self.answers: list[Reply] = []
        self.server = FakeHTTPServer(self.respond)

    def respond(self, request: Recorded) -> Reply:
        return self.answers.pop(0) if self.answers else Reply(204)

    @property
    def url(self) -> str:
        return self.server.url + "/notifications"

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def events(self) -> list:
        """Every request, parsed as a CloudEvent by the cloudevents package."""
        return [from_http_event(HTTPMessage(headers=request.headers, body=request.body))
                for request in self.requests]


def header(request: Recorded, name: str) -> str | None:
    return {key.lower(): value for key, value in request.headers.items()}.get(name)


@pytest.fixture
def listener() -> Iterator[Listener]:
    system = Listener()
    system.server.start()
    yield system
    system.server.stop()


@pytest.fixture(autouse=True)
def _fresh_subscription_caches() -> Iterator[None]:
    """Each process caches which types a tenant's subscriptions want; rolled-back
    subscriptions of another test must not linger in it."""

    def forget() -> None:
        for slug in ("alpha", "beta"):
            with schema_context(schema_name_for(slug)):
                subscribed_types_forget()

    forget()
    yield
    forget()


@pytest.fixture
def camara(alpha) -> Camara:
    return Camara(alpha, key_for(alpha))


def deliver_messages(tenant: Tenant) -> None:
    """Send every queued message as the send task would (the simulator delivers at once)."""
    with schema_context(tenant.schema_name):
        for message_id in Message.objects.filter(status="queued").order_by("id").values_list(
                "pk", flat=True):
            message_deliver(message_id=message_id)


def notify(tenant: Tenant) -> list[Notification]:
    """Attempt every pending notification once, as their tasks would; return them after."""
    with schema_context(tenant.schema_name):
        ids = list(Notification.objects.filter(status="pending").order_by("id")
                   .values_list("pk", flat=True))
        for notification_id in ids:
            notification_attempt(notification_id=notification_id)
        return list(Notification.objects.filter(pk__in=ids).order_by("id"))


# --- Sending ---------------------------------------------------------------------------------

def test_a_send_to_two_numbers_answers_one_msgid_and_both_delivery_events_arrive(
        alpha, camara, sim_sender, listener):
    subscription = camara.subscribe(listener)
    sent = camara.send([CUSTOMER, OTHER])
    assert sent.status_code == 200, sent.content
    answer = sent.json()
    assert set(answer) == {"msgId", "timestamp"}
    assert str(uuid.UUID(answer["msgId"])) == answer["msgId"]
    assert answer["timestamp"].endswith("Z")
    with schema_context(alpha.schema_name):
        messages = list(Message.objects.filter(direction="outbound").order_by("to_address"))
    assert [(m.to_address, m.body, m.status) for m in messages] == [
        (OTHER, "Your table is ready.", "queued"), (CUSTOMER, "Your table is ready.", "queued")]
    assert notify(alpha) == []  # nothing has an outcome yet
    deliver_messages(alpha)
    assert [n.status for n in notify(alpha)] == ["succeeded", "succeeded"]
    events = listener.events()
    assert [event.get_type() for event in events] == [DELIVERY_STATUS, DELIVERY_STATUS]
    assert [event.get_data() for event in events] == [
        {"msgId": answer["msgId"], "status": "SUCCESS",
         "subscriptionId": subscription["subscriptionId"]}] * 2
    for event, request in zip(events, listener.requests, strict=True):
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "http://alpha.localhost:8000/sms/v0alpha1"
        assert event.get_datacontenttype() == "application/json"
        assert event.get_time() is not None
        assert header(request, "authorization") == f"Bearer {TOKEN}"
        assert header(request, "content-type") == "application/cloudevents+json"
        assert header(request, "x-correlator") == event.get_id()
        assert request.path == "/notifications"
    assert len({event.get_id() for event in events}) == 2


def test_a_recipient_who_opts_out_before_the_send_gets_a_fail_event(
        alpha, camara, sim_sender, listener):
    camara.subscribe(listener)
    msg_id = camara.send([CUSTOMER, OTHER]).json()["msgId"]
    # The customer's STOP commits after the call and before the send task runs.
    customer_texts(alpha, "STOP")
    deliver_messages(alpha)
    notify(alpha)
    outcomes = sorted((event.get_data()["msgId"], event.get_data()["status"])
                      for event in listener.events())
    assert outcomes == [(msg_id, "FAIL"), (msg_id, "SUCCESS")]
    with schema_context(alpha.schema_name):
        failed = Message.objects.get(to_address=CUSTOMER, status="failed")
    assert failed.error_code == "recipient_opted_out"


def test_each_number_is_sent_once_and_messages_elsewhere_are_not_reported(
        alpha, camara, sim_sender, listener):
    camara.subscribe(listener)
    assert camara.send([CUSTOMER, CUSTOMER]).status_code == 200
    Api(alpha, key_for(alpha)).post("messages", {"from": SIM_NUMBER, "to": OTHER,
                                                 "body": "Sent through /api/v1"})
    deliver_messages(alpha)
    notify(alpha)
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(to_address=CUSTOMER).count() == 1
    # Only the short-message call has a msgId to report.
    assert len(listener.events()) == 1


def test_a_refused_recipient_refuses_the_whole_call_and_sends_nothing(
        alpha, camara, sim_sender):
    Api(alpha, key_for(alpha)).post("optouts", {"phone": OTHER})
    response = camara.send([CUSTOMER, OTHER])
    assert response.status_code == 403
    assert response.json() == {
        "status": 403, "code": "PERMISSION_DENIED",
        "detail": f"{OTHER} has opted out of your messages. (recipient_opted_out)"}
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


# --- Bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "detail"), [
    ({"to": ["+14155"], "from": SIM_NUMBER, "message": "Hi"}, "(invalid_phone_number)"),
    ({"to": ["+1 415 555 0199"], "from": SIM_NUMBER, "message": "Hi"}, "to.0: Enter a number"),
    ({"to": [CUSTOMER], "from": SIM_NUMBER, "message": ""}, "(empty_body)"),
    ({"to": [CUSTOMER], "from": SIM_NUMBER, "message": "ж" * 700}, "(body_too_long)"),
    ({"to": [], "from": SIM_NUMBER, "message": "Hi"}, "to: "),
    ({"to": CUSTOMER, "from": SIM_NUMBER, "message": "Hi"}, "to: "),
    ({"to": [CUSTOMER], "from": SIM_NUMBER, "message": 7}, "message: "),
    ({"to": [CUSTOMER], "from": SIM_NUMBER, "message": "Hi", "category": "SPAM"}, "category: "),
    ({"to": [CUSTOMER], "message": "Hi"}, "from: "),
    ([1, 2], ""),
])
def test_bad_input_is_400_invalid_argument(alpha, camara, sim_sender, body, detail):
    response = camara.post(SHORT_MESSAGE, body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert (answer["status"], answer["code"]) == (400, "INVALID_ARGUMENT")
    assert detail in answer["detail"]
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_malformed_json_and_unstorable_text_are_400_too(camara, sim_sender):
    for body in ('{"to": [', '{"to": ["+14155550199"], "from": "x", "message": "a\\u0000b"}'):
        response = camara.post(SHORT_MESSAGE, body)
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_ARGUMENT"


def test_senders_that_are_not_yours_or_not_approved_are_403_and_say_which(
        alpha, beta, camara, sim_sender):
    with schema_context(alpha.schema_name):
        Sender.objects.create(address=OTHER, kind="long_code", connection="simulator")
    approved_sender(beta, "+14155550170", "simulator")
    for sender, code in ((OTHER, "sender_not_approved"), ("+14155550170", "unknown_sender"),
                         ("ACME", "unknown_sender")):
        response = camara.send([CUSTOMER], sender=sender)
        assert response.status_code == 403, sender
        assert response.json()["code"] == "PERMISSION_DENIED"
        assert response.json()["detail"].endswith(f"({code})")


def test_keys_missing_wrong_or_without_the_scope(alpha, beta, sim_sender):
    cases = [(Camara(alpha, None), 401, "UNAUTHENTICATED"),
             (Camara(alpha, "sk_nope_nope"), 401, "UNAUTHENTICATED"),
             (Camara(alpha, key_for(beta)), 401, "UNAUTHENTICATED"),
             (Camara(alpha, key_for(alpha, ["messages:read"])), 403, "PERMISSION_DENIED")]
    for client, status, code in cases:
        response = client.send([CUSTOMER])
        assert response.status_code == status
        assert response.json() == {"status": status, "code": code,
                                   "detail": response.json()["detail"]}
    reader = Camara(alpha, key_for(alpha, ["messages:send"]))
    assert reader.get(SUBSCRIPTIONS).status_code == 403


def test_a_session_is_not_a_key(alpha, camara, sim_sender):
    client = host_client("alpha.localhost")
    assert login(client, "owner@alpha.example").status_code == 302
    response = client.post(SHORT_MESSAGE, json.dumps({"to": [CUSTOMER], "from": SIM_NUMBER,
                                                      "message": "Hi"}),
                           content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_the_x_correlator_is_echoed_when_well_formed_and_refused_when_not(
        alpha, camara, sim_sender):
    body = {"to": [CUSTOMER], "from": SIM_NUMBER, "message": "Hi"}
    sent = camara.post(SHORT_MESSAGE, body, HTTP_X_CORRELATOR="b4333c46-49c0:4f62;{x}")
    assert sent.status_code == 200
    assert sent["x-correlator"] == "b4333c46-49c0:4f62;{x}"
    refused = camara.post(SHORT_MESSAGE, {**body, "to": []}, HTTP_X_CORRELATOR="abc")
    assert refused.status_code == 400 and refused["x-correlator"] == "abc"
    unauthenticated = Camara(alpha, None).post(
        SHORT_MESSAGE, body, HTTP_X_CORRELATOR="abc")
    assert unauthenticated.status_code == 401 and unauthenticated["x-correlator"] == "abc"
    for bad in ("has space", "a" * 257, "quote\"", "per%cent"):
        response = camara.post(SHORT_MESSAGE, body, HTTP_X_CORRELATOR=bad)
        assert response.status_code == 400
        assert response.json()["detail"].startswith("x-correlator must be")
        assert "x-correlator" not in response
    assert "x-correlator" not in camara.post(SHORT_MESSAGE, body)


def test_unknown_paths_and_methods_answer_in_the_envelope(camara):
    missing = camara.get("/sms/v0alpha1/nothing-here", HTTP_X_CORRELATOR="lost-1")
    assert missing.status_code == 404 and missing["x-correlator"] == "lost-1"
    assert missing.json() == {"status": 404, "code": "NOT_FOUND",
                              "detail": "No such path in this API."}
    wrong = camara.get(SHORT_MESSAGE)
    assert wrong.status_code == 405 and wrong.json()["code"] == "METHOD_NOT_ALLOWED"
    text = camara.client.post(SHORT_MESSAGE, "to=x", content_type="text/plain",
                              **camara.headers)
    assert text.status_code == 415 and text.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    xml = camara.get(SUBSCRIPTIONS, HTTP_ACCEPT="application/xml")
    assert xml.status_code == 406 and xml.json()["code"] == "NOT_ACCEPTABLE"


def test_an_unexpected_failure_is_500_internal_in_the_envelope(camara, sim_sender, monkeypatch):
    from compat.camara import views

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "short_message_send", broken)
    response = camara.send([CUSTOMER])
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL"
    assert "a bug" not in response.json()["detail"]


# --- Subscriptions ---------------------------------------------------------------------------

def test_subscriptions_are_created_listed_read_and_deleted(alpha, camara, sim_sender, listener):
    expire = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    created = camara.post(SUBSCRIPTIONS, {
        "subscriptionDetail": {"senderId": "+1 415 555 0123", "type": SMS_RECEIVED},
        "subscriptionExpireTime": expire.isoformat().replace("+00:00", "+00:00"),
        "subscriptionMaxEvents": 5,
        "webhook": {"notificationUrl": listener.url, "notificationAuthToken": TOKEN},
    }, HTTP_X_CORRELATOR="create-1")
    assert created.status_code == 201, created.content
    assert created["x-correlator"] == "create-1"
    info = created.json()
    assert info == {
        "subscriptionId": info["subscriptionId"],
        "subscriptionDetail": {"senderId": SIM_NUMBER, "type": SMS_RECEIVED},
        "webhook": {"notificationUrl": listener.url},  # the token is never shown back
        "startsAt": info["startsAt"], "status": "ACTIVE",
        "subscriptionExpireTime": expire.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "subscriptionMaxEvents": 5,
        "expiresAt": expire.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    unlimited = camara.subscribe(listener, subscriptionMaxEvents=-1)
    assert "subscriptionMaxEvents" not in unlimited and "expiresAt" not in unlimited
    path = f"{SUBSCRIPTIONS}/{info['subscriptionId']}"
    assert camara.get(path).json() == info
    assert [item["subscriptionId"] for item in camara.get(SUBSCRIPTIONS).json()] == [
        unlimited["subscriptionId"], info["subscriptionId"]]
    deleted = camara.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    assert camara.get(path).status_code == 404
    assert camara.delete(path).json()["code"] == "NOT_FOUND"
    with schema_context(alpha.schema_name):
        assert Subscription.objects.get().notification_auth_token == TOKEN


def test_the_token_is_stored_encrypted_and_rotates_with_the_other_secrets(
        alpha, camara, sim_sender, listener, settings):
    subscription = camara.subscribe(listener)
    table = f'"{alpha.schema_name}"."camara_subscription"'

    def stored() -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT notification_auth_token FROM {table}")
            return cursor.fetchone()[0]

    before = stored()
    assert before.startswith("enc:") and TOKEN not in before
    settings.FIELD_ENCRYPTION_KEYS = ["a-new-key", *settings.FIELD_ENCRYPTION_KEYS]
    secrets._fernet.cache_clear()
    try:
        call_command("secrets_reencrypt", stdout=io.StringIO())
        assert stored() != before
        settings.FIELD_ENCRYPTION_KEYS = ["a-new-key"]
        secrets._fernet.cache_clear()
        with schema_context(alpha.schema_name):
            assert Subscription.objects.get(
                uid=subscription["subscriptionId"]).notification_auth_token == TOKEN
    finally:
        secrets._fernet.cache_clear()


@pytest.mark.parametrize(("change", "status", "detail"), [
    ({"subscriptionDetail": {"senderId": SIM_NUMBER, "type": "org.camaraproject.sms.v0.x"}},
     400, "subscriptionDetail.type: "),
    ({"subscriptionDetail": {"senderId": "+14155550111", "type": DELIVERY_STATUS}},
     403, "(unknown_sender)"),
    ({"webhook": {"notificationUrl": "http://10.0.0.1/hook"}}, 400, "(unsafe_url)"),
    ({"webhook": {"notificationUrl": "ftp://127.0.0.1/hook"}}, 400, "(unsafe_url)"),
    ({"webhook": {"notificationUrl": "http://127.0.0.1:9/", "notificationAuthToken": "a b"}},
     400, "webhook.notificationAuthToken: "),
    ({"subscriptionMaxEvents": 0}, 400, "subscriptionMaxEvents: "),
    ({"subscriptionMaxEvents": -2}, 400, "subscriptionMaxEvents: "),
    ({"subscriptionMaxEvents": "2"}, 400, "subscriptionMaxEvents: "),
    ({"subscriptionExpireTime": "2030-01-01T00:00:00"}, 400, "subscriptionExpireTime: "),
    ({"subscriptionExpireTime": "2001-01-01T00:00:00Z"}, 400, "(invalid_expire_time)"),
    ({"webhook": None}, 400, "webhook: "),
])
def test_bad_subscriptions_are_refused_and_nothing_is_kept(alpha, camara, sim_sender, change,
                                                           status, detail):
    body = {"subscriptionDetail": {"senderId": SIM_NUMBER, "type": DELIVERY_STATUS},
            "webhook": {"notificationUrl": "http://127.0.0.1:9/hook"}, **change}
    response = camara.post(SUBSCRIPTIONS, body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED"}[status]
    assert detail in response.json()["detail"]
    with schema_context(alpha.schema_name):
        assert not Subscription.objects.exists()


def test_another_tenants_subscription_is_not_found(alpha, beta, camara, sim_sender, listener):
    subscription = camara.subscribe(listener)
    other = Camara(beta, key_for(beta))
    path = f"{SUBSCRIPTIONS}/{subscription['subscriptionId']}"
    never = f"{SUBSCRIPTIONS}/{uuid.uuid4()}"
    for response in (other.get(path), other.delete(path), other.get(never),
                     other.get(f"{SUBSCRIPTIONS}/not-an-id")):
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    assert other.get(SUBSCRIPTIONS).json() == []
    assert camara.get(path).status_code == 200


def test_max_events_end_the_subscription_with_subscription_ends(
        alpha, camara, sim_sender, listener):
    subscription = camara.subscribe(listener, subscriptionMaxEvents=2)
    camara.send([CUSTOMER, OTHER, THIRD])
    deliver_messages(alpha)
    notify(alpha)
    events = listener.events()
    assert [event.get_type() for event in events] == [
        DELIVERY_STATUS, DELIVERY_STATUS, SUBSCRIPTION_ENDS]
    assert events[2].get_data() == {"subscriptionId": subscription["subscriptionId"],
                                    "terminationReason": "MAX_EVENTS_REACHED"}
    ended = camara.get(f"{SUBSCRIPTIONS}/{subscription['subscriptionId']}").json()
    assert (ended["status"], ended["terminationReason"]) == ("EXPIRED", "MAX_EVENTS_REACHED")
    assert "expiresAt" in ended
    # Nothing after the end.
    camara.send([CUSTOMER])
    deliver_messages(alpha)
    notify(alpha)
    assert len(listener.requests) == 3


def test_concurrent_events_never_exceed_the_maximum(committed_db, listener):
    """Two messages processed at once for a subscription with room for one event: the
    second waits for the first's commit, then finds the subscription ended."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    try:
        Camara(alpha, key_for(alpha)).subscribe(listener, SMS_RECEIVED, subscriptionMaxEvents=1)
        first_recorded = threading.Event()

        def process(message_id: int, *, hold: bool) -> None:
            with schema_context(alpha.schema_name), transaction.atomic():
                sms_received_record(message={
                    "id": message_id, "from": CUSTOMER, "to": SIM_NUMBER, "body": "Hi",
                    "created_at": "2026-11-23T14:00:00Z"})
                if hold:
                    first_recorded.set()
                    time.sleep(0.5)  # the second one runs meanwhile
            connection.close()

        first = threading.Thread(target=process, args=(1,), kwargs={"hold": True})
        first.start()
        assert first_recorded.wait(10)
        second = threading.Thread(target=process, args=(2,), kwargs={"hold": False})
        second.start()
        first.join(10)
        second.join(10)
        with schema_context(alpha.schema_name):
            recorded = [(n.type, json.loads(n.payload)["data"].get("msgId"))
                        for n in Notification.objects.order_by("id")]
        assert recorded == [(SMS_RECEIVED, "1"), (SUBSCRIPTION_ENDS, None)]
    finally:
        tenant_data_reset(alpha)


def test_the_expiry_time_ends_the_subscription_from_the_sweep_or_the_next_event(
        alpha, camara, sim_sender, listener):
    swept = camara.subscribe(listener, subscriptionExpireTime="2099-01-01T00:00:00Z")
    with schema_context(alpha.schema_name):
        Subscription.objects.update(expire_time=timezone.now() - timedelta(seconds=1))
        assert camara_sweep(schema=alpha.schema_name, now=timezone.now(),
                            stale_before=timezone.now() - timedelta(minutes=1)) == 1
    notify(alpha)
    [ends] = listener.events()
    assert ends.get_type() == SUBSCRIPTION_ENDS
    assert ends.get_data() == {"subscriptionId": swept["subscriptionId"],
                               "terminationReason": "SUBSCRIPTION_EXPIRED"}
    # An event coming before the sweep ends it instead of being sent.
    second = camara.subscribe(listener, SMS_RECEIVED,
                              subscriptionExpireTime="2099-01-01T00:00:00Z")
    with schema_context(alpha.schema_name):
        Subscription.objects.filter(uid=second["subscriptionId"]).update(
            expire_time=timezone.now() - timedelta(seconds=1))
    customer_texts(alpha, "Hello?")
    notify(alpha)
    assert [(e.get_type(), e.get_data()["terminationReason"])
            for e in listener.events()[1:]] == [(SUBSCRIPTION_ENDS, "SUBSCRIPTION_EXPIRED")]


def test_failures_are_retried_on_the_event_webhooks_schedule_and_logged(
        alpha, camara, sim_sender, listener, settings):
    settings.EVENT_WEBHOOK_RETRY_DELAYS = [5, 300]
    camara.subscribe(listener)
    listener.answers = [Reply(500, "down"), Reply(302, headers={"Location": "/elsewhere"})]
    camara.send([CUSTOMER])
    deliver_messages(alpha)
    [first] = notify(alpha)
    assert (first.status, first.attempts) == ("pending", 1)
    with schema_context(alpha.schema_name):
        [attempt] = NotificationAttempt.objects.all()
        assert (attempt.response_status, attempt.error) == (500, "HTTP 500.")
        assert first.next_attempt_at == attempt.started_at + timedelta(seconds=5)
        Notification.objects.update(next_attempt_at=timezone.now())
    [second] = notify(alpha)
    assert (second.status, second.attempts) == ("pending", 2)
    with schema_context(alpha.schema_name):
        Notification.objects.update(next_attempt_at=timezone.now())
    [third] = notify(alpha)
    assert (third.status, third.attempts) == ("succeeded", 3)
    assert [request.path for request in listener.requests] == ["/notifications"] * 3
    assert len({request.body for request in listener.requests}) == 1  # the same event


def test_a_listener_away_for_the_whole_schedule_ends_the_subscription(
        alpha, camara, sim_sender, listener, settings):
    settings.EVENT_WEBHOOK_RETRY_DELAYS = [0]
    subscription = camara.subscribe(listener)
    listener.answers = [Reply(503)] * 2
    camara.send([CUSTOMER])
    deliver_messages(alpha)
    notify(alpha)
    [gave_up] = notify(alpha)
    assert gave_up.status == "failed"
    ended = camara.get(f"{SUBSCRIPTIONS}/{subscription['subscriptionId']}").json()
    assert ended["terminationReason"] == "NETWORK_TERMINATED"
    notify(alpha)
    assert listener.events()[-1].get_data()["terminationReason"] == "NETWORK_TERMINATED"


def test_the_url_is_checked_again_before_each_notification(
        alpha, camara, sim_sender, listener, settings):
    camara.subscribe(listener)
    camara.send([CUSTOMER])
    deliver_messages(alpha)
    settings.OUTBOUND_HTTP_PUBLIC_ONLY = True  # as in production: loopback is refused
    notify(alpha)
    assert listener.requests == []
    with schema_context(alpha.schema_name):
        [attempt] = NotificationAttempt.objects.all()
    assert attempt.response_status is None and attempt.error.startswith("Not sent:")


def test_deleting_a_subscription_drops_what_it_had_pending(alpha, camara, sim_sender, listener):
    subscription = camara.subscribe(listener)
    camara.send([CUSTOMER])
    deliver_messages(alpha)
    camara.delete(f"{SUBSCRIPTIONS}/{subscription['subscriptionId']}")
    assert notify(alpha) == []
    assert listener.requests == []


# --- Received SMS ----------------------------------------------------------------------------

def test_a_received_sms_subscription_gets_the_text_and_the_answer_joins_the_conversation(
        alpha, camara, sim_sender, listener):
    subscription = camara.subscribe(listener, SMS_RECEIVED)
    camara.subscribe(listener, SMS_RECEIVED, sender=sim_sender.address,
                     subscriptionMaxEvents=-1)
    customer_texts(alpha, "Is my table ready?")
    notify(alpha)
    with schema_context(alpha.schema_name):
        inbound = Message.objects.get(direction="inbound")
    events = listener.events()
    assert len(events) == 2
    data = next(e.get_data() for e in events
                if e.get_data()["subscriptionId"] == subscription["subscriptionId"])
    assert events[0].get_type() == SMS_RECEIVED
    assert data == {"msgId": str(inbound.pk), "from": CUSTOMER, "to": SIM_NUMBER,
                    "message": "Is my table ready?",
                    "receivedAt": data["receivedAt"],
                    "subscriptionId": subscription["subscriptionId"]}
    assert data["receivedAt"].startswith(inbound.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    answer = camara.send([data["from"]], "Yes, come in!", sender=data["to"])
    assert answer.status_code == 200
    with schema_context(alpha.schema_name):
        reply = Message.objects.get(direction="outbound")
    assert (reply.conversation_id, reply.body) == (inbound.conversation_id, "Yes, come in!")


def test_stop_and_help_reach_the_subscriber_and_are_handled_as_always(
        alpha, camara, sim_sender, listener):
    camara.subscribe(listener, SMS_RECEIVED)
    help_replies = customer_texts(alpha, "HELP")
    assert len(help_replies) == 1  # the help text, as without a subscription
    stop_replies = customer_texts(alpha, "STOP")
    assert len(stop_replies) == 1 and stop_replies[0].origin_ref == "optout_confirmation"
    notify(alpha)
    assert [event.get_data()["message"] for event in listener.events()] == ["HELP", "STOP"]
    refused = camara.send([CUSTOMER], "Sorry to see you go", sender=SIM_NUMBER)
    assert refused.status_code == 403
    assert refused.json()["detail"].endswith("(recipient_opted_out)")


def test_messages_to_another_sender_or_of_another_tenant_are_not_notified(
        alpha, beta, camara, sim_sender, listener):
    camara.subscribe(listener, SMS_RECEIVED)
    approved_sender(alpha, OTHER, "simulator")
    customer_texts(alpha, "to the other number", to=OTHER)
    approved_sender(beta, "+14155550170", "simulator")
    customer_texts(beta, "to beta", to="+14155550170")
    assert notify(alpha) == [] and notify(beta) == []
    assert listener.requests == []


def test_without_a_subscription_messaging_pays_no_query(alpha, sim_sender,
                                                         django_assert_num_queries):
    from compat.camara.notifications import CamaraEventSink

    sink = CamaraEventSink()
    with schema_context(alpha.schema_name):
        assert sink.wanted("message.received") is False  # loads the per-process copy
        with django_assert_num_queries(0):
            assert sink.wanted("message.received") is False
            assert sink.wanted("message.status_changed") is False
            assert sink.wanted("optout.changed") is False


# --- The OpenAPI document --------------------------------------------------------------------

def test_the_openapi_document_names_exactly_the_operations_served(alpha, camara):
    response = host_client("alpha.localhost").get("/sms/v0alpha1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.0.3"
    assert (document["servers"][0]["variables"]["apiRoot"]["default"]
            == "http://alpha.localhost")
    operations = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    assert operations == {("POST", SHORT_MESSAGE), ("POST", SUBSCRIPTIONS),
                          ("GET", SUBSCRIPTIONS), ("GET", f"{SUBSCRIPTIONS}/{{subscriptionId}}"),
                          ("DELETE", f"{SUBSCRIPTIONS}/{{subscriptionId}}")}
    for method, path in operations:
        served = camara.client.generic(method, path.replace("{subscriptionId}", "x"), "{}",
                                       "application/json", **camara.headers)
        assert served.status_code != 405, (method, path)
        assert b"No such path" not in served.content, (method, path)


# --- A real worker ---------------------------------------------------------------------------

@pytest.fixture
def worker(process_env, tmp_path) -> Iterator[None]:
    with (tmp_path / "worker.log").open("w") as log, celery_worker(process_env, log=log):
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=0.5) and time.monotonic() < deadline:
            pass
        yield


@pytest.mark.slow
def test_a_worker_notifies_the_customers_text_within_2_s_and_the_answer_joins_the_thread(
        committed_db, listener, worker):
    alpha = Tenant.objects.get(slug="alpha")
    twilio = FakeTwilio().start()
    connection_add(name="twilio-camara", kind="twilio", settings={
        "account_sid": twilio.sid, "auth_token": twilio.token, "api_base_url": twilio.base_url})
    try:
        approved_sender(alpha, ALPHA_NUMBER, "twilio-camara")
        camara = Camara(alpha, key_for(alpha))
        camara.subscribe(listener, SMS_RECEIVED, sender=ALPHA_NUMBER)
        public = host_client("localhost")
        inbound = "/webhooks/twilio-camara/inbound"

        def text(sid: str, body: str) -> float:
            """The customer's text through the provider's webhook; seconds until the
            listener has it."""
            count = len(listener.requests)
            started = time.monotonic()
            assert twilio_post(public, inbound, twilio_inbound(sid, body), twilio.token
                               ).status_code == 200
            while len(listener.requests) == count and time.monotonic() - started < 30:
                time.sleep(0.01)
            return time.monotonic() - started

        text("SM" + "1" * 32, "Hi")  # the worker's first task warms it up
        assert text("SM" + "2" * 32, "Is my table ready?") < 2.0
        data = listener.events()[-1].get_data()
        assert (data["message"], data["from"], data["to"]) == (
            "Is my table ready?", CUSTOMER, ALPHA_NUMBER)
        assert camara.send([data["from"]], "Yes, come in!", sender=data["to"]
                           ).status_code == 200
        deadline = time.monotonic() + 30
        while not twilio.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(r.form["To"], r.form["Body"]) for r in twilio.requests] == [
            (CUSTOMER, "Yes, come in!")]
        with schema_context(alpha.schema_name):
            asked = Message.objects.get(body="Is my table ready?")
            answered = Message.objects.get(body="Yes, come in!")
        assert answered.conversation_id == asked.conversation_id
    finally:
        tenant_data_reset(alpha)
        ProviderConnection.objects.filter(name="twilio-camara").delete()
        twilio.stop()
