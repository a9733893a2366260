"""The dashboard's traffic rollup (``TrafficCount``): messages per UTC quarter hour, in and
out, and how many outbound ones ended delivered or not (docs/ARCHITECTURE.md#metering).

A message is counted at the steps that happen to it once, in the transaction of that step,
as the usage counters are: an inbound message when its processing moves it from
``received`` to ``processed``; an outbound one when it is stored to be sent; its outcome
when the conditional UPDATE that moves it into ``delivered``, ``undelivered`` or
``failed`` returns it (terminal statuses are never left, so a repeated or late callback
moves nothing and counts nothing). Each step adds its counts with one ``INSERT ... ON
CONFLICT DO UPDATE``, rows in key order, so two batches never wait for each other in a
cycle. Erasing messages takes their counts back, so the figures stay those of the
messages the tenant holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from core.shared_rows import Statement, shared_rows_add
from messaging.models import Message, TrafficCount

QUARTER_SECONDS = 900

INBOUND, OUTBOUND, DELIVERED, NOT_DELIVERED = "inbound", "outbound", "delivered", "not_delivered"
FIGURES = (INBOUND, OUTBOUND, DELIVERED, NOT_DELIVERED)
_FIGURE_INDEX = {figure: index for index, figure in enumerate(FIGURES)}
# The outbound statuses whose move is counted, and the figure each adds to.
OUTCOMES = {Message.Status.DELIVERED: DELIVERED, Message.Status.UNDELIVERED: NOT_DELIVERED,
            Message.Status.FAILED: NOT_DELIVERED}


def figures_of(*, direction: str, status: str) -> list[str]:
    """The figures a message with this direction and status has been counted in."""
    if direction == Message.Direction.INBOUND:
        return [] if status == Message.Status.RECEIVED else [INBOUND]
    return [OUTBOUND, *([OUTCOMES[status]] if status in OUTCOMES else [])]


def traffic_count(*, counts: Iterable[tuple[datetime, str]], by: int = 1) -> None:
    """Add ``by`` (-1 takes back) to a figure per ``(created_at, figure)`` pair, with one
    statement in the current schema.

    Precondition: inside the transaction of the step being counted (see the module), last.
    """
    shared_rows_add(traffic_statement(counts=counts, by=by))


def traffic_statement(*, counts: Iterable[tuple[datetime, str]], by: int = 1
                      ) -> Statement | None:
    """``traffic_count``'s statement, for ``core.shared_rows.shared_rows_add`` to run with
    the step's other counts; None when there is nothing to add."""
    if not settings.METERING_ENABLED:
        return None
    # Quarters as integers until the statement: this runs for every batch processed or
    # sent, and a datetime per message was most of its cost.
    totals: dict[int, list[int]] = {}
    for created_at, figure in counts:
        quarter = int(created_at.timestamp()) // QUARTER_SECONDS
        row = totals.get(quarter)
        if row is None:
            row = totals[quarter] = [0] * len(FIGURES)
        row[_FIGURE_INDEX[figure]] += by
    if not totals:
        return None
    numbers = sorted(totals)
    quarters = [datetime.fromtimestamp(number * QUARTER_SECONDS, UTC) for number in numbers]
    table = connection.ops.quote_name(TrafficCount._meta.db_table)
    updates = ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in FIGURES)
    return (f"INSERT INTO {table} AS t (period_start, {', '.join(FIGURES)}) "  # noqa: S608
            "SELECT * FROM unnest(%s::timestamptz[], %s::int[], %s::int[], %s::int[], "
            f"%s::int[]) ON CONFLICT (period_start) DO UPDATE SET {updates}",
            [quarters, *([totals[number][index] for number in numbers]
                         for index in range(len(FIGURES)))])


# Every tenant's counts derived from the messages it holds, by the rules above; run by the
# migration that added the rollup (and by the bench and tests on seeded history).
BACKFILL_SQL = """
DELETE FROM messaging_trafficcount;
INSERT INTO messaging_trafficcount (period_start, inbound, outbound, delivered, not_delivered)
SELECT to_timestamp(floor(extract(epoch FROM created_at) / 900) * 900),
       count(*) FILTER (WHERE direction = 'inbound' AND status <> 'received'),
       count(*) FILTER (WHERE direction = 'outbound'),
       count(*) FILTER (WHERE direction = 'outbound' AND status = 'delivered'),
       count(*) FILTER (WHERE direction = 'outbound' AND status IN ('undelivered', 'failed'))
FROM messaging_message
GROUP BY 1;
"""


def traffic_backfill() -> None:
    """Recount the current schema's rollup from its messages, replacing what it held.

    Precondition: nothing counts meanwhile (a migration, a seeded bench or test): a step
    counted between the two statements would be lost or counted twice.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BACKFILL_SQL)
