"""Planner statistics for tables a bulk load has just grown.

PostgreSQL plans a query from what it last measured of each table, and keeps some plans
for the life of a connection: the foreign-key checks of every insert among them. A new
tenant's tables are empty when first measured; a campaign then adds 100,000 messages and
conversations in a minute, before autovacuum measures them again, and each check of a
message's conversation ran the scan planned for an empty table: a campaign's chunks took
1, 2, 3 ... 9 s instead of 0.4 s, and held the sends waiting on the rows they had taken
(docs/ARCHITECTURE.md#measured-constraints). ``ANALYZE`` measures a table and makes every
connection plan its queries on it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def statistics_refresh(*, models: Sequence[type[Model]], rows_at_least: int) -> list[str]:
    """``ANALYZE`` each table of ``models`` (in the current schema) that PostgreSQL last
    measured at fewer than half of ``rows_at_least``, the rows the caller knows it holds;
    return the tables analyzed. Call outside a long transaction: ``ANALYZE`` reads a sample
    of the table, and takes no lock that writers wait for."""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[]) "
                       "AND greatest(reltuples, 0) * 2 < %s", [tables, rows_at_least])
        stale = sorted(name for (name,) in cursor.fetchall())
        for table in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return stale
