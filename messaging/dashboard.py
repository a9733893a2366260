"""Reads for the tenant dashboard: traffic per day and per hour, delivery rate, opt-out
rate and the staff's median time to first response, over the last days in the tenant's
timezone.

Each figure is aggregated in PostgreSQL (five queries, whatever the number of messages);
Python only lays out the few rows that come back. Traffic and delivery come from the
rollup counted as messages come and go (``messaging.traffic``), never from the messages.
Response times read only the replies that ended a customer's wait, recorded as they were
sent (``messaging.response_waits``), through their partial index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from messaging.models import Conversation
from optout.models import ConsentEvent

# The periods the page offers, in days.
PERIOD_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30


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


# The period's quarter hours of the rollup (96 rows a day at most), in three groupings:
# per local day, per local hour of the day, and the whole period (zeros when it holds
# none). GROUPING() tells the rows apart. {local} is the local time of the quarter hour
# (``_local_time_sql``): a quarter hour lies within one local hour in every zone.
TRAFFIC_SQL = """
SELECT GROUPING(day, hour) AS grouping, day, hour, coalesce(sum(inbound), 0)::int,
       coalesce(sum(outbound), 0)::int, coalesce(sum(delivered), 0)::int,
       coalesce(sum(not_delivered), 0)::int
FROM (SELECT ({local})::date AS day, extract(hour FROM {local})::int AS hour,
             inbound, outbound, delivered, not_delivered
      FROM messaging_trafficcount
      WHERE period_start >= %(start)s AND period_start < %(end)s) AS labelled
GROUP BY GROUPING SETS ((day), (hour), ())
"""
BY_DAY = 0b01  # hour rolled up
BY_HOUR = 0b10  # day rolled up


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
    """``period_start`` in the tenant's local time, by the offsets Python's zone rules
    give: the database's own time zone data may be older, or lack the zone."""
    spans = _utc_offsets(period)
    params = {f"offset_{index}": delta for index, (_, delta) in enumerate(spans)}
    params |= {f"change_{index}": at for index, (at, _) in enumerate(spans) if index}
    if len(spans) == 1:
        offset = "%(offset_0)s"
    else:
        cases = " ".join(f"WHEN period_start < %(change_{index})s THEN %(offset_{index - 1})s"
                         for index in range(1, len(spans)))
        offset = f"CASE {cases} ELSE %(offset_{len(spans) - 1})s END"
    return f"(period_start AT TIME ZONE 'UTC') + {offset}", params


def dashboard_traffic(*, period: Period) -> Traffic:
    """The period's traffic from the rollup (``messaging.traffic``), never from the
    messages: one statement over at most 96 rows a day."""
    per_day = {day: (0, 0) for day in period.day_list()}
    hours = [0] * 24
    totals = (0, 0, 0, 0)
    local, params = _local_time_sql(period)
    with connection.cursor() as cursor:
        cursor.execute(TRAFFIC_SQL.format(local=local),
                       {"start": period.start, "end": period.end, **params})
        for grouping, day, hour, *figures in cursor.fetchall():
            if grouping == BY_DAY:
                # A zone that turns its clocks back at midnight repeats the last hour of
                # the day before the first: not shown.
                if day in per_day:
                    per_day[day] = (figures[0], figures[1])
            elif grouping == BY_HOUR:
                hours[hour] = figures[0]
            else:
                totals = tuple(figures)
    _, outbound, delivered, not_delivered = totals
    return Traffic(days=[DayTraffic(day, inbound, outbound)
                         for day, (inbound, outbound) in per_day.items()],
                   hours=hours, delivered=delivered, not_delivered=not_delivered,
                   pending=outbound - delivered - not_delivered)


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
