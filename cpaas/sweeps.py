"""The periodic sweeps, run in every tenant: the only place that knows every app's sweep.

Each app owns the safety net of its own work (``messaging_sweep``, ``events_sweep``,
``optout_sweep``, ``campaigns_sweep``, ``compat_sweep``): work is committed before its task
is enqueued, so a
broker outage or a killed worker leaves rows that a sweep hands back to their tasks. See
docs/ARCHITECTURE.md#the-sweeper.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.sweep import campaigns_sweep
from compat.sweeps import compat_prune, compat_sweep
from events.actions import events_prune, events_sweep
from messaging.forwarding import forwards_prune
from messaging.sweeper import messaging_sweep
from optout.imports import optout_sweep
from tenants.models import Tenant


def _tenant_schemas() -> list[str]:
    return list(Tenant.objects.filter(is_template=False).exclude(schema_name="public")
                .values_list("schema_name", flat=True))


def tenants_sweep() -> int:
    """Re-enqueue stale work in every tenant; return how many tasks were enqueued."""
    found = 0
    for schema in _tenant_schemas():
        with schema_context(schema):
            found += tenant_sweep(schema=schema)
    return found


def tenant_sweep(*, schema: str) -> int:
    """Every app's sweep in the current tenant (``schema``); return how many were found."""
    now = timezone.now()
    # Long enough that a task enqueued normally has run; short enough that a customer
    # barely notices a lost one.
    stale_before = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    return (messaging_sweep(schema=schema, now=now, stale_before=stale_before)
            + events_sweep(schema=schema, stale_before=stale_before)
            + optout_sweep(schema=schema, stale_before=stale_before)
            + campaigns_sweep(schema=schema, now=now, stale_before=stale_before)
            + compat_sweep(schema=schema, stale_before=stale_before))


def delivery_logs_prune() -> int:
    """In every tenant, delete event-webhook events, message forwards and the Twilio
    dialect's callbacks and SmsUrl calls that are over and older than
    ``DELIVERY_LOG_RETENTION_DAYS``, with their attempt logs; return how many. The
    messages themselves stay: they are the conversations."""
    before = timezone.now() - timedelta(days=settings.DELIVERY_LOG_RETENTION_DAYS)
    deleted = 0
    for schema in _tenant_schemas():
        with schema_context(schema):
            deleted += (events_prune(before=before) + forwards_prune(before=before)
                        + compat_prune(before=before))
    return deleted
