"""The Twilio dialect, driven by Twilio's own Python client against the portal served over
HTTP: what code written for Twilio does works here by changing the base URL. The worker's
part (sending, processing, calling apps, posting callbacks) runs in the test thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.management import call_command
from django_tenants.utils import schema_context
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from compat.twilio.models import SmsWebhook
from messaging.inbound import message_receive_simulated
from messaging.models import Message
from messaging.outbound import messages_send_bulk
from messaging.selectors import conversation_thread
from messaging.senders import sender_register
from tenants.connections import connection_add
from tenants.models import ProviderConnection, SenderRoute, Tenant
from tests.conftest import host_client
from tests.support.db import tenant_data_reset
from tests.support.fake_twilio import FakeTwilio
from tests.support.fakes import FakeHTTPServer, Recorded, Reply
from tests.support.live import portal_server
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    approved_sender,
    twilio_inbound,
    twilio_post,
)
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


def customer_texts(tenant: Tenant, body: str, *, to: str = SIM_NUMBER) -> None:
    with schema_context(tenant.schema_name):
        message_receive_simulated(from_address=CUSTOMER, to=to, body=body)
    work_off(tenant)


def error_of(call) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value


# --- Messages ------------------------------------------------------------------------------


def test_a_message_created_with_a_status_callback_reports_its_status_signed(live, receiver):
    callback_url = receiver.url + "/status?tag=1"
    message = live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="Hello there",
                                          status_callback=callback_url)
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.num_segments, message.num_media, message.direction) == (
        "queued", "1", "0", "outbound-api")
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.date_updated is not None and message.date_sent is None
    assert (message.account_sid, message.error_code, message.price_unit) == (
        live.sid, None, "USD")
    assert message.uri == f"/2010-04-01/Accounts/{live.sid}/Messages/{message.sid}.json"
    work_off(live.tenant)
    [request] = receiver.requests
    form = request.form()
    assert (form["MessageSid"], form["MessageStatus"], form["To"], form["From"],
            form["AccountSid"], form["ApiVersion"]) == (
        message.sid, "delivered", CUSTOMER, SIM_NUMBER, live.sid, "2010-04-01")
    assert RequestValidator(live.token).validate(
        callback_url, form, request.headers["X-Twilio-Signature"])
    fetched = live.client.messages(message.sid).fetch()
    assert (fetched.status, fetched.body) == ("delivered", "Hello there")
    assert fetched.date_sent is not None


def test_a_status_callback_that_fails_is_tried_again_then_given_up(live, receiver):
    from compat.twilio.callbacks import MAX_ATTEMPTS, do_status_callback
    from compat.twilio.models import StatusCallback

    receiver.responder = lambda request: Reply(500)
    live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="Hi",
                                status_callback=receiver.url + "/status")
    work_off(live.tenant)
    with schema_context(live.tenant.schema_name):
        callback = StatusCallback.objects.get()
        delays = [do_status_callback(callback_id=callback.pk) for _ in range(MAX_ATTEMPTS)]
        callback.refresh_from_db()
    assert delays[:MAX_ATTEMPTS - 2] == [60.0, 360.0][:MAX_ATTEMPTS - 2]
    assert delays[-1] is None
    assert (callback.status, callback.attempts, callback.response_status) == (
        "failed", MAX_ATTEMPTS, 500)
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_list_and_stream_walk_every_page_with_twilios_envelope(live):
    with schema_context(live.tenant.schema_name):
        results = messages_send_bulk(items=[
            {"from": SIM_NUMBER, "to": f"+1415555{1000 + n}", "body": f"n{n}"}
            for n in range(130)], origin="api")
    assert all(isinstance(result, Message) for result in results)
    listed = live.client.messages.list(limit=120, page_size=50)
    assert [m.body for m in listed] == [f"n{n}" for n in range(129, 9, -1)]
    streamed = list(live.client.messages.stream(page_size=50))
    assert [m.body for m in streamed] == [f"n{n}" for n in range(129, -1, -1)]
    assert len({m.sid for m in streamed}) == 130
    page = live.client.messages.page(page_size=50)
    assert set(page._payload) == {"messages", "end", "first_page_uri", "next_page_uri", "page",
                                  "page_size", "previous_page_uri", "start", "uri"}
    assert page._payload["next_page_uri"].startswith(f"/2010-04-01/Accounts/{live.sid}/")
    assert "PageSize=50" in page._payload["next_page_uri"]
    last = page.next_page().next_page()
    assert (last._payload["page"], last._payload["start"], last._payload["end"]) == (2, 100, 129)
    assert last._payload["next_page_uri"] is None
    assert len(list(last)) == 30
    # A filter is kept by the next page's link.
    to_one = live.client.messages.list(to="+14155551007", page_size=1)
    assert [m.body for m in to_one] == ["n7"]
    two_pages = live.client.messages.page(from_=SIM_NUMBER, page_size=2)
    assert "From=%2B14155550123" in two_pages._payload["next_page_uri"]
    assert len(list(two_pages.next_page())) == 2


def test_list_filters_by_date_sent(live):
    live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="today")
    work_off(live.tenant)
    with schema_context(live.tenant.schema_name):
        sent_on = Message.objects.get().sent_at.date()
    from datetime import timedelta

    assert [m.body for m in live.client.messages.list(date_sent=sent_on)] == ["today"]
    assert live.client.messages.list(date_sent_before=sent_on - timedelta(days=1)) == []
    assert [m.body for m in live.client.messages.list(date_sent_after=sent_on)] == ["today"]


def test_fetch_redact_and_delete(live):
    message = live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="secret code")
    in_flight = error_of(lambda: live.client.messages(message.sid).update(body=""))
    assert (in_flight.status, in_flight.code) == (409, 20009)
    work_off(live.tenant)
    assert live.client.messages(message.sid).fetch().body == "secret code"
    redacted = live.client.messages(message.sid).update(body="")
    assert (redacted.sid, redacted.body, redacted.status) == (message.sid, "", "delivered")
    assert live.client.messages(message.sid).fetch().body == ""
    assert live.client.messages(message.sid).delete() is True
    gone = error_of(lambda: live.client.messages(message.sid).fetch())
    assert (gone.status, gone.code) == (404, 20404)
    with schema_context(live.tenant.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_sends_twilio_refuses_are_refused_with_twilios_codes(live):
    create = live.client.messages.create
    codes = {
        "bad To": error_of(lambda: create(to="not a number", from_=SIM_NUMBER, body="x")),
        "bad From": error_of(lambda: create(to=CUSTOMER, from_="!!", body="x")),
        "other's From": error_of(lambda: create(to=CUSTOMER, from_="+14155550555", body="x")),
        "no body": error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="")),
        "too long": error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="x" * 1600)),
        "media": error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="x",
                                         media_url=["https://example.com/a.png"])),
        "bad callback": error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="x",
                                                status_callback="http://10.0.0.1/cb")),
    }
    assert {name: (exc.status, exc.code) for name, exc in codes.items()} == {
        "bad To": (400, 21211), "bad From": (400, 21212), "other's From": (400, 21606),
        "no body": (400, 21602), "too long": (400, 21617), "media": (400, 21620),
        "bad callback": (400, 21609)}
    with schema_context(live.tenant.schema_name):
        sender_register(address=SIM_NUMBER_2, kind="long_code", connection="simulator")
    pending = error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER_2, body="x"))
    assert (pending.status, pending.code) == (400, 21606)
    customer_texts(live.tenant, "STOP")
    opted_out = error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="x"))
    assert (opted_out.status, opted_out.code) == (400, 21610)
    assert "unsubscribed" in opted_out.msg
    with schema_context(live.tenant.schema_name):
        assert not Message.objects.filter(direction="outbound").exclude(
            origin_ref="optout_confirmation").exists()


def test_a_wrong_token_or_another_accounts_path_is_20003(live):
    wrong = sdk_client(live.port, live.sid, "0" * 32)
    refused = error_of(lambda: wrong.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="x"))
    assert (refused.status, refused.code) == (401, 20003)
    beta = Tenant.objects.get(slug="beta")
    try:
        beta_sid, beta_token = twilio_credentials(beta)
        betas_creds_on_alphas_path = sdk_client(live.port, beta_sid, beta_token,
                                                account_sid=live.sid)
        refused = error_of(lambda: betas_creds_on_alphas_path.messages.create(
            to=CUSTOMER, from_=SIM_NUMBER, body="x"))
        assert (refused.status, refused.code) == (401, 20003)
        message = live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="mine")
        betas = sdk_client(live.port, beta_sid, beta_token)
        unseen = error_of(lambda: betas.messages(message.sid).fetch())
        assert (unseen.status, unseen.code) == (404, 20404)
        assert betas.messages.list() == []
    finally:
        tenant_data_reset(beta)


def test_a_body_that_is_not_form_encoded_or_holds_a_nul_gets_a_clear_400(live):
    import base64
    import json

    client = host_client(settings.BASE_DOMAIN)
    auth = base64.b64encode(f"{live.sid}:{live.token}".encode()).decode()
    response = client.post(f"/2010-04-01/Accounts/{live.sid}/Messages.json",
                           json.dumps({"To": CUSTOMER, "From": SIM_NUMBER, "Body": "x"}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Basic {auth}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert "form-encoded" in body["message"] and body["status"] == 400
    # Parameters Twilio knows and this service ignores are ignored, as Twilio ignores
    # what it does not know.
    ok = client.post(f"/2010-04-01/Accounts/{live.sid}/Messages.json",
                     {"To": CUSTOMER, "From": SIM_NUMBER, "Body": "x", "ValidityPeriod": "60",
                      "Surprise": "yes"}, HTTP_AUTHORIZATION=f"Basic {auth}")
    assert ok.status_code == 201
    unstorable = client.post(f"/2010-04-01/Accounts/{live.sid}/Messages.json",
                             {"To": CUSTOMER, "From": SIM_NUMBER, "Body": "a\x00b"},
                             HTTP_AUTHORIZATION=f"Basic {auth}")
    assert unstorable.status_code == 400
    assert unstorable.json()["code"] == 70002 and "Null characters" in unstorable.json()["message"]
    unknown = client.get(f"/2010-04-01/Accounts/{live.sid}/Calls.json",
                         HTTP_AUTHORIZATION=f"Basic {auth}")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)


@pytest.mark.parametrize(("path", "query"), [
    ("Messages.json", {"PageSize": "\u00b2"}),
    ("Messages.json", {"Page": "\u00b2"}),
    ("Messages.json", {"PageSize": "9" * 5000}),
    ("Messages.json", {"DateSent": "9999-12-31"}),
    ("Messages.json", {"DateSent<": "9999-12-31T23:59:59"}),
    ("Messages.json", {"DateSent>": "0001-01-01T00:00:00+01:00"}),
    ("IncomingPhoneNumbers.json", {"PageSize": "\u00b2"}),
])
def test_odd_paging_and_dates_are_a_400_not_a_500(live, path, query):
    import base64

    client = host_client(settings.BASE_DOMAIN)
    auth = base64.b64encode(f"{live.sid}:{live.token}".encode()).decode()
    response = client.get(f"/2010-04-01/Accounts/{live.sid}/{path}", query,
                          HTTP_AUTHORIZATION=f"Basic {auth}")
    assert response.status_code == 400, response.content
    assert response.json()["status"] == 400


@pytest.mark.parametrize("username", ["AC\x00x", "SK\x00x"])
def test_a_nul_in_the_credentials_is_refused_before_any_lookup(live, username):
    import base64

    client = host_client(settings.BASE_DOMAIN)
    auth = base64.b64encode(f"{username}:secret".encode()).decode()
    response = client.get(f"/2010-04-01/Accounts/{live.sid}/Messages.json",
                          HTTP_AUTHORIZATION=f"Basic {auth}")
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_the_dialect_is_served_on_the_tenants_own_host_too(live):
    on_alpha = sdk_client(live.port, live.sid, live.token, host="alpha.localhost")
    assert on_alpha.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="hi").status == "queued"
    on_beta = sdk_client(live.port, live.sid, live.token, host="beta.localhost")
    refused = error_of(lambda: on_beta.messages(on_alpha.messages.list()[0].sid).fetch())
    assert (refused.status, refused.code) == (401, 20003)


# --- Credentials ---------------------------------------------------------------------------


def test_twilio_credentials_prints_the_same_pair_and_rotates_through_a_secondary(
        live, capsys):
    def run(*args: str) -> str:
        call_command("twilio_credentials", "alpha", *args)
        return capsys.readouterr().out.strip().splitlines()[-1]

    assert run() == run() == f"{live.sid} {live.token}"
    sid, secondary = run("--rotate").split()
    assert sid == live.sid and secondary != live.token and len(secondary) == 32
    assert run() == f"{live.sid} {live.token}"  # the primary, until promoted
    with_secondary = sdk_client(live.port, live.sid, secondary)
    assert with_secondary.messages.list() == live.client.messages.list() == []
    assert run("--promote") == f"{live.sid} {secondary}"
    refused = error_of(lambda: live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER,
                                                           body="x"))
    assert (refused.status, refused.code) == (401, 20003)
    assert with_secondary.messages.list() == []
    assert run() == f"{live.sid} {secondary}"


def test_an_api_key_opens_the_account_until_revoked(live):
    from compat.twilio.credentials import twilio_api_key_create, twilio_api_key_revoke

    account = live.tenant.twilio_account
    key, secret = twilio_api_key_create(account=account, name="CRM")
    assert key.sid.startswith("SK") and len(key.sid) == 34
    with_key = sdk_client(live.port, key.sid, secret, account_sid=live.sid)
    assert with_key.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="k").status == "queued"
    assert with_key.messaging.v1.services.list() == []
    wrong = sdk_client(live.port, key.sid, secret[:-1] + "?", account_sid=live.sid)
    assert error_of(lambda: wrong.messages.create(to=CUSTOMER, from_=SIM_NUMBER,
                                                  body="x")).code == 20003
    twilio_api_key_revoke(key=key)
    assert error_of(lambda: with_key.messages.create(to=CUSTOMER, from_=SIM_NUMBER,
                                                     body="x")).code == 20003


def test_credential_checks_do_the_same_work_right_or_wrong(live, django_assert_num_queries,
                                                           monkeypatch):
    """A wrong token or secret costs what a right one does: one query and the same
    comparisons, of digests of equal length, whatever matched."""
    import hmac

    from compat.twilio.credentials import twilio_api_key_create, twilio_authenticate

    key, secret = twilio_api_key_create(account=live.tenant.twilio_account, name="K")
    twilio_authenticate(username=key.sid, password=secret)  # records its first use
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest",
                        lambda a, b: compared.append((len(a), len(b))) or real(a, b))
    work = []
    for username, password in ((live.sid, live.token), (live.sid, "x" * 5),
                               ("AC" + "0" * 32, live.token),
                               (key.sid, secret), (key.sid, "x"), ("SK" + "0" * 32, secret)):
        compared.clear()
        with django_assert_num_queries(1):
            found = twilio_authenticate(username=username, password=password)
        work.append((found is not None, tuple(compared)))
    assert [matched for matched, _ in work] == [True, False, False, True, False, False]
    assert len({comparisons for _, comparisons in work[:3]}) == 1
    assert len({comparisons for _, comparisons in work[3:]}) == 1


# --- IncomingPhoneNumbers and SmsUrl --------------------------------------------------------


class MessagingApp:
    """A business's app written for Twilio: it checks our signature with Twilio's
    RequestValidator and answers with Twilio's MessagingResponse."""

    def __init__(self, token: str, *, answer=None) -> None:
        self.validator = RequestValidator(token)
        self.answer = answer or (lambda form: [f"Thanks, we got: {form['Body']}"])
        self.server = FakeHTTPServer(self.respond)
        self.verified: list[dict[str, str]] = []

    def respond(self, request: Recorded) -> Reply:
        form = request.form()
        if not self.validator.validate(self.server.url + request.path, form,
                                       request.headers.get("X-Twilio-Signature", "")):
            return Reply(403, "bad signature")
        self.verified.append(form)
        twiml = MessagingResponse()
        for text in self.answer(form):
            twiml.message(text)
        return Reply(200, str(twiml).encode(), {"Content-Type": "text/xml"})


