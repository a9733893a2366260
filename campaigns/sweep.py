"""The subscription lists' part of the periodic sweep (``cpaas.sweeps``)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from campaigns.imports import list_import_enqueue, list_imports_sweep
from campaigns.lists import pending_expire
from campaigns.sending import campaign_send_enqueue, campaigns_advance


def campaigns_sweep(*, schema: str, now: datetime, stale_before: datetime) -> int:
    """Re-enqueue imports whose task was lost, and drop members who never confirmed;
    start scheduled campaigns now due, end what waits in expired ones, complete those with
    nothing left to send, and re-enqueue a campaign's task that was lost. Returns how many
    tasks were enqueued."""
    with transaction.atomic():
        pending_expire(now=now)
    due = list_imports_sweep(stale_before=stale_before)
    for import_id in due:
        list_import_enqueue(import_id, schema=schema)
    campaigns = campaigns_advance(now=now, stale_before=stale_before)
    for campaign_id in campaigns:
        campaign_send_enqueue(campaign_id, schema=schema)
    return len(due) + len(campaigns)
