"""The tenant dashboard: its figures over known messages (days and hours in the tenant's
timezone, delivery, opt-outs, first response) and the page owners and admins open."""

from __future__ import annotations

import importlib.resources
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.dashboard import (
    dashboard_optouts,
    dashboard_period,
    dashboard_response_times,
    dashboard_traffic,
)
from messaging.models import Conversation, Message
from messaging.outbound import message_send, messages_send_bulk, status_apply
from messaging.response_waits import response_waits_backfill
from optout.models import ConsentEvent
from tenants.models import Tenant
from tests.conftest import PASSWORD, login
from tests.support.dashboard_data import Text, add_texts, conversation_with
from tests.support.factories import ConsentEventFactory
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    approved_sender,
    customer_texts,
)

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
# Thursday 15 January 2026, noon in Los Angeles (UTC-8).
NOW = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
OUT = "outbound"
OTHER = "+14155550188"


def utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def in_alpha(alpha):
    with schema_context(alpha.schema_name):
        yield alpha


def test_days_are_the_tenants_days(in_alpha):
    conversation = conversation_with(CUSTOMER, active_at=NOW)
    add_texts(conversation,
              Text(utc(15, 7, 30)),  # 23:30 on the 14th in Los Angeles
              Text(utc(15, 8, 30)),  # 00:30 on the 15th
              Text(utc(9, 7, 59), OUT),  # 23:59 on the 8th: before the first day
              Text(utc(9, 8, 0), OUT),  # midnight starting the 9th, the first day
              Text(utc(15, 19, 0), OUT))
    period = dashboard_period(days=7, zone=LOS_ANGELES, now=NOW)
    traffic = dashboard_traffic(period=period)
    assert [(row.day, row.inbound, row.outbound) for row in traffic.days] == [
        (date(2026, 1, 9), 0, 1), (date(2026, 1, 10), 0, 0), (date(2026, 1, 11), 0, 0),
        (date(2026, 1, 12), 0, 0), (date(2026, 1, 13), 0, 0), (date(2026, 1, 14), 1, 0),
        (date(2026, 1, 15), 1, 1)]
    assert (traffic.inbound, traffic.outbound) == (2, 2)
    assert traffic.hours[23] == 1 and traffic.hours[0] == 1 and sum(traffic.hours) == 2

    # The same messages for a business in London: both texts on the 15th, at 07:00 and 08:00.
    in_london = dashboard_traffic(period=dashboard_period(days=7, zone=ZoneInfo("Europe/London"),
                                                          now=NOW))
    assert in_london.days[-1].inbound == 2 and in_london.days[-2].inbound == 0
    assert in_london.hours[7] == 1 and in_london.hours[8] == 1


def test_a_day_that_lost_an_hour_to_summer_time(in_alpha):
    # New York springs forward at 02:00 on Sunday 8 March 2026 (UTC-5 -> UTC-4).
    now = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    conversation = conversation_with(CUSTOMER, active_at=now)
    add_texts(conversation,
              Text(utc(3, 4, 59, month=3)),  # 23:59 on 2 March: before the period
              Text(utc(3, 5, 0, month=3)),  # midnight on 3 March, the first day
              Text(utc(8, 4, 30, month=3)),  # 23:30 on 7 March (EST)
              Text(utc(9, 3, 30, month=3)),  # 23:30 on 8 March (EDT)
              Text(utc(9, 4, 30, month=3)))  # 00:30 on 9 March
    period = dashboard_period(days=7, zone=NEW_YORK, now=now)
    per_day = {row.day.day: row.inbound for row in dashboard_traffic(period=period).days}
    assert per_day == {3: 1, 4: 0, 5: 0, 6: 0, 7: 1, 8: 1, 9: 1}


