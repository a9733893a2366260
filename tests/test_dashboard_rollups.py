"""The dashboard's traffic rollup (``messaging.traffic``): counted as messages come and go,
once under retries, equal to a recount of the messages, regrouped into any zone's days
and hours, and read instead of the messages."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from messaging.contacts import contact_delete
from messaging.dashboard import dashboard_get, dashboard_period, dashboard_traffic
from messaging.inbound import message_process
from messaging.models import Contact, Message, TrafficCount
from messaging.outbound import message_deliver, message_send
from messaging.retention import message_delete
from messaging.traffic import traffic_backfill, traffic_count
from tenants.usage import Metered, usage_count
from tests.conftest import host_client
from tests.support.dashboard_data import Text, add_texts, conversation_with
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    customer_texts,
    twilio_inbound,
    twilio_post,
)

OUT = "outbound"
STATUS = "/webhooks/twilio-test/status"
INBOUND = "/webhooks/twilio-test/inbound"


def rollup() -> dict[datetime, tuple[int, int, int, int]]:
    return {row.period_start: (row.inbound, row.outbound, row.delivered, row.not_delivered)
            for row in TrafficCount.objects.all()}


def recounted() -> dict[datetime, tuple[int, int, int, int]]:
    """What the migration's recount of the messages makes of them."""
    traffic_backfill()
    return rollup()


def test_counted_once_through_retried_webhooks_sends_and_callbacks(
        alpha, alpha_twilio_sender, fake_twilio):
    client = host_client(settings.BASE_DOMAIN)
    params = twilio_inbound("SM" + "1" * 32, body="Is my order ready?")
    for _ in range(3):  # Twilio retries its webhook
        assert twilio_post(client, INBOUND, params, fake_twilio.token).status_code == 200
    with schema_context(alpha.schema_name):
        [inbound] = Message.objects.filter(direction="inbound")
        for _ in range(2):  # a redelivered processing task
            message_process(message_id=inbound.pk)

    fake_twilio.answers = [
        (201, {"sid": "SM" + "a" * 32, "status": "queued"}),
        (400, {"code": 21211, "message": "The 'To' number is not valid."}),
        (503, {"code": 20503, "message": "Service unavailable"}),
    ]
    with schema_context(alpha.schema_name):
        sent, refused, retried = (
            message_send(from_address=ALPHA_NUMBER, to=CUSTOMER, body=body, origin="api")
            for body in ("Ready", "Refused", "Retried"))
        for message in (sent, refused, retried):
            message_deliver(message_id=message.pk)
        message_deliver(message_id=refused.pk)  # a redelivered task: failed is final
        sent.refresh_from_db()

    def callback(status: str, **extra):
        return twilio_post(client, STATUS, {
            "MessageSid": sent.provider_message_id, "MessageStatus": status,
            "AccountSid": fake_twilio.sid, "To": CUSTOMER, "From": ALPHA_NUMBER, **extra,
        }, fake_twilio.token)

    # The receipt retried, a late "sent", then a contradicting one: delivered once.
    for status, extra in (("delivered", {}), ("delivered", {}), ("sent", {}),
                          ("undelivered", {"ErrorCode": "30003"})):
        assert callback(status, **extra).status_code == 200

    with schema_context(alpha.schema_name):
        assert dict(Message.objects.filter(direction=OUT).values_list("body", "status")) == {
            "Ready": "delivered", "Refused": "failed", "Retried": "queued"}
        traffic = dashboard_traffic(period=dashboard_period(days=7, zone=alpha.zone))
        assert (traffic.inbound, traffic.outbound) == (1, 3)
        assert (traffic.delivered, traffic.not_delivered, traffic.pending) == (1, 1, 1)
        assert rollup() == recounted()


