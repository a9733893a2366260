"""Reads for the tenant dashboard: traffic per day and per hour, delivery rate, opt-out
rate and the staff's median time to first response, over the last days in the tenant's
timezone.

Each figure is aggregated in PostgreSQL (five queries, whatever the number of messages);
Python only lays out the few rows that come back. The traffic query bounds ``created_at``
to the period, which the ``message_created`` index serves: the history before the period
is not read. Response times read only the replies that ended a customer's wait, recorded
as they were sent (``messaging.response_waits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from messaging.models import Conversation, Message
from optout.models import ConsentEvent

# The periods the page offers, in days.
PERIOD_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30

FINAL_FAILURES = (Message.Status.UNDELIVERED, Message.Status.FAILED)


@dataclass(frozen=True)
class Period:
    """``days`` whole days in ``zone``, today included: from ``start`` (midnight of the
    first day) to ``end`` (midnight after today)."""

    days: int
    zone: ZoneInfo
    first_day: date
    start: datetime
    end: datetime

    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]


def dashboard_period(*, days: int, zone: ZoneInfo, now: datetime | None = None) -> Period:
    today = timezone.localtime(now or timezone.now(), zone).date()
    first_day = today - timedelta(days=days - 1)
    return Period(days=days, zone=zone, first_day=first_day,
                  start=datetime.combine(first_day, time.min, tzinfo=zone),
                  end=datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone))


@dataclass(frozen=True)
class DayTraffic:
    day: date
    inbound: int
    outbound: int


@dataclass(frozen=True)
class Traffic:
    """Messages in and out per day and inbound messages per hour of the day (0-23), and
    what became of the outbound ones."""

    days: list[DayTraffic]
    hours: list[int]
    delivered: int
    # Final but not delivered: the carrier could not deliver it, or it was refused.
    not_delivered: int
    # Not final yet: queued, sending, or sent and awaiting the carrier's receipt.
    pending: int

    @property
    def inbound(self) -> int:
        return sum(day.inbound for day in self.days)

    @property
    def outbound(self) -> int:
        return sum(day.outbound for day in self.days)

    @property
    def final(self) -> int:
        return self.delivered + self.not_delivered

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.final if self.final else None

    @property
    def busiest_hour(self) -> int | None:
        return self.hours.index(max(self.hours)) if any(self.hours) else None


# One scan of the period's messages: counts per local hour, direction and status (hashed:
# a few thousand groups at most), then three groupings of those: per local day and
# direction, per hour of the day and direction, per direction and status. GROUPING()
# tells the rows apart. {local} is the local time of ``created_at`` (``_local_time_sql``).
TRAFFIC_SQL = """
SELECT GROUPING(day, hour, status) AS grouping, day, hour, direction, status,
       sum(messages)::int AS messages
FROM (SELECT local_hour::date AS day, extract(hour FROM local_hour)::int AS hour,
             direction, status, messages
      FROM (SELECT date_trunc('hour', {local}) AS local_hour,
                   direction, status, count(*) AS messages
            FROM messaging_message
            WHERE created_at >= %(start)s AND created_at < %(end)s
            GROUP BY 1, 2, 3) AS hourly) AS labelled
GROUP BY GROUPING SETS ((day, direction), (hour, direction), (direction, status))
"""
BY_DAY = 0b011  # hour and status rolled up
BY_HOUR = 0b101  # day and status rolled up


def _utc_offsets(period: Period) -> list[tuple[datetime, timedelta]]:
    """The zone's UTC offset over the period, as (from when, offset) from its start: one
    entry, or one more per daylight-saving change (found to the second by bisection)."""
    def offset(at: int) -> timedelta:
        return datetime.fromtimestamp(at, period.zone).utcoffset()

    start, end = int(period.start.timestamp()), int(period.end.timestamp())
    spans = [(start, offset(start))]
    for hour in range(start, end, 3600):
        low, high = hour, min(hour + 3600, end)
        if offset(high) == spans[-1][1]:
            continue
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == spans[-1][1] else (low, middle)
        spans.append((high, offset(high)))
    return [(datetime.fromtimestamp(at, UTC), delta) for at, delta in spans]


def _local_time_sql(period: Period) -> tuple[str, dict]:
    """``created_at`` in the tenant's local time, by the offsets Python's zone rules give:
    the database's own time zone data may be older, or lack the zone."""
    spans = _utc_offsets(period)
    params = {f"offset_{index}": delta for index, (_, delta) in enumerate(spans)}
    params |= {f"change_{index}": at for index, (at, _) in enumerate(spans) if index}
    if len(spans) == 1:
        offset = "%(offset_0)s"
    else:
        cases = " ".join(f"WHEN created_at < %(change_{index})s THEN %(offset_{index - 1})s"
                         for index in range(1, len(spans)))
        offset = f"CASE {cases} ELSE %(offset_{len(spans) - 1})s END"
    return f"(created_at AT TIME ZONE 'UTC') + {offset}", params


