"""The operator edition's tenant status, plans and quotas, usage metering, billing export and
/metrics: suspension refuses sends but not inbound, a closed tenant is unrouted, the monthly
cap refuses the segment past it and warns once, counters equal a recount after retries and
duplicates, the export prices by the longest prefix, /metrics speaks Prometheus."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection as db_connection
from django.utils import timezone
from django_tenants.utils import schema_context
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import Role, User
from core.errors import DomainError
from events.models import Event
from messaging.inbound import message_process, messages_process_pending
from messaging.models import KeywordRule, Message
from messaging.outbound import message_deliver, message_send, messages_deliver
from messaging.quota import month_start, quota_warnings_sweep, usage_threshold_notify
from tenants.billing import billing_csv, price_set
from tenants.models import QuotaUsage, Tenant, TenantStatusChange, UsageCounter
from tenants.routing_cache import routes_clear
from tenants.status import tenant_plan_set, tenant_states_clear, tenant_status_set
from tests.conftest import PASSWORD, host_client, login
from tests.support.db import tenant_data_reset
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    approved_sender,
    customer_texts,
    key_for,
    twilio_inbound,
    twilio_post,
)
from tests.support.twilio_dialect import twilio_credentials

INBOUND = "/webhooks/twilio-test/inbound"
UK_CUSTOMER = "+447400123456"
NY_CUSTOMER = "+12125550100"


@pytest.fixture(autouse=True)
def _fresh_caches():
    """The per-process caches of tenant states and routes outlive the rolled-back test."""
    yield
    tenant_states_clear()
    routes_clear()


@pytest.fixture
def no_usage_yet(db):
    """Counters committed by tests whose worker or connector had to see their data are
    removed by them, but a test that counts starts from none (rolled back after)."""
    UsageCounter.objects.all().delete()


def inbound(fake_twilio, sid: str, body: str = "Where is my order?", from_: str = CUSTOMER):
    return twilio_post(host_client(settings.BASE_DOMAIN), INBOUND,
                       twilio_inbound(sid, body=body, from_=from_), fake_twilio.token)


def outbound(alpha) -> list[Message]:
    with schema_context(alpha.schema_name):
        return list(Message.objects.filter(direction="outbound").order_by("id"))


# --- Status ---------------------------------------------------------------------------------


def test_suspending_refuses_the_next_api_send_but_inbound_is_stored_and_resuming_restores_both(
        alpha, alpha_twilio_sender, fake_twilio, api):
    text = {"from": ALPHA_NUMBER, "to": CUSTOMER, "body": "Your order shipped"}
    assert api.post("messages", text).status_code == 202

    call_command("tenant_status", "alpha", "suspended", "--reason", "invoice 42 unpaid")
    refused = api.post("messages", text)
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant_suspended"
    assert "invoice 42 unpaid" in refused.json()["detail"]
    bulk = api.post("messages/bulk", {"messages": [text]})
    assert (bulk.status_code, bulk.json()["code"]) == (403, "tenant_suspended")
    assert api.get("messages").status_code == 200  # reads still work
    # A customer's text still arrives through the real webhook and reaches the inbox, but
    # nothing automatic answers it (a rule would have).
    with schema_context(alpha.schema_name):
        KeywordRule.objects.create(keyword="order", match="contains", reply="On its way!")
    assert inbound(fake_twilio, "SM" + "a" * 32).status_code == 200
    with schema_context(alpha.schema_name):
        received = Message.objects.get(direction="inbound")
        message_process(message_id=received.pk)
        assert Message.objects.get(pk=received.pk).status == "processed"
    assert len(outbound(alpha)) == 1
    # The sign-in page says why; staff may still sign in to read.
    page = host_client("alpha.localhost").get("/accounts/login/").content.decode()
    assert "This account is suspended: invoice 42 unpaid" in page
    [change] = TenantStatusChange.objects.filter(tenant=alpha)
    assert (change.previous_status, change.status, change.actor) == (
        "active", "suspended", "command")

    call_command("tenant_status", "alpha", "active")
    assert api.post("messages", text).status_code == 202
    assert inbound(fake_twilio, "SM" + "b" * 32).status_code == 200
    assert len(outbound(alpha)) == 2
    page = host_client("alpha.localhost").get("/accounts/login/").content.decode()
    assert "suspended" not in page


@pytest.mark.parametrize("slug", ["public", "template", "nobody"])
def test_tenant_status_refuses_internal_schemas_and_unknown_slugs(alpha, slug):
    with pytest.raises(CommandError, match="status not changed"):
        call_command("tenant_status", slug, "suspended")
    with pytest.raises(CommandError, match="'paused' is not a status"):
        call_command("tenant_status", "alpha", "paused")
    assert not TenantStatusChange.objects.exists()
    assert set(Tenant.objects.values_list("status", flat=True)) == {"active"}


def test_a_closed_tenant_has_no_sign_in_no_api_and_unrouted_senders(
        alpha, alpha_twilio_sender, fake_twilio, api):
    tenant_status_set(tenant=alpha, status="closed", reason="contract ended", actor="ops")
    unrouted = inbound(fake_twilio, "SM" + "c" * 32)
    assert (unrouted.status_code, unrouted.json()["code"]) == (404, "unrouted_recipient")
    client = host_client("alpha.localhost")
    page = client.get("/accounts/login/")
    assert page.status_code == 403
    assert "This account is closed: contract ended" in page.content.decode()
    assert login(client, "owner@alpha.example").status_code == 403
    assert client.get("/").status_code == 403
    listed = api.get("messages")
    assert (listed.status_code, listed.json()["code"]) == (403, "tenant_closed")

    tenant_status_set(tenant=alpha, status="active", actor="ops")
    assert inbound(fake_twilio, "SM" + "d" * 32).status_code == 200
    assert login(host_client("alpha.localhost"), "owner@alpha.example").status_code == 302


def test_queued_messages_of_a_suspended_tenant_fail_but_stop_and_help_answers_go_out(
        alpha, sim_sender, api):
    queued = api.post("messages", {"from": sim_sender.address, "to": CUSTOMER, "body": "Hi"})
    tenant_status_set(tenant=alpha, status="suspended", actor="ops")
    with schema_context(alpha.schema_name):
        KeywordRule.objects.create(keyword="hello", match="contains", reply="Hi there!")
    assert customer_texts(alpha, "hello?") == []  # the rule would have answered
    [help_reply] = customer_texts(alpha, "HELP")
    with schema_context(alpha.schema_name):
        messages_deliver(message_ids=[queued.json()["id"], help_reply.pk])
    [stop_reply] = customer_texts(alpha, "STOP")
    assert (help_reply.origin_ref, stop_reply.origin_ref) == ("optout:help", "optout_confirmation")
    with schema_context(alpha.schema_name):
        messages_deliver(message_ids=[stop_reply.pk])
        statuses = dict(Message.objects.filter(direction="outbound")
                        .values_list("id", "status"))
        failed = Message.objects.get(pk=queued.json()["id"])
    assert (failed.status, failed.error_code) == ("failed", "tenant_suspended")
    assert statuses[help_reply.pk] == statuses[stop_reply.pk] == "delivered"


def test_the_twilio_dialect_refuses_a_suspended_account_with_403(alpha, sim_sender):
    sid, token = twilio_credentials(alpha)
    tenant_status_set(tenant=alpha, status="suspended", actor="ops")
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    refused = host_client(settings.BASE_DOMAIN).post(
        f"/2010-04-01/Accounts/{sid}/Messages.json",
        {"To": CUSTOMER, "From": sim_sender.address, "Body": "x"},
        HTTP_AUTHORIZATION=f"Basic {auth}")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("tenant_suspended: ")
    assert outbound(alpha) == []


# --- Plans and quotas -----------------------------------------------------------------------


def usage_events(alpha) -> list[dict]:
    with schema_context(alpha.schema_name):
        return [json.loads(event.payload)["data"] for event in
                Event.objects.filter(type="usage.threshold").order_by("id")]


def test_a_cap_of_10_segments_refuses_the_11th_and_warns_once_at_80_and_100_percent(
        alpha, sim_sender, api):
    with schema_context(alpha.schema_name):
        User.objects.create_user("admin@alpha.example", PASSWORD, role=Role.ADMIN)
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    assert api.post("webhooks", {"url": "http://127.0.0.1:9/hooks",
                                 "events": ["usage.threshold"]}).status_code == 201
    tenant_plan_set(tenant=alpha, monthly_segment_cap=10, segments_per_second_cap=None,
                    max_senders=None, actor="ops")
    text = {"from": sim_sender.address, "to": CUSTOMER, "body": "One segment"}
    for _ in range(7):
        assert api.post("messages", text).status_code == 202
    assert usage_events(alpha) == []
    assert api.post("messages", text).status_code == 202  # 8 of 10: 80%
    [warning] = usage_events(alpha)
    assert warning == {"threshold": 80, "month": f"{month_start():%Y-%m}", "segments": 8,
                       "cap": 10}
    later = timezone.now() + timedelta(minutes=1)
    # Were the email's task lost, the sweep would enqueue it again, until it is sent.
    assert quota_warnings_sweep(schema=alpha.schema_name, stale_before=later) == 1
    with schema_context(alpha.schema_name):
        assert usage_threshold_notify(month=month_start()) == 1
        assert usage_threshold_notify(month=month_start()) == 0  # once
    assert quota_warnings_sweep(schema=alpha.schema_name, stale_before=later) == 0
    [email] = mail.outbox
    assert sorted(email.to) == ["admin@alpha.example", "owner@alpha.example"]
    assert "80%" in email.subject and "8 of the 10 segments" in email.body

    assert api.post("messages", text).status_code == 202  # 9: no new warning
    assert len(usage_events(alpha)) == 1
    bulk = api.post("messages/bulk", {"messages": [text, text]}).json()["results"]
    assert "message" in bulk[0]
    assert bulk[1]["error"]["code"] == "quota_exceeded"
    refused = api.post("messages", text)  # the 11th segment
    assert (refused.status_code, refused.json()["code"]) == (403, "quota_exceeded")
    assert [event["threshold"] for event in usage_events(alpha)] == [80, 100]
    assert len(outbound(alpha)) == 10
    with schema_context(alpha.schema_name):
        assert usage_threshold_notify(month=month_start()) == 1
    assert "used up" in mail.outbox[1].subject

    # Over the cap, the customer's STOP and HELP are still answered.
    [help_reply] = customer_texts(alpha, "HELP")
    [stop_reply] = customer_texts(alpha, "STOP")
    assert help_reply.status == stop_reply.status == "queued"


def test_a_plan_with_a_negative_or_absurd_cap_is_refused_and_nothing_changes(alpha):
    for caps in ({"monthly_segment_cap": -1}, {"segments_per_second_cap": 10**9},
                 {"max_senders": 0}):
        plan = {"monthly_segment_cap": None, "segments_per_second_cap": None,
                "max_senders": None, **caps}
        with pytest.raises(ValidationError) as refused:
            tenant_plan_set(tenant=alpha, actor="ops", **plan)
        [field] = caps
        assert refused.value.error_dict[field][0].code == "invalid_plan"
    alpha.refresh_from_db()
    assert (alpha.monthly_segment_cap, alpha.segments_per_second_cap, alpha.max_senders) == (
        None, None, None)
    assert not TenantStatusChange.objects.exists()


def test_the_plan_caps_senders_and_the_tenant_wide_rate(alpha, sim_sender, api):
    redis.Redis.from_url(settings.REDIS_URL).delete(f"ratelimit:tenant:{alpha.schema_name}")
    tenant_plan_set(tenant=alpha, monthly_segment_cap=None, segments_per_second_cap=1,
                    max_senders=1, actor="ops")
    refused = api.post("senders", {"address": "+14155550177", "kind": "long_code",
                                   "connection": "simulator"})
    assert (refused.status_code, refused.json()["code"]) == (403, "sender_limit_reached")
    sent = api.post("messages/bulk", {"messages": [
        {"from": sim_sender.address, "to": f"+1415555020{i}", "body": "Hi"}
        for i in range(5)]}).json()["results"]
    with schema_context(alpha.schema_name):
        # One segment a second across the tenant (the simulator sender has no cap of its
        # own): three go within the two seconds a worker waits, two come back later.
        retry = messages_deliver(message_ids=[item["message"]["id"] for item in sent])
        assert len(retry) == 2
        assert Message.objects.filter(status="delivered").count() == 3


# --- Metering and the billing export --------------------------------------------------------


def recount(alpha) -> Counter:
    """What the counters should say, counted from the messages themselves."""
    counts: Counter = Counter()
    with schema_context(alpha.schema_name):
        for message in Message.objects.filter(status__in=["processed", "sent", "delivered"]):
            at = message.processed_at if message.direction == "inbound" else message.sent_at
            counts[(at.date().isoformat(), message.direction, "messages")] += 1
            counts[(at.date().isoformat(), message.direction, "segments")] += message.segments
    return counts


def test_usage_counters_equal_a_recount_after_retries_and_duplicates_and_the_export_prices_them(
        alpha, alpha_twilio_sender, fake_twilio, api, no_usage_yet):
    # Inbound: one webhook retried twice by the provider, another from a UK number, and
    # processing tasks delivered twice.
    for _ in range(3):
        assert inbound(fake_twilio, "SM" + "e" * 32).status_code == 200
    assert inbound(fake_twilio, "SM" + "f" * 32, from_=UK_CUSTOMER).status_code == 200
    with schema_context(alpha.schema_name):
        assert messages_process_pending() == 2
        assert messages_process_pending() == 0
    # Outbound: a transient 503 then success, and the send task delivered again; a
    # two-segment message to the UK; one to New York.
    fake_twilio.answers = [(503, {"code": 20503, "message": "Service unavailable"})]
    first = api.post("messages", {"from": ALPHA_NUMBER, "to": CUSTOMER, "body": "Shipped"})
    uk = api.post("messages", {"from": ALPHA_NUMBER, "to": UK_CUSTOMER, "body": "x" * 200})
    ny = api.post("messages", {"from": ALPHA_NUMBER, "to": NY_CUSTOMER, "body": "Hi NY"})
    ids = [first.json()["id"], uk.json()["id"], ny.json()["id"]]
    with schema_context(alpha.schema_name):
        assert message_deliver(message_id=ids[0]) is not None  # the 503
        assert message_deliver(message_id=ids[0]) is None
        messages_deliver(message_ids=ids)
        messages_deliver(message_ids=ids)  # a redelivered task sends nothing again
        assert Message.objects.filter(direction="outbound", status="sent").count() == 3
    assert len(fake_twilio.requests) == 4

    counted: Counter = Counter()
    for row in UsageCounter.objects.filter(tenant=alpha):
        counted[(row.day.isoformat(), row.direction, "messages")] += row.messages
        counted[(row.day.isoformat(), row.direction, "segments")] += row.segments
    assert counted == recount(alpha)
    today = timezone.now().date()
    assert counted[(today.isoformat(), "outbound", "segments")] == 4
    assert {(row.country, row.prefix) for row in UsageCounter.objects.filter(tenant=alpha)} == {
        ("US", "141555"), ("GB", "447400"), ("US", "121255")}

    # The tenant reads the same figures from the API.
    usage = api.get("usage", start=(today - timedelta(days=1)).isoformat(),
                    end=today.isoformat())
    assert usage.status_code == 200
    assert usage.json() == {"results": [
        {"date": today.isoformat(), "direction": "inbound", "messages": 2, "segments": 2},
        {"date": today.isoformat(), "direction": "outbound", "messages": 3, "segments": 4}]}
    assert api.get("usage").json() == usage.json()  # by default, this month so far
    backwards = api.get("usage", start=today.isoformat(),
                        end=(today - timedelta(days=1)).isoformat())
    assert (backwards.status_code, backwards.json()["code"]) == (400, "validation_error")
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == 5  # reading usage scanned nothing, changed nothing

    # The export prices each by the longest matching prefix.
    price_set(prefix="1", price_per_segment="0.0075")
    price_set(prefix="1415", price_per_segment="0.01")
    price_set(prefix="44", price_per_segment="0.04", currency="usd")
    rows = list(csv.DictReader(io.StringIO(billing_csv(month=month_start()))))
    alpha_rows = {(r["country"], r["prefix"], r["direction"]): r for r in rows
                  if r["tenant"] == "alpha"}
    assert {key: (r["messages"], r["segments"], r["unit_price"], r["amount"])
            for key, r in alpha_rows.items()} == {
        ("US", "1415", "inbound"): ("1", "1", "0.010000", "0.010000"),
        ("US", "1415", "outbound"): ("1", "1", "0.010000", "0.010000"),
        ("GB", "44", "inbound"): ("1", "1", "0.040000", "0.040000"),
        ("GB", "44", "outbound"): ("1", "2", "0.040000", "0.080000"),
        ("US", "1", "outbound"): ("1", "1", "0.007500", "0.007500"),
    }
    assert {r["currency"] for r in alpha_rows.values()} == {"USD"}


def test_a_price_with_a_malformed_prefix_or_amount_is_refused(db):
    for prefix, price, field in (("+44a", "0.01", "prefix"), ("1234567", "0.01", "prefix"),
                                 ("44", "-1", "price_per_segment"),
                                 ("44", "NaN", "price_per_segment")):
        with pytest.raises(ValidationError) as refused:
            price_set(prefix=prefix, price_per_segment=price)
        assert field in refused.value.error_dict


def test_metering_can_be_switched_off(alpha, sim_sender, settings, no_usage_yet):
    settings.METERING_ENABLED = False
    customer_texts(alpha, "hello")
    assert not UsageCounter.objects.exists()


# --- Operator pages -------------------------------------------------------------------------


@pytest.fixture
def operator(public_client):
    User.objects.create_superuser("ops@operator.example", PASSWORD)
    response = public_client.post("/operator/login/", {"username": "ops@operator.example",
                                                       "password": PASSWORD})
    assert response.status_code == 302
    return public_client


def test_the_operator_suspends_a_tenant_and_sets_its_plan_from_the_console(alpha, operator):
    page = "/operator/tenants/alpha/status"
    assert operator.get(page).status_code == 200
    response = operator.post(page, {"action": "status", "status": "suspended",
                                    "reason": "fraud review"})
    assert response.status_code == 302
    alpha.refresh_from_db()
    assert (alpha.status, alpha.status_reason) == ("suspended", "fraud review")
    refused = operator.post(page, {"action": "plan", "monthly_segment_cap": "-5"})
    assert refused.status_code == 400
    assert "monthly_segment_cap" in refused.context["plan_form"].errors
    assert operator.post(page, {"action": "plan", "monthly_segment_cap": "1000"}
                         ).status_code == 302
    alpha.refresh_from_db()
    assert alpha.monthly_segment_cap == 1000
    history = operator.get(page).content.decode()
    assert "fraud review" in history and "monthly_segment_cap None -&gt; 1000" in history
    assert operator.get("/operator/tenants/template/status").status_code == 404
    assert host_client(settings.BASE_DOMAIN).get(page).status_code == 302  # sign in first


def test_the_operator_downloads_the_month_export_with_defused_cells(alpha, sim_sender, operator,
                                                                   no_usage_yet):
    customer_texts(alpha, "hello")
    page = operator.get("/operator/usage/")
    assert page.status_code == 200
    assert [(r["tenant"].slug, r["inbound"]["messages"]) for r in page.context["rows"]
            if r["inbound"]] == [("alpha", 1)]
    added = operator.post("/operator/usage/", {"action": "add", "prefix": "1",
                                               "price_per_segment": "0.01",
                                               "currency": "USD"})
    assert added.status_code == 302
    bad = operator.post("/operator/usage/", {"action": "add", "prefix": "x",
                                             "price_per_segment": "0.05", "currency": "EUR"})
    assert bad.status_code == 400 and "prefix" in bad.context["form"].errors
    assert operator.get("/operator/usage/export.csv", {"month": "2026-13"}).status_code == 400
    # No slug can start a formula today; the export defuses cells all the same.
    Tenant.objects.filter(pk=alpha.pk).update(slug="=cmd")
    export = operator.get("/operator/usage/export.csv", {"month": f"{month_start():%Y-%m}"})
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert (row["tenant"], row["direction"], row["amount"]) == ("'=cmd", "inbound", "0.010000")


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_speak_prometheus_text_and_refuse_without_the_right_token(
        alpha, alpha_twilio_sender, fake_twilio, api, settings):
    client = host_client(settings.BASE_DOMAIN)
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    settings.METRICS_TOKEN = "metrics-token-0123456789"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert inbound(fake_twilio, "SM" + "9" * 32).status_code == 200
    sent = api.post("messages", {"from": ALPHA_NUMBER, "to": CUSTOMER, "body": "Hi"})
    with schema_context(alpha.schema_name):
        message_deliver(message_id=sent.json()["id"])

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-0123456789")
    assert response.status_code == 200
    families = {family.name: family for family in
                text_string_to_metric_families(response.content.decode())}
    assert {"cpaas_queue_depth", "cpaas_messages_in_flight", "cpaas_event_webhook_backlog",
            "cpaas_webhook_seconds", "cpaas_send_outcomes", "cpaas_smpp_bound"} <= set(families)
    in_flight = {(s.labels["status"], s.labels["connection"]): s.value
                 for s in families["cpaas_messages_in_flight"].samples}
    assert in_flight[("received", "twilio-test")] >= 1
    webhook_count = [s.value for s in families["cpaas_webhook_seconds"].samples
                     if s.name == "cpaas_webhook_seconds_count" and s.labels["kind"] == "inbound"]
    assert webhook_count and webhook_count[0] >= 1
    sent_count = [s.value for s in families["cpaas_send_outcomes"].samples
                  if s.labels.get("connection") == "twilio-test"
                  and s.labels.get("outcome") == "sent"]
    assert sent_count and sent_count[0] >= 1
    queues = {s.labels["queue"] for s in families["cpaas_queue_depth"].samples}
    assert queues == set(settings.WORKER_QUEUES)
    tenant_key = key_for(alpha)
    assert host_client("alpha.localhost").get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {tenant_key}").status_code == 404


@pytest.fixture
def committed_alpha(committed_db) -> Iterator[Tenant]:
    """Tenant alpha with an approved simulator sender and a cap of 10 segments a month,
    committed for real (threads use their own connections); all removed afterwards."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    tenant_plan_set(tenant=alpha, monthly_segment_cap=10, segments_per_second_cap=None,
                    max_senders=None, actor="test")
    try:
        yield alpha
    finally:
        tenant_plan_set(tenant=alpha, monthly_segment_cap=None, segments_per_second_cap=None,
                        max_senders=None, actor="test")
        tenant_data_reset(alpha)