@pytest.fixture
def twilio_provider(committed_db) -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    connection_add(name="twilio-test", kind="twilio", settings={
        "account_sid": fake.sid, "auth_token": fake.token, "api_base_url": fake.base_url})
    try:
        yield fake
    finally:
        fake.stop()
        SenderRoute.objects.filter(connection__name="twilio-test").delete()
        ProviderConnection.objects.filter(name="twilio-test").delete()


def test_an_app_set_as_a_numbers_sms_url_answers_a_customer_who_gets_the_answer(
        live, twilio_provider):
    approved_sender(live.tenant, ALPHA_NUMBER, "twilio-test")
    app = MessagingApp(live.token)
    app.server.start()
    try:
        [number] = live.client.incoming_phone_numbers.list(phone_number=ALPHA_NUMBER)
        assert number.sid.startswith("PN") and number.sms_url == ""
        updated = live.client.incoming_phone_numbers(number.sid).update(
            sms_url=app.server.url + "/sms")
        assert updated.sms_url == app.server.url + "/sms" and updated.sms_method == "POST"
        assert live.client.incoming_phone_numbers(number.sid).fetch().sms_url == updated.sms_url
        # The customer's text arrives from the provider, signed, as any text does.
        inbound = twilio_post(host_client(settings.BASE_DOMAIN), "/webhooks/twilio-test/inbound",
                              twilio_inbound("SM" + "3" * 32, body="Where is my order?"),
                              twilio_provider.token)
        assert inbound.status_code == 200
        work_off(live.tenant)
        [form] = app.verified
        assert (form["Body"], form["From"], form["To"], form["AccountSid"]) == (
            "Where is my order?", CUSTOMER, ALPHA_NUMBER, live.sid)
        assert form["MessageSid"].startswith("SM") and form["NumSegments"] == "1"
        [sent] = twilio_provider.requests
        assert (sent.form["To"], sent.form["From"], sent.form["Body"]) == (
            CUSTOMER, ALPHA_NUMBER, "Thanks, we got: Where is my order?")
        [reply, question] = live.client.messages.list(from_=ALPHA_NUMBER) + \
            live.client.messages.list(to=ALPHA_NUMBER)
        assert (reply.direction, reply.status, question.direction, question.sid) == (
            "outbound-reply", "sent", "inbound", form["MessageSid"])
    finally:
        app.server.stop()


