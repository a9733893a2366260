"""The operator's price table and the monthly billing export
(docs/ARCHITECTURE.md#metering).

Counters keep the first digits of each customer's number, so the export prices them by the
longest price-table prefix those digits start with, the way an operator prices by
destination (a country code, a mobile network's range).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Sum

from core.spreadsheets import cell_defuse
from tenants import error_codes
from tenants.models import Price, UsageCounter
from tenants.usage import PREFIX_DIGITS, month_end

PREFIX_PATTERN = re.compile(rf"^[1-9][0-9]{{0,{PREFIX_DIGITS - 1}}}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
MAX_PRICE = Decimal("1000")


def price_set(*, prefix: str, price_per_segment: str, currency: str = "USD") -> Price:
    """Add or change the price per segment for numbers starting with ``prefix`` (digits
    after the plus). Raises ``ValidationError`` keyed by field, changing nothing."""
    errors: dict[str, ValidationError] = {}
    prefix = (prefix or "").strip().lstrip("+")
    if not PREFIX_PATTERN.match(prefix):
        errors["prefix"] = ValidationError(
            f"A prefix is 1 to {PREFIX_DIGITS} digits of an international number, without "
            "the plus (1, 44, 4477).", code=error_codes.INVALID_PRICE)
    try:
        price = Decimal(str(price_per_segment).strip())
        if not price.is_finite() or not Decimal(0) <= price <= MAX_PRICE or (
                price.as_tuple().exponent < -6):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["price_per_segment"] = ValidationError(
            f"A price is a number from 0 to {MAX_PRICE} with at most 6 decimals.",
            code=error_codes.INVALID_PRICE)
    currency = (currency or "").strip().upper()
    if not CURRENCY_PATTERN.match(currency):
        errors["currency"] = ValidationError("A currency is three letters (USD, EUR).",
                                             code=error_codes.INVALID_PRICE)
    if errors:
        raise ValidationError(errors)
    row, _ = Price.objects.update_or_create(
        prefix=prefix, defaults={"price_per_segment": price, "currency": currency})
    return row


def price_delete(*, prefix: str) -> bool:
    return Price.objects.filter(prefix=prefix).delete()[0] > 0


def price_for(prefix: str, prices: dict[str, Price]) -> Price | None:
    """The longest price-table prefix that ``prefix`` (a number's first digits) starts
    with."""
    for length in range(len(prefix), 0, -1):
        price = prices.get(prefix[:length])
        if price is not None:
            return price
    return None


def month_parse(value: str) -> date:
    """``YYYY-MM`` as the month's first day; raises ``ValidationError`` on ``month``."""
    match = MONTH_PATTERN.match(value or "")
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise ValidationError({"month": ValidationError(
            "Give the month as YYYY-MM, e.g. 2026-11.", code=error_codes.INVALID_MONTH)})
    return date(int(match[1]), int(match[2]), 1)


@dataclass(frozen=True)
class BillingRow:
    tenant: str
    country: str
    prefix: str
    direction: str
    messages: int
    segments: int
    unit_price: Decimal | None
    currency: str
    amount: Decimal | None


def billing_rows(*, month: date) -> list[BillingRow]:
    """One row per tenant, priced prefix (or the country when no price matches) and
    direction for ``month``: messages, segments, price per segment and amount."""
    prices = {price.prefix: price for price in Price.objects.all()}
    totals: dict[tuple[str, str, str, str], list] = {}
    for row in (UsageCounter.objects.filter(day__gte=month, day__lte=month_end(month))
                .values("tenant__slug", "country", "prefix", "direction")
                .annotate(messages=Sum("messages"), segments=Sum("segments"))):
        price = price_for(row["prefix"], prices)
        key = (row["tenant__slug"], row["country"], price.prefix if price else "",
               row["direction"])
        entry = totals.setdefault(key, [0, 0, price])
        entry[0] += row["messages"]
        entry[1] += row["segments"]
    rows = []
    for (tenant, country, prefix, direction), (messages, segments, price) in sorted(
            totals.items()):
        unit = price.price_per_segment if price else None
        rows.append(BillingRow(
            tenant=tenant, country=country, prefix=prefix, direction=direction,
            messages=messages, segments=segments, unit_price=unit,
            currency=price.currency if price else "",
            amount=(unit * segments).quantize(Decimal("0.000001")) if unit is not None
            else None))
    return rows


CSV_HEADER = ["month", "tenant", "country", "prefix", "direction", "messages", "segments",
              "unit_price", "currency", "amount"]


def billing_csv(*, month: date) -> str:
    """``billing_rows`` as CSV for a finance team's spreadsheet: text cells defused, so a
    cell never runs as a formula. A row without a matching price has empty price cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in billing_rows(month=month):
        writer.writerow([
            f"{month:%Y-%m}", cell_defuse(row.tenant), cell_defuse(row.country),
            cell_defuse(row.prefix), cell_defuse(row.direction), row.messages, row.segments,
            "" if row.unit_price is None else f"{row.unit_price}", cell_defuse(row.currency),
            "" if row.amount is None else f"{row.amount}"])
    return out.getvalue()
