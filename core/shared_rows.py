"""Adding to rows that every batch of a tenant shares: the usage counters and the
dashboard's rollup (docs/ARCHITECTURE.md#metering).

Such a row is locked from the upsert to the commit, so both run last in the transaction
of the step being counted, and together. Django creates foreign keys ``DEFERRABLE
INITIALLY DEFERRED``, so PostgreSQL checks the keys of a transaction's inserts at its
``COMMIT``: a transaction that stores thousands of messages (a campaign's chunk) spent a
second or more there while holding the rollup's row, and every worker's next batch waited
for it (a customer's STOP was answered seconds late while a campaign was being stored).
``shared_rows_add`` runs the pending checks first (``CHECKS_NOW``), then the upserts, in
one message: one round trip for all of them.
"""

from __future__ import annotations

from django.db import connection

# A statement and its parameters.
Statement = tuple[str, list]

CHECKS_NOW = "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED; "


def shared_rows_add(*statements: Statement | None) -> None:
    """Run ``statements`` (``None`` for nothing to add) after the current transaction's
    pending foreign-key checks, in one round trip.

    Precondition: last in the transaction of the step being counted, so a rolled-back step
    counts nothing and the rows are held only while it commits."""
    chosen = [statement for statement in statements if statement is not None]
    if not chosen:
        return
    with connection.cursor() as cursor:
        cursor.execute(CHECKS_NOW + "; ".join(sql for sql, _ in chosen),
                       [param for _, params in chosen for param in params])