def test_several_messages_or_none_and_stop_comes_first(live):
    answers = iter([["One", "Two"], []])
    app = MessagingApp(live.token, answer=lambda form: next(answers))
    app.server.start()
    try:
        [number] = live.client.incoming_phone_numbers.list()
        live.client.incoming_phone_numbers(number.sid).update(sms_url=app.server.url + "/")
        customer_texts(live.tenant, "hello")
        customer_texts(live.tenant, "anyone?")
        customer_texts(live.tenant, "STOP")
        assert [form["Body"] for form in app.verified] == ["hello", "anyone?"]
        with schema_context(live.tenant.schema_name):
            sent = list(Message.objects.filter(direction="outbound").order_by("id")
                        .values_list("body", "status", "origin_ref"))
        # "anyone?" was answered with an empty <Response/>; STOP never reached the app,
        # and its confirmation is ours.
        assert [row[:2] for row in sent[:2]] == [("One", "delivered"), ("Two", "delivered")]
        assert len(sent) == 3 and sent[2][2] == "optout_confirmation"
    finally:
        app.server.stop()


def test_a_failing_app_falls_back_then_shows_in_the_inbox(live):
    broken = FakeHTTPServer(lambda request: Reply(500, "boom")).start()
    fallback = MessagingApp(live.token, answer=lambda form: [f"Fallback ({form['ErrorCode']})"])
    fallback.server.start()
    try:
        [number] = live.client.incoming_phone_numbers.list()
        live.client.incoming_phone_numbers(number.sid).update(
            sms_url=broken.url + "/sms", sms_fallback_url=fallback.server.url + "/fallback")
        customer_texts(live.tenant, "first")
        assert len(broken.requests) == 1
        assert fallback.verified[0]["ErrorUrl"] == broken.url + "/sms"
        with schema_context(live.tenant.schema_name):
            assert Message.objects.filter(body="Fallback (11200)").exists()
        live.client.incoming_phone_numbers(number.sid).update(sms_fallback_url="")
        customer_texts(live.tenant, "second")
        with schema_context(live.tenant.schema_name):
            webhook = SmsWebhook.objects.get(message__body="second")
            assert webhook.status == "failed" and "HTTP 500" in webhook.error
            thread = conversation_thread(conversation=webhook.message.conversation)
        notices = [entry.item for entry in thread if entry.kind == "notice"]
        assert len(notices) == 1 and notices[0].problem
        assert "did not answer" in notices[0].text and "HTTP 500" in notices[0].text
    finally:
        broken.stop()
        fallback.server.stop()


