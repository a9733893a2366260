"""Deleting old rows in batches, for the retention tasks."""

from __future__ import annotations

from django.db.models import QuerySet

BATCH = 1000


def delete_in_batches(rows: QuerySet) -> int:
    """Delete ``rows`` (cascading as Django does) a thousand at a time, and return how
    many of the queryset's own model went: one delete collects every row it cascades to
    in memory, so an unbounded one could exhaust it. Each batch starts after the last
    one's highest id, so a long backlog is walked once along the primary key rather than
    scanned again from its start past the dead rows of earlier batches."""
    label = rows.model._meta.label
    deleted, after = 0, 0
    while batch := list(rows.filter(pk__gt=after).order_by("pk")
                        .values_list("pk", flat=True)[:BATCH]):
        deleted += rows.model.objects.filter(pk__in=batch).delete()[1].get(label, 0)
        after = batch[-1]
    return deleted