def test_the_rollup_regroups_into_any_zones_days_and_hours(alpha):
    """Quarter hours regroup exactly, also where the offset is not whole hours (Kolkata
    +05:30, Kathmandu +05:45, Chatham +13:45) and across a change of clocks: the figures
    are those the messages give."""
    now = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
    start = now - timedelta(days=9)
    # Every 37 minutes, in turn in and out, with every outcome: crosses the quarter-hour,
    # hour and day boundaries of each zone, and New York's change of clocks on 8 March.
    statuses = ["delivered", "undelivered", "failed", "sent", "queued", "canceled"]
    texts = [Text(start + index * timedelta(minutes=37),
                  OUT if index % 2 else "inbound",
                  statuses[index // 2 % len(statuses)] if index % 2 else "")
             for index in range(9 * 24 * 60 // 37)]
    with schema_context(alpha.schema_name):
        messages = add_texts(conversation_with(CUSTOMER, active_at=now), *texts)
        for key in ("Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "America/New_York",
                    "UTC"):
            zone = ZoneInfo(key)
            period = dashboard_period(days=7, zone=zone, now=now)
            inside = [m for m in messages if period.start <= m.created_at < period.end]
            local = {m.pk: m.created_at.astimezone(zone) for m in inside}
            days = Counter((local[m.pk].date(), m.direction) for m in inside)
            hours = Counter(local[m.pk].hour for m in inside if m.direction == "inbound")
            outcomes = Counter(m.status for m in inside if m.direction == OUT)

            traffic = dashboard_traffic(period=period)
            assert [(row.day, row.inbound, row.outbound) for row in traffic.days] == [
                (day, days[(day, "inbound")], days[(day, OUT)]) for day in period.day_list()
            ], key
            assert traffic.hours == [hours[hour] for hour in range(24)], key
            assert (traffic.delivered, traffic.not_delivered, traffic.pending) == (
                outcomes["delivered"], outcomes["undelivered"] + outcomes["failed"],
                sum(outcomes.values()) - outcomes["delivered"] - outcomes["undelivered"]
                - outcomes["failed"]), key


def test_erasing_messages_takes_their_counts_back(alpha, sim_sender):
    customer_texts(alpha, "Where is my parcel?")
    customer_texts(alpha, "And the other one?", from_="+14155550188")
    with schema_context(alpha.schema_name):
        message_deliver(message_id=message_send(
            from_address=SIM_NUMBER, to=CUSTOMER, body="On its way", origin="api").pk)
        traffic = dashboard_traffic(period=dashboard_period(days=7, zone=alpha.zone))
        assert (traffic.inbound, traffic.outbound, traffic.delivered) == (2, 1, 1)

        message_delete(message_id=Message.objects.get(body="And the other one?").pk)
        contact_delete(contact=Contact.objects.get(phone=CUSTOMER))
        traffic = dashboard_traffic(period=dashboard_period(days=7, zone=alpha.zone))
        assert (traffic.inbound, traffic.outbound, traffic.delivered) == (0, 0, 0)
        assert not Message.objects.exists()
        assert all(counts == (0, 0, 0, 0) for counts in rollup().values())


# The messages table by name, not a table whose name merely begins with it.
MESSAGES_TABLE = re.compile(r'\bmessaging_message\b"?(?!_)')


def test_the_dashboard_reads_the_rollup_not_the_messages(alpha, sim_sender):
    customer_texts(alpha, "Where is my parcel?")
    with schema_context(alpha.schema_name):
        add_texts(conversation_with("+14155550188", active_at=datetime.now(UTC)),
                  *(Text(datetime.now(UTC) - timedelta(hours=hour), OUT) for hour in range(50)))
        with CaptureQueriesContext(connection) as queries:
            figures = dashboard_get(period=dashboard_period(days=30, zone=alpha.zone))
    assert (figures.traffic.inbound, figures.traffic.outbound) == (1, 50)
    reading = [query["sql"] for query in queries.captured_queries
               if MESSAGES_TABLE.search(query["sql"])]
    # Only the response times read messages: the replies that ended a wait, through
    # their partial index (``message_answered_wait``), never the period's messages.
    assert len(reading) == 1 and "WHERE answered_wait_from >=" in reading[0], reading
    assert any("messaging_trafficcount" in query["sql"] for query in queries.captured_queries)


def test_counting_off_counts_nothing(alpha, sim_sender, settings):
    settings.METERING_ENABLED = False  # only to measure what counting costs
    customer_texts(alpha, "Where is my parcel?")
    with schema_context(alpha.schema_name):
        assert rollup() == {}


@pytest.mark.parametrize("count", ["traffic", "usage"])
def test_a_batch_checks_its_foreign_keys_before_it_takes_a_counter_row(alpha, sim_sender,
                                                                       count):
    """Every batch of a tenant adds to the same counter rows, each held from its upsert to
    its commit. Django's foreign keys are checked at COMMIT, which for a campaign's chunk of
    thousands of messages takes seconds; checked before the upsert instead, a row that
    breaks one fails there, and the row is never held while the keys are checked."""
    now = timezone.now()
    with schema_context(alpha.schema_name):
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                # A message of a sender that does not exist: deferred, this would only
                # fail at COMMIT.
                cursor.execute(
                    "INSERT INTO messaging_message (direction, sender_id, from_address, "
                    "to_address, body, encoding, segments, status, connection, error_code, "
                    "error_message, origin, origin_ref, attempts, created_at, updated_at) "
                    "VALUES ('outbound', %s, %s, %s, 'Hi', 'GSM-7', 1, 'queued', "
                    "'simulator', '', '', 'api', '', 0, now(), now())",
                    [sim_sender.pk + 1000, SIM_NUMBER, CUSTOMER])
            if count == "traffic":
                traffic_count(counts=[(now, "outbound")])
            else:
                usage_count(tenant_id=alpha.pk, messages=[Metered(
                    day=now.date(), direction=OUT, sender=SIM_NUMBER, connection="simulator",
                    customer=CUSTOMER, segments=1)])
            pytest.fail("the counter was taken before the keys were checked")
        assert rollup() == {}
