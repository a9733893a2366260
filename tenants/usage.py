"""Usage metering: counters of messages and segments (docs/ARCHITECTURE.md#metering).

The pipelines count a message at the one step that happens to it once: the processing
transaction that moves an inbound message from ``received`` to ``processed``, and the
conditional UPDATE that records an outbound message as accepted by the provider. Each
batch adds its counts with one ``INSERT ... ON CONFLICT DO UPDATE`` in that same
transaction, so a retried webhook, a redelivered task or a retried send counts nothing
twice, and a rolled-back step counts nothing. Counters live in the public schema: the
operator's export reads every tenant's with one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db.models import Sum

from core.phones import phone_country
from core.shared_rows import Statement, shared_rows_add
from tenants.models import UsageCounter

# Digits of the customer's number kept per counter: enough for the operator's price
# prefixes (country code and network or area), few enough that a day's rows stay few.
PREFIX_DIGITS = 6


@dataclass(frozen=True)
class Metered:
    """One message to count: its UTC day, direction, our sender's address, the connection,
    the customer's number and its segments."""

    day: date
    direction: str
    sender: str
    connection: str
    customer: str
    segments: int


def _destination(number: str) -> tuple[str, str]:
    """(country, first digits) of a customer's number; empty for a short code or a
    sender ID, which belong to no numbering plan."""
    if not number.startswith("+"):
        return "", ""
    return _country(number), number[1:1 + PREFIX_DIGITS]


_countries: dict[tuple[str, int], str] = {}


def _country(number: str) -> str:
    """The country of an international ``number``, looked up once per process for each
    block of numbers (its first digits and its length): a block of a numbering plan
    belongs to one country (a US area code, a Crown Dependency's range of +44), and
    parsing every new customer's number cost a quarter of processing their texts."""
    block = (number[:1 + PREFIX_DIGITS], len(number))
    country = _countries.get(block)
    if country is None:
        try:
            country = phone_country(number)
        except Exception:  # phonenumbers raises NumberParseException; a stored number parses
            country = ""
        if len(_countries) < 65536:
            _countries[block] = country
    return country


def usage_count(*, tenant_id: int, messages: Iterable[Metered]) -> None:
    """Add ``messages`` to the tenant's counters with one statement.

    Precondition: inside the transaction of the step being counted (see the module), last.
    Rows are written in key order, so two batches never wait for each other in a cycle.
    """
    shared_rows_add(usage_statement(tenant_id=tenant_id, messages=messages))


def usage_statement(*, tenant_id: int, messages: Iterable[Metered]) -> Statement | None:
    """``usage_count``'s statement, for ``core.shared_rows.shared_rows_add`` to run with
    the step's other counts; None when there is nothing to add."""
    if not settings.METERING_ENABLED:
        return None
    totals: dict[tuple, list[int]] = {}
    for message in messages:
        country, prefix = _destination(message.customer)
        key = (message.day, message.direction, message.sender, message.connection, country,
               prefix)
        counts = totals.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += message.segments
    if not totals:
        return None
    keys = sorted(totals)
    columns = list(zip(*keys, strict=True))
    table = UsageCounter._meta.db_table
    return (f"INSERT INTO public.{table} (tenant_id, day, direction, sender, "  # noqa: S608
            "connection, country, prefix, messages, segments) "
            "SELECT %s, * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], "
            "%s::text[], %s::text[], %s::bigint[], %s::bigint[]) "
            "ON CONFLICT (tenant_id, day, direction, sender, connection, country, prefix) "
            f"DO UPDATE SET messages = {table}.messages + EXCLUDED.messages, "
            f"segments = {table}.segments + EXCLUDED.segments",
            [tenant_id, *[list(column) for column in columns],
             [totals[key][0] for key in keys], [totals[key][1] for key in keys]])


def usage_daily(*, tenant_id: int, start: date, end: date) -> list[dict]:
    """The tenant's messages and segments per day and direction, ``start`` to ``end``
    inclusive, oldest first."""
    return list(UsageCounter.objects.filter(tenant_id=tenant_id, day__gte=start, day__lte=end)
                .values("day", "direction").annotate(messages=Sum("messages"),
                                                     segments=Sum("segments"))
                .order_by("day", "direction"))


def usage_month_by_tenant(*, month: date) -> dict[tuple[int, str], dict[str, int]]:
    """Every tenant's messages and segments in ``month`` (its first day), by
    ``(tenant id, direction)``."""
    end = month_end(month)
    rows = (UsageCounter.objects.filter(day__gte=month, day__lte=end)
            .values("tenant_id", "direction")
            .annotate(messages=Sum("messages"), segments=Sum("segments")))
    return {(row["tenant_id"], row["direction"]): {"messages": row["messages"],
                                                   "segments": row["segments"]}
            for row in rows}


def month_end(month: date) -> date:
    following = (month.replace(year=month.year + 1, month=1) if month.month == 12
                 else month.replace(month=month.month + 1))
    return date.fromordinal(following.toordinal() - 1)
