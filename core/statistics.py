"""Planner statistics for tables that grow faster than autovacuum measures them.

PostgreSQL plans a query from what it last measured of each table, and keeps some plans
for the life of a connection: the foreign-key checks of every insert among them. A new
tenant's tables are empty when first measured (or never measured); a campaign then adds
100,000 messages and conversations within a minute, before autovacuum (when it runs at
all) measures them again, and each check of a message's conversation ran the scan planned
for an empty table: a campaign's chunks took 1, 2, 3 ... 9 s instead of 0.4 s and held
the sends waiting on the rows they had taken. Unmeasured, the contacts of a burst of
customers' texts were looked up with a scan of the whole table per batch
(docs/ARCHITECTURE.md#measured-constraints). ``ANALYZE`` measures a table, and every
connection then plans its queries on it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import DatabaseError, connection, transaction
from django.db.models import Model

logger = logging.getLogger(__name__)

# A table this small is scanned about as fast as it is looked up by an index.
MIN_PAGES = 8


def statistics_refresh(*, models: Sequence[type[Model]]) -> list[str]:
    """``ANALYZE`` each table of ``models`` (in the current schema) that has grown on disk
    past twice its size when PostgreSQL last measured it, and ``MIN_PAGES``; return the
    tables analyzed. The check is one catalog query; a table is measured again each time
    it doubles. ``ANALYZE`` reads a sample of the table, takes no lock that writers wait
    for, and skips a table autovacuum is measuring. Best effort: the callers' work is
    done, so a failure (a statement timeout, say) is logged and rolled back on its own."""
    tables = [model._meta.db_table for model in models]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[]) "
                "AND pg_relation_size(oid) > (2 * relpages + %s) "
                "* current_setting('block_size')::bigint", [tables, MIN_PAGES])
            grown = sorted(name for (name,) in cursor.fetchall())
            for table in grown:
                cursor.execute(f"ANALYZE (SKIP_LOCKED) {connection.ops.quote_name(table)}")
    except DatabaseError:
        logger.warning("could not measure %s; left to autovacuum", ", ".join(tables),
                       exc_info=True)
        return []
    return grown
