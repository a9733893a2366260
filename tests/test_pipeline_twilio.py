"""The two pipelines through the Twilio backend: signed webhooks in, REST sends out to a
fake Twilio on 127.0.0.1, status callbacks that never move a message backwards."""

from __future__ import annotations

from django.conf import settings
from django_tenants.utils import schema_context
from twilio.request_validator import RequestValidator

from messaging.inbound import message_process
from messaging.models import Contact, Conversation, Message
from messaging.outbound import message_deliver, message_send
from tests.conftest import host_client
from tests.support.messaging import ALPHA_NUMBER, CUSTOMER, twilio_inbound, twilio_post

INBOUND = "/webhooks/twilio-test/inbound"
STATUS = "/webhooks/twilio-test/status"


def alpha_messages(alpha, **filters):
    with schema_context(alpha.schema_name):
        return list(Message.objects.filter(**filters))


def test_a_signed_inbound_sent_three_times_makes_exactly_one_message(
        alpha, alpha_twilio_sender, fake_twilio):
    client = host_client(settings.BASE_DOMAIN)
    params = twilio_inbound("SM" + "1" * 32, body="Is my order ready?")
    for _ in range(3):
        response = twilio_post(client, INBOUND, params, fake_twilio.token)
        assert response.status_code == 200
        assert b"<Response></Response>" in response.content
    [message] = alpha_messages(alpha, direction="inbound")
    assert (message.from_address, message.to_address, message.body, message.status) == (
        CUSTOMER, ALPHA_NUMBER, "Is my order ready?", "received")


def test_a_forged_signature_is_refused_and_stores_nothing(alpha, alpha_twilio_sender,
                                                          fake_twilio):
    client = host_client(settings.BASE_DOMAIN)
    params = twilio_inbound("SM" + "2" * 32)
    forged = twilio_post(client, INBOUND, params, "not-the-auth-token")
    assert forged.status_code == 403
    assert forged.json()["code"] == "invalid_signature"
    # A genuine signature, replayed over other parameters (a tampered body).
    genuine = RequestValidator(fake_twilio.token).compute_signature(
        settings.PUBLIC_BASE_URL + INBOUND, params)
    tampered = twilio_post(client, INBOUND, {**params, "Body": "evil"}, fake_twilio.token,
                           signature=genuine)
    assert tampered.status_code == 403
    unsigned = client.post(INBOUND, params)
    assert unsigned.status_code == 403
    assert alpha_messages(alpha) == []


def test_an_unrouted_recipient_gets_404_and_a_malformed_payload_400(alpha, alpha_twilio_sender,
                                                                    fake_twilio):
    client = host_client(settings.BASE_DOMAIN)
    unrouted = twilio_post(client, INBOUND, twilio_inbound("SM" + "4" * 32, to="+14155550111"),
                           fake_twilio.token)
    assert unrouted.status_code == 404
    assert unrouted.json()["code"] == "unrouted_recipient"
    params = twilio_inbound("SM" + "5" * 32)
    del params["MessageSid"]
    malformed = twilio_post(client, INBOUND, params, fake_twilio.token)
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_payload"
    assert alpha_messages(alpha) == []


def test_processing_attaches_contact_and_conversation_once_and_reopens(
        alpha, alpha_twilio_sender, fake_twilio):
    client = host_client(settings.BASE_DOMAIN)
    twilio_post(client, INBOUND, twilio_inbound("SM" + "6" * 32), fake_twilio.token)
    [message] = alpha_messages(alpha)
    with schema_context(alpha.schema_name):
        message_process(message_id=message.pk)
        message_process(message_id=message.pk)  # a redelivered task changes nothing
        conversation = Conversation.objects.get()
        assert conversation.contact.phone == CUSTOMER
        assert conversation.unread_count == 1
        Conversation.objects.update(status="resolved")
    twilio_post(client, INBOUND, twilio_inbound("SM" + "7" * 32, body="again"),
                fake_twilio.token)
    with schema_context(alpha.schema_name):
        second = Message.objects.get(body="again")
        message_process(message_id=second.pk)
        conversation.refresh_from_db()
        assert (conversation.status, conversation.unread_count) == ("open", 2)
        assert Contact.objects.count() == 1
        assert second.conversation_id is None  # the instance read before processing
        assert Message.objects.get(pk=second.pk).status == "processed"


def send(alpha, body="Your order is ready"):
    with schema_context(alpha.schema_name):
        message = message_send(from_address=ALPHA_NUMBER, to=CUSTOMER, body=body,
                               origin="api")
        return message, message_deliver(message_id=message.pk)


def test_outbound_reaches_twilio_with_basic_auth_and_the_status_callback(
        alpha, alpha_twilio_sender, fake_twilio):
    message, retry = send(alpha)
    assert retry is None
    [request] = fake_twilio.requests
    assert request.auth == (fake_twilio.sid, fake_twilio.token)
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.sid}/Messages.json"
    assert request.form == {
        "To": CUSTOMER, "From": ALPHA_NUMBER, "Body": "Your order is ready",
        "StatusCallback": f"{settings.PUBLIC_BASE_URL}/webhooks/twilio-test/status",
    }
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert stored.status == "sent" and stored.provider_message_id.startswith("SM")
    with schema_context(alpha.schema_name):
        message_deliver(message_id=message.pk)  # a redelivered task
    assert len(fake_twilio.requests) == 1  # the message left once


def test_a_429_is_retried_until_sent(alpha, alpha_twilio_sender, fake_twilio):
    fake_twilio.answers = [(429, {"code": 20429, "message": "Too Many Requests"})] * 2
    message, retry = send(alpha)
    assert retry is not None and retry > 0
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.error_code) == ("queued", "20429")
    with schema_context(alpha.schema_name):
        assert message_deliver(message_id=message.pk) is not None
        assert message_deliver(message_id=message.pk) is None
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.attempts, stored.error_code) == ("sent", 3, "")
    assert len(fake_twilio.requests) == 3


def test_a_400_with_code_21211_fails_with_that_code(alpha, alpha_twilio_sender, fake_twilio):
    fake_twilio.answers = [(400, {"code": 21211, "message": "The 'To' number is not valid.",
                                  "more_info": "https://www.twilio.com/docs/errors/21211"})]
    message, retry = send(alpha)
    assert retry is None
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert (stored.status, stored.error_code) == ("failed", "21211")
    assert "not valid" in stored.error_message
    with schema_context(alpha.schema_name):
        assert message_deliver(message_id=message.pk) is None  # failed is final
    assert len(fake_twilio.requests) == 1


def test_delivered_then_a_late_sent_callback_leaves_delivered(alpha, alpha_twilio_sender,
                                                              fake_twilio):
    message, _ = send(alpha)
    [stored] = alpha_messages(alpha, pk=message.pk)
    client = host_client(settings.BASE_DOMAIN)

    def callback(status: str, **extra):
        params = {"MessageSid": stored.provider_message_id, "MessageStatus": status,
                  "AccountSid": fake_twilio.sid, "To": CUSTOMER, "From": ALPHA_NUMBER, **extra}
        return twilio_post(client, STATUS, params, fake_twilio.token)

    assert callback("delivered").status_code == 200
    assert callback("sent").status_code == 200
    assert callback("undelivered", ErrorCode="30003").status_code == 200
    [stored] = alpha_messages(alpha, pk=message.pk)
    assert stored.status == "delivered" and stored.delivered_at is not None
    assert stored.error_code == ""
    unknown = twilio_post(client, STATUS, {"MessageSid": "SM" + "9" * 32,
                                           "MessageStatus": "delivered"}, fake_twilio.token)
    assert unknown.status_code == 404
