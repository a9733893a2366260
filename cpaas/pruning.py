"""Deleting old rows in batches, for the retention tasks."""

from __future__ import annotations

from django.db.models import QuerySet

BATCH = 1000


def delete_in_batches(rows: QuerySet) -> int:
    """Delete ``rows`` (cascading as Django does) a thousand at a time, and return how
    many of the queryset's own model went: one delete collects every row it cascades to
    in memory, so an unbounded one could exhaust it."""
    label = rows.model._meta.label
    rows = rows.order_by()
    deleted = 0
    while batch := list(rows.values_list("pk", flat=True)[:BATCH]):
        deleted += rows.model.objects.filter(pk__in=batch).delete()[1].get(label, 0)
    return deleted