def test_a_zone_the_database_does_not_know_is_counted_by_pythons_rules(in_alpha):
    # New York's rules under a name PostgreSQL has never heard of, as when the database's
    # time zone data is older than Python's.
    with importlib.resources.files("tzdata.zoneinfo").joinpath("America/New_York").open(
            "rb") as rules:
        unknown = ZoneInfo.from_file(rules, key="Atlantis/Poseidonia")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_timezone_names WHERE name = %s",
                       [unknown.key])
        assert cursor.fetchone() == (0,)
    now = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    add_texts(conversation_with(CUSTOMER, active_at=now),
              Text(utc(8, 4, 30, month=3)),  # 23:30 on 7 March (EST)
              Text(utc(9, 3, 30, month=3)),  # 23:30 on 8 March (EDT)
              Text(utc(9, 4, 30, month=3)))  # 00:30 on 9 March
    traffic = dashboard_traffic(period=dashboard_period(days=3, zone=unknown, now=now))
    assert [(row.day.day, row.inbound) for row in traffic.days] == [(7, 1), (8, 1), (9, 1)]
    assert traffic.hours[23] == 2 and traffic.hours[0] == 1


def test_busiest_hour_counts_customers_texts_only(in_alpha):
    conversation = conversation_with(CUSTOMER, active_at=NOW)
    # 14:xx in Los Angeles on three days, 09:xx once; replies at 10:00 do not count.
    add_texts(conversation, *(Text(utc(day, 22, 10)) for day in (12, 13, 14)),
              Text(utc(14, 17, 5)), *(Text(utc(14, 18, 0), OUT) for _ in range(5)))
    traffic = dashboard_traffic(period=dashboard_period(days=7, zone=LOS_ANGELES, now=NOW))
    assert traffic.busiest_hour == 14
    assert traffic.hours[14] == 3 and traffic.hours[9] == 1 and traffic.hours[10] == 0


def test_no_messages_no_rates(in_alpha):
    period = dashboard_period(days=30, zone=LOS_ANGELES, now=NOW)
    traffic = dashboard_traffic(period=period)
    assert len(traffic.days) == 30 and traffic.inbound == traffic.outbound == 0
    assert traffic.delivery_rate is None and traffic.busiest_hour is None
    assert dashboard_optouts(period=period).rate is None
    assert dashboard_response_times(period=period).median_seconds is None


def test_delivery_rate_counts_messages_with_a_final_status(in_alpha):
    conversation = conversation_with(CUSTOMER, active_at=NOW)
    at = utc(14, 18)
    add_texts(conversation,
              *(Text(at, OUT, "delivered") for _ in range(3)),
              Text(at, OUT, "undelivered"), Text(at, OUT, "failed"),
              Text(at, OUT, "sent"), Text(at, OUT, "sent"), Text(at, OUT, "queued"),
              Text(utc(1, 18), OUT, "failed"),  # before the period
              Text(at))  # a customer's text has no delivery
    traffic = dashboard_traffic(period=dashboard_period(days=7, zone=LOS_ANGELES, now=NOW))
    assert (traffic.delivered, traffic.not_delivered, traffic.pending) == (3, 2, 3)
    assert traffic.delivery_rate == pytest.approx(0.6)


def consent(phone: str, at: datetime, *, action: str = ConsentEvent.Action.OPT_OUT,
            source: str = ConsentEvent.Source.KEYWORD) -> None:
    event = ConsentEventFactory(phone=phone, action=action, source=source)
    ConsentEvent.objects.filter(pk=event.pk).update(created_at=at)


def test_optout_rate_is_keyword_optouts_among_the_periods_contacts(in_alpha):
    at = utc(14, 18)
    for index in range(4):
        conversation_with(f"+1415555020{index}", active_at=at)
    conversation_with("+14155550299", active_at=utc(2, 18))  # quiet in the period
    consent("+14155550200", at)
    consent("+14155550200", at + timedelta(minutes=1), action=ConsentEvent.Action.OPT_IN)
    consent("+14155550200", at + timedelta(minutes=2))  # STOP twice: one number
    consent("+14155550201", at, source=ConsentEvent.Source.ADMIN)
    consent("+14155550202", utc(2, 18))  # before the period
    consent("+14155550203", at, action=ConsentEvent.Action.OPT_IN)
    figures = dashboard_optouts(period=dashboard_period(days=7, zone=LOS_ANGELES, now=NOW))
    assert (figures.by_keyword, figures.all_sources, figures.contacts) == (1, 3, 4)
    assert figures.rate == pytest.approx(0.25)


