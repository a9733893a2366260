"""Foreign keys checked before a transaction takes a row every worker writes.

Django creates foreign keys ``DEFERRABLE INITIALLY DEFERRED``, so PostgreSQL checks the
keys of a transaction's inserts at its ``COMMIT``. A transaction that stores thousands of
messages (a campaign's chunk) spends a second or more in that ``COMMIT``, and a row it
locked just before, such as a rollup counter every batch adds to, stays locked meanwhile:
every worker's next batch waited for it, and a customer's STOP was answered seconds late
while a campaign was being stored (docs/ARCHITECTURE.md#metering). ``CHECKS_NOW``,
prefixed to the statement that takes such a row, runs the pending checks first and defers
the later ones again; it costs no round trip (the statements go in one message).
"""

CHECKS_NOW = "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED; "