def test_concurrent_sends_never_exceed_the_cap_and_warn_once(committed_alpha):
    schema = committed_alpha.schema_name
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def sender(index: int) -> None:
        start.wait(10)
        with schema_context(schema):
            for n in range(5):
                try:
                    message_send(from_address=SIM_NUMBER, to=f"+1415555{index}{n:03d}",
                                 body="One segment", origin="api")
                    outcomes.append("queued")
                except DomainError as exc:
                    outcomes.append(exc.code)
        db_connection.close()

    threads = [threading.Thread(target=sender, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert Counter(outcomes) == {"queued": 10, "quota_exceeded": 10}
    usage = QuotaUsage.objects.get(tenant=committed_alpha, month=month_start())
    assert usage.segments == 10
    assert usage.warned_80_at is not None and usage.warned_100_at is not None
    with schema_context(schema):
        assert Message.objects.filter(direction="outbound").count() == 10


def test_a_number_is_counted_for_the_country_of_its_block():
    """Countries sharing a calling code are told apart by the first digits (looked up
    once per block and process): Toronto is Canada, New York the United States,
    Guernsey's +44 1481 not Great Britain."""
    from tenants.usage import _destination

    assert _destination("+14165550123") == ("CA", "141655")
    assert _destination("+14165550199") == ("CA", "141655")
    assert _destination("+12125550123") == ("US", "121255")
    assert _destination("+441481712345")[0] == "GG"
    assert _destination("+442071234567")[0] == "GB"
    assert _destination("62000") == ("", "")
