"""The safety net of both pipelines: find messages that a lost task left behind.

A message is committed before its task is enqueued, so a broker outage or a killed worker
leaves rows in ``received``, ``queued`` or ``sending`` (and forwards and event-webhook
deliveries ``pending``); the sweep hands them back to their tasks, whose idempotence makes
a second run harmless. It also forgets concatenated-SMS parts old enough that no provider
will retry them.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from events.actions import deliveries_sweep, events_prune
from messaging.api.idempotency import idempotent_requests_purge
from messaging.forwarding import forwards_prune, forwards_sweep
from messaging.inbound import message_enqueue
from messaging.models import InboundPart, Message
from messaging.outbound import messages_enqueue, send_stuck_after
from optout.imports import imports_sweep
from tenants.models import Tenant


def delivery_logs_prune() -> int:
    """In every tenant, delete event-webhook events and message forwards that are over
    and older than ``DELIVERY_LOG_RETENTION_DAYS``, with their attempt logs; return how
    many. The messages themselves stay: they are the conversations."""
    before = timezone.now() - timedelta(days=settings.DELIVERY_LOG_RETENTION_DAYS)
    deleted = 0
    for schema in _tenant_schemas():
        with schema_context(schema):
            deleted += events_prune(before=before) + forwards_prune(before=before)
    return deleted


def _tenant_schemas() -> list[str]:
    return list(Tenant.objects.filter(is_template=False).exclude(schema_name="public")
                .values_list("schema_name", flat=True))


def messages_sweep() -> int:
    """Re-enqueue stale messages in every tenant; return how many."""
    found = 0
    for schema in _tenant_schemas():
        with schema_context(schema):
            found += tenant_messages_sweep(schema=schema)
    return found


def tenant_messages_sweep(*, schema: str) -> int:
    now = timezone.now()
    # Long enough that a task enqueued normally has run; short enough that a customer
    # barely notices a lost one.
    stale = now - timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    inbound = list(Message.objects.filter(
        status=Message.Status.RECEIVED, updated_at__lt=stale).values_list("pk", flat=True))
    for message_id in inbound:
        message_enqueue(message_id, schema=schema)
    outbound = list(Message.objects.filter(
        Q(status=Message.Status.QUEUED, updated_at__lt=stale)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale))
        | Q(status=Message.Status.SENDING, sending_at__lt=now - send_stuck_after())
    ).values_list("pk", flat=True))
    messages_enqueue(outbound, schema=schema)
    forwards = forwards_sweep(schema=schema, stale_before=stale)
    deliveries = deliveries_sweep(schema=schema, stale_before=stale)
    imports = imports_sweep(schema=schema, stale_before=stale)
    _parts_expire(now=now)
    return len(inbound) + len(outbound) + forwards + deliveries + imports
    idempotent_requests_purge()
    return len(inbound) + len(outbound) + forwards + imports


# Providers retry a part within minutes; a part older than this is a retry nobody will
# send again, or a message whose other parts never came.
PART_TTL = timedelta(days=1)


def _parts_expire(*, now) -> None:
    InboundPart.objects.filter(created_at__lt=now - PART_TTL).delete()