def test_median_first_response_of_staff_derived_from_the_history(in_alpha):
    # Messages stored before waits were recorded: the migration derives them.
    t = utc(13, 17)
    minutes = timedelta(minutes=1)
    add_texts(conversation_with("+14155550201", active_at=NOW),
              Text(t),
              Text(t + minutes / 2, OUT, origin="rule"),  # automatic: still waiting
              Text(t + minutes),  # texting again does not restart the clock
              Text(t + 10 * minutes, OUT),  # answered after 600 s
              Text(t + 11 * minutes, OUT),  # a second reply: no wait
              Text(t + 60 * minutes),
              Text(t + 62 * minutes, OUT))  # 120 s
    add_texts(conversation_with("+14155550202", active_at=NOW),
              Text(t, OUT),  # staff wrote first: nobody was waiting
              Text(t + 5 * minutes),
              Text(t + 6 * minutes, OUT, origin="api"),  # the API is not a person
              Text(t + 35 * minutes, OUT))  # 1,800 s
    add_texts(conversation_with("+14155550203", active_at=NOW),
              Text(t), Text(t + 50 * minutes, OUT))  # 3,000 s
    add_texts(conversation_with("+14155550204", active_at=NOW),
              Text(t + 70 * minutes))  # still waiting
    add_texts(conversation_with("+14155550205", active_at=NOW),
              Text(utc(2, 17)), Text(utc(2, 18), OUT))  # before the period
    response_waits_backfill()
    responses = dashboard_response_times(
        period=dashboard_period(days=7, zone=LOS_ANGELES, now=NOW))
    # 120, 600, 1,800, 3,000 s: the median lies between the middle two.
    assert responses.median_seconds == pytest.approx(1200)
    assert (responses.answered, responses.unanswered) == (4, 1)


def _waits() -> tuple[dict, dict]:
    return (dict(Conversation.objects.values_list("pk", "waiting_since")),
            dict(Message.objects.filter(direction=OUT)
                 .values_list("pk", "answered_wait_from")))


def test_waits_are_recorded_as_customers_text_and_staff_reply(alpha, sim_sender):
    customer_texts(alpha, "Hello, is my order ready?")
    with schema_context(alpha.schema_name):
        first = Message.objects.get(direction="inbound")
        conversation = first.conversation
        assert conversation.waiting_since == first.created_at
    customer_texts(alpha, "Hello?")  # texting again does not restart the clock

    def reply(origin: str) -> Message:
        return message_send(from_address=SIM_NUMBER, to=CUSTOMER, body="On its way",
                            origin=origin)

    with schema_context(alpha.schema_name):
        conversation.refresh_from_db()
        assert conversation.waiting_since == first.created_at
        by_api = reply(Message.Origin.API)  # the API is not a person: still waiting
        conversation.refresh_from_db()
        assert conversation.waiting_since == first.created_at
        answer = reply(Message.Origin.USER)
        again = reply(Message.Origin.USER)
        conversation.refresh_from_db()
        assert conversation.waiting_since is None
        assert [m.answered_wait_from for m in Message.objects.filter(
            pk__in=[by_api.pk, answer.pk, again.pk]).order_by("pk")] == [
            None, first.created_at, None]
    customer_texts(alpha, "Thanks! One more thing")
    with schema_context(alpha.schema_name):
        later = Message.objects.filter(direction="inbound").latest("pk")
        conversation.refresh_from_db()
        assert conversation.waiting_since == later.created_at

        responses = dashboard_response_times(
            period=dashboard_period(days=7, zone=LOS_ANGELES))
        assert (responses.answered, responses.unanswered) == (1, 1)
        assert responses.median_seconds == pytest.approx(
            (answer.created_at - first.created_at).total_seconds())

        # What the migration derives from the same history is what was recorded.
        recorded = _waits()
        Conversation.objects.update(waiting_since=None)
        Message.objects.update(answered_wait_from=None)
        response_waits_backfill()
        assert _waits() == recorded


def test_a_batch_ends_only_the_waits_of_the_conversations_it_writes_to(alpha, sim_sender):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    customer_texts(alpha, "Anyone there?", from_=CUSTOMER, to=SIM_NUMBER_2)
    customer_texts(alpha, "Hello?", from_=OTHER, to=SIM_NUMBER)
    with schema_context(alpha.schema_name):
        # Number 1 to the customer, number 2 to the other: neither is where anyone waits.
        messages_send_bulk(items=[
            {"from": SIM_NUMBER, "to": CUSTOMER, "body": "News"},
            {"from": SIM_NUMBER_2, "to": OTHER, "body": "News"}], origin=Message.Origin.USER)
        waiting = Conversation.objects.filter(waiting_since__isnull=False)
        assert sorted((c.contact.phone, c.sender.address) for c in waiting) == [
            (OTHER, SIM_NUMBER), (CUSTOMER, SIM_NUMBER_2)]
        assert not Message.objects.filter(answered_wait_from__isnull=False).exists()


