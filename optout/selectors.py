"""Reads of opt-out state. Every send path asks ``optout_blocks`` or ``phones_opted_out``."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from optout.models import ConsentEvent, OptOut


def _scope(sender_address: str) -> Q:
    # A tenant-wide row blocks every sender; a sender's row blocks that sender only.
    return Q(sender_address="") | Q(sender_address=sender_address)


def optout_blocks(*, phone: str, sender_address: str) -> bool:
    return OptOut.objects.filter(_scope(sender_address), phone=phone).exists()


def optout_blocked_pairs(*, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """``optout_blocks`` for many (phone, sender address) pairs in one query: those of
    ``pairs`` that are blocked."""
    if not pairs:
        return set()
    entries = set(OptOut.objects.filter(phone__in={phone for phone, _ in pairs})
                  .values_list("phone", "sender_address"))
    return {(phone, sender) for phone, sender in pairs
            if (phone, "") in entries or (phone, sender) in entries}


def optout_blocks_exists(*, phone: OuterRef,
                         sender_address: OuterRef | str = "") -> Exists:
    """``optout_blocks`` as a column of a query over contacts or conversations; without a
    sender, whether the number opted out of every sender."""
    return Exists(OptOut.objects.filter(_scope(sender_address), phone=phone))


def optout_senders_array(*, phone: OuterRef) -> ArraySubquery:
    """The senders a number opted out of one by one (``scope: sender``), as a column."""
    return ArraySubquery(OptOut.objects.filter(phone=phone).exclude(sender_address="")
                         .order_by("sender_address").values("sender_address"))


def phones_opted_out(*, phones: set[str], sender_address: str) -> set[str]:
    return set(OptOut.objects.filter(_scope(sender_address), phone__in=phones)
               .values_list("phone", flat=True))


def phones_opted_out_anywhere(*, phones: Iterable[str]) -> set[str]:
    """The E.164 numbers among ``phones`` with any opt-out entry, of every sender or of
    one.

    The numbers travel as one text split by PostgreSQL: an import checks 5,000 at a time,
    and one placeholder per number cost more than the query itself."""
    phones = list(phones)
    if not phones:
        return set()
    table = connection.ops.quote_name(OptOut._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT phone FROM {table} "  # noqa: S608
                       "WHERE phone = ANY(string_to_array(%s, E'\\n'))", ["\n".join(phones)])
        return {row[0] for row in cursor.fetchall()}


def optout_list(*, phone: str | None = None) -> QuerySet[OptOut]:
    queryset = OptOut.objects.all()
    if phone:
        queryset = queryset.filter(phone=phone)
    return queryset


def consent_history(*, phone: str) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(phone=phone).select_related("actor", "message")
