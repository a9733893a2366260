"""The dialects' share of the periodic sweep and of the log pruning (called per tenant by
``cpaas.sweeps``)."""

from __future__ import annotations

from datetime import datetime

from compat.camara.notifications import camara_prune, camara_sweep
from compat.twilio.callbacks import callbacks_prune, callbacks_sweep
from compat.twilio.webhooks import webhooks_prune, webhooks_sweep


def compat_sweep(*, schema: str, now: datetime, stale_before: datetime) -> int:
    """Re-enqueue the status callbacks, SmsUrl calls and CAMARA notifications whose task
    was lost, and end the CAMARA subscriptions whose expiry time has passed."""
    return (callbacks_sweep(schema=schema, stale_before=stale_before)
            + webhooks_sweep(schema=schema, stale_before=stale_before)
            + camara_sweep(schema=schema, now=now, stale_before=stale_before))


def compat_prune(*, before: datetime) -> int:
    """Delete finished status callbacks, SmsUrl calls and CAMARA notifications older than
    ``before``."""
    return (callbacks_prune(before=before) + webhooks_prune(before=before)
            + camara_prune(before=before))