def test_a_number_refuses_a_url_it_may_not_call(live):
    [number] = live.client.incoming_phone_numbers.list()
    refused = error_of(lambda: live.client.incoming_phone_numbers(number.sid).update(
        sms_url="http://169.254.169.254/latest"))
    assert (refused.status, refused.code) == (400, 21502)
    assert live.client.incoming_phone_numbers(number.sid).fetch().sms_url == ""


# --- Messaging Services --------------------------------------------------------------------


def test_a_messaging_service_sends_from_its_pool_with_a_sticky_sender(live, receiver):
    approved_sender(live.tenant, SIM_NUMBER_2, "simulator")
    services = live.client.messaging.v1.services
    service = services.create(friendly_name="Support", status_callback=receiver.url + "/s")
    assert service.sid.startswith("MG") and service.sticky_sender is True
    numbers = {n.phone_number: n.sid for n in live.client.incoming_phone_numbers.list()}
    for sid in numbers.values():
        services(service.sid).phone_numbers.create(phone_number_sid=sid)
    assert {n.phone_number for n in services(service.sid).phone_numbers.list()} == set(numbers)
    first = [live.client.messages.create(to=f"+1415555{2000 + n}", body="hi",
                                         messaging_service_sid=service.sid) for n in range(8)]
    again = [live.client.messages.create(to=f"+1415555{2000 + n}", body="again",
                                         messaging_service_sid=service.sid) for n in range(8)]
    assert [m.from_ for m in first] == [m.from_ for m in again]
    assert {m.from_ for m in first} == set(numbers)  # the pool is used
    assert {m.messaging_service_sid for m in first + again} == {service.sid}
    work_off(live.tenant)
    assert len(receiver.requests) == 16  # the service's StatusCallback
    assert {r.form()["MessagingServiceSid"] for r in receiver.requests} == {service.sid}
    services(service.sid).phone_numbers(numbers[SIM_NUMBER_2]).delete()
    moved = live.client.messages.create(to="+14155552001", body="x",
                                        messaging_service_sid=service.sid)
    assert moved.from_ == SIM_NUMBER
    assert [s.sid for s in services.list()] == [service.sid]
    services(service.sid).delete()
    missing = error_of(lambda: live.client.messages.create(
        to=CUSTOMER, body="x", messaging_service_sid=service.sid))
    assert missing.code == 21701


