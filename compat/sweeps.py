"""The dialects' share of the periodic sweep and of the log pruning (called per tenant by
``cpaas.sweeps``)."""

from __future__ import annotations

from datetime import datetime

from compat.twilio.callbacks import callbacks_prune, callbacks_sweep
from compat.twilio.webhooks import webhooks_prune, webhooks_sweep


def compat_sweep(*, schema: str, stale_before: datetime) -> int:
    """Re-enqueue the status callbacks and SmsUrl calls whose task was lost."""
    return (callbacks_sweep(schema=schema, stale_before=stale_before)
            + webhooks_sweep(schema=schema, stale_before=stale_before))


def compat_prune(*, before: datetime) -> int:
    """Delete finished status callbacks and SmsUrl calls older than ``before``."""
    return callbacks_prune(before=before) + webhooks_prune(before=before)