# The page.

@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_an_owner_sees_the_figures_of_real_traffic(alpha, owner, sim_sender):
    customer_texts(alpha, "Where is my parcel?")
    customer_texts(alpha, "STOP", from_=OTHER)  # answered by the opt-out confirmation
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(contact__phone=CUSTOMER)
    owner.post(f"/conversations/{conversation.pk}/reply", {"body": "It left today."})
    page = owner.get("/dashboard/")
    assert page.status_code == 200
    text = " ".join(page.content.decode().split())
    assert 'aria-current="page">Last 30 days' in text
    assert figure(page, "inbound") == "2" and figure(page, "outbound") == "2"
    assert figure(page, "delivery") == "—"  # both queued: no receipt yet
    assert "0 delivered of 0 with a final status; 2 awaiting one" in text
    assert figure(page, "optout") == "50.0%"  # one of the two numbers texted STOP
    assert "over 1 answered wait;" in text
    assert "1 without a reply" in text  # nobody answered the STOP in person
    chart = page.context["chart_data"]
    assert sum(chart["inbound"]) == 2 and sum(chart["outbound"]) == 2
    assert len(chart["days"]) == 30 and sum(chart["hours"]) == 2
    assert '<script id="dashboard-data" type="application/json">' in text
    assert 'src="/static/js/dashboard.js"' in text

    with schema_context(alpha.schema_name):  # the carrier's receipts come in
        for origin, status in ((Message.Origin.USER, "delivered"),
                               (Message.Origin.SYSTEM, "undelivered")):
            status_apply(message_id=Message.objects.get(origin=origin).pk, status=status)
    assert figure(owner.get("/dashboard/"), "delivery") == "50.0%"


def figure(page, name: str) -> str:
    """The big number of a figure's card."""
    text = page.content.decode()
    card = text[text.index(f'id="figure-{name}"'):]
    return card[card.index('class="number">') + len('class="number">'):card.index("</dd>")]


@pytest.mark.parametrize(("query", "selected"), [
    ("?days=7", 7), ("?days=90", 90), ("", 30), ("?days=31", 30), ("?days=abc", 30),
    ("?days=-7", 30), ("?days=" + "9" * 40, 30), ("?days=%C2%B2", 30), ("?days=07", 30),
    ("?days=7&days=90", 90),
])
def test_the_period_is_one_of_the_offered_ones(alpha, owner, query, selected):
    page = owner.get("/dashboard/" + query)
    assert page.status_code == 200
    assert f'aria-current="page">Last {selected} days' in page.content.decode()
    assert len(page.context["chart_data"]["days"]) == selected


def test_days_follow_the_business_timezone_setting(alpha, owner):
    Tenant.objects.filter(pk=alpha.pk).update(timezone="Pacific/Auckland")
    page = owner.get("/dashboard/?days=7")
    assert "days and hours in Pacific/Auckland" in page.content.decode()


def test_another_tenants_messages_are_not_counted(alpha, beta, owner):
    now = datetime.now(UTC)
    with schema_context(beta.schema_name):
        add_texts(conversation_with(CUSTOMER, active_at=now), Text(now), Text(now, OUT))
    page = owner.get("/dashboard/")
    assert figure(page, "inbound") == "0" and figure(page, "outbound") == "0"
    assert "0 of 0 contacts" in " ".join(page.content.decode().split())


def test_an_agent_is_refused_and_sees_no_link(alpha, alpha_client):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    assert alpha_client.get("/dashboard/").status_code == 403
    assert b'href="/dashboard/"' not in alpha_client.get("/").content


def test_signed_out_visitors_are_sent_to_sign_in(alpha, alpha_client):
    response = alpha_client.get("/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_owners_navigation_links_the_dashboard(alpha, owner):
    assert b'href="/dashboard/"' in owner.get("/").content