def test_scheduling_follows_twilios_rules(live):
    from datetime import UTC, datetime, timedelta

    service = live.client.messaging.v1.services.create(friendly_name="Later")
    soon = datetime.now(UTC) + timedelta(seconds=60)
    far = datetime.now(UTC) + timedelta(days=36)
    create = live.client.messages.create
    no_service = error_of(lambda: create(to=CUSTOMER, from_=SIM_NUMBER, body="x",
                                         schedule_type="fixed", send_at=soon))
    assert no_service.code == 35118
    for when in (soon, far):
        out_of_range = error_of(lambda when=when: create(
            to=CUSTOMER, body="x", messaging_service_sid=service.sid, schedule_type="fixed",
            send_at=when))
        assert out_of_range.code == 35114


def test_a_scheduled_message_waits_and_can_be_canceled(live):
    from datetime import UTC, datetime, timedelta

    services = live.client.messaging.v1.services
    service = services.create(friendly_name="Later")
    for number in live.client.incoming_phone_numbers.list():
        services(service.sid).phone_numbers.create(phone_number_sid=number.sid)
    later = datetime.now(UTC) + timedelta(hours=2)
    scheduled = live.client.messages.create(to=CUSTOMER, body="See you tomorrow",
                                            messaging_service_sid=service.sid,
                                            schedule_type="fixed", send_at=later)
    assert scheduled.status == "scheduled"
    with schema_context(live.tenant.schema_name):
        assert Message.objects.get(body="See you tomorrow").status == "scheduled"
    canceled = live.client.messages(scheduled.sid).update(status="canceled")
    assert canceled.status == "canceled"
    again = error_of(lambda: live.client.messages(scheduled.sid).update(status="canceled"))
    assert again.status == 400 or again.status == 409