def dashboard_traffic(*, period: Period) -> Traffic:
    per_day = {day: [0, 0] for day in period.day_list()}
    hours = [0] * 24
    by_status: dict[str, int] = {}
    local, params = _local_time_sql(period)
    with connection.cursor() as cursor:
        cursor.execute(TRAFFIC_SQL.format(local=local),
                       {"start": period.start, "end": period.end, **params})
        for grouping, day, hour, direction, status, messages in cursor.fetchall():
            inbound = direction == Message.Direction.INBOUND
            if grouping == BY_DAY:
                # A zone that turns its clocks back at midnight repeats the last hour of
                # the day before the first: not shown.
                if day in per_day:
                    per_day[day][0 if inbound else 1] = messages
            elif grouping == BY_HOUR:
                if inbound:
                    hours[hour] = messages
            elif not inbound:
                by_status[status] = messages
    delivered = by_status.pop(Message.Status.DELIVERED, 0)
    not_delivered = sum(by_status.pop(status, 0) for status in FINAL_FAILURES)
    return Traffic(days=[DayTraffic(day, inbound, outbound)
                         for day, (inbound, outbound) in per_day.items()],
                   hours=hours, delivered=delivered, not_delivered=not_delivered,
                   pending=sum(by_status.values()))


@dataclass(frozen=True)
class OptOutFigures:
    # Numbers that texted an opt-out keyword (STOP ...) in the period.
    by_keyword: int
    # Opt-outs of any source (keyword, API, a staff member, an import).
    all_sources: int
    # Contacts that texted, or were texted, in the period.
    contacts: int

    @property
    def rate(self) -> float | None:
        return self.by_keyword / self.contacts if self.contacts else None


def dashboard_optouts(*, period: Period) -> OptOutFigures:
    """Opt-outs from the consent log; the contacts from their conversations' last
    activity, which only a message sets (``Conversation.last_activity_at``): a contact had
    a message in the period exactly when one of its conversations was active since its
    start. That reads one row per conversation instead of every message of the period."""
    events = ConsentEvent.objects.filter(action=ConsentEvent.Action.OPT_OUT,
                                         created_at__gte=period.start,
                                         created_at__lt=period.end)
    counts = events.aggregate(
        by_keyword=Count("phone", distinct=True,
                         filter=Q(source=ConsentEvent.Source.KEYWORD)),
        all_sources=Count("id"))
    contacts = Conversation.objects.filter(last_activity_at__gte=period.start).aggregate(
        contacts=Count("contact", distinct=True))["contacts"]
    return OptOutFigures(contacts=contacts, **counts)


@dataclass(frozen=True)
class ResponseTimes:
    median_seconds: float | None
    # Waits that a staff reply ended, and those still open.
    answered: int
    unanswered: int


# The replies that ended a wait, found by their partial index: a few rows per conversation,
# not the period's messages.
RESPONSE_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM created_at - answered_wait_from)),
       count(*)
FROM messaging_message
WHERE answered_wait_from >= %(start)s AND answered_wait_from < %(end)s
"""


def dashboard_response_times(*, period: Period) -> ResponseTimes:
    """The median time from a customer's text to the first staff reply after it, over the
    waits that began in the period (``messaging.response_waits`` says what a wait is);
    those still open are counted apart, not in the median."""
    with connection.cursor() as cursor:
        cursor.execute(RESPONSE_SQL, {"start": period.start, "end": period.end})
        median, answered = cursor.fetchone()
    unanswered = Conversation.objects.filter(waiting_since__gte=period.start,
                                             waiting_since__lt=period.end).count()
    return ResponseTimes(median_seconds=median, answered=answered, unanswered=unanswered)


@dataclass(frozen=True)
class Dashboard:
    period: Period
    traffic: Traffic
    optouts: OptOutFigures
    responses: ResponseTimes


def dashboard_get(*, period: Period) -> Dashboard:
    return Dashboard(period=period, traffic=dashboard_traffic(period=period),
                     optouts=dashboard_optouts(period=period),
                     responses=dashboard_response_times(period=period))