def test_requests_over_the_rate_limit_get_twilios_429(alpha, settings):
    import base64

    settings.API_THROTTLE_RATE = 2
    sid, token = twilio_credentials(alpha)
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    client = host_client(settings.BASE_DOMAIN)
    answers = [client.get(f"/2010-04-01/Accounts/{sid}/Messages.json",
                          HTTP_AUTHORIZATION=f"Basic {auth}") for _ in range(4)]
    assert [answer.status_code for answer in answers][:2] == [200, 200]
    refused = answers[-1]
    assert (refused.status_code, refused.json()["code"]) == (429, 20429)
    assert int(refused["Retry-After"]) >= 1


@pytest.mark.slow
def test_with_a_real_worker_the_callback_and_the_apps_answer_arrive(live, receiver,
                                                                     process_env):
    """The same, with nothing done in the test thread: a Celery worker sends, calls the
    number's app and posts the callbacks, each in the tenant's schema."""
    import time

    from tests.support.workers import celery_worker

    app = MessagingApp(live.token, answer=lambda form: [f"Echo: {form['Body']}"])
    app.server.start()
    try:
        [number] = live.client.incoming_phone_numbers.list()
        live.client.incoming_phone_numbers(number.sid).update(
            sms_url=app.server.url + "/sms", status_callback=receiver.url + "/replies")
        with celery_worker(process_env):
            sent = live.client.messages.create(to=CUSTOMER, from_=SIM_NUMBER, body="Hi",
                                               status_callback=receiver.url + "/status")
            with schema_context(live.tenant.schema_name):
                message_receive_simulated(from_address=CUSTOMER, to=SIM_NUMBER,
                                          body="ping")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(receiver.requests) < 2:
                time.sleep(0.2)
        paths = sorted(request.path for request in receiver.requests)
        assert paths == ["/replies", "/status"], paths
        for request in receiver.requests:
            assert RequestValidator(live.token).validate(
                receiver.url + request.path, request.form(),
                request.headers["X-Twilio-Signature"])
        status = next(r.form() for r in receiver.requests if r.path == "/status")
        assert (status["MessageSid"], status["MessageStatus"]) == (sent.sid, "delivered")
        assert [form["Body"] for form in app.verified] == ["ping"]
        [reply] = live.client.messages.list(to=CUSTOMER, from_=SIM_NUMBER)[:1]
        assert (reply.body, reply.direction, reply.status) == (
            "Echo: ping", "outbound-reply", "delivered")
    finally:
        app.server.stop()
