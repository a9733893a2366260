"""The safety net of both pipelines: find messaging work that a lost task left behind.

A message is committed before its task is enqueued, so a broker outage or a killed worker
leaves rows in ``received``, ``queued`` or ``sending`` (and forwards ``pending``); the sweep
hands them back to their tasks, whose idempotence makes a second run harmless. It queues
``scheduled`` messages that have fallen due, and never touches one that has not: the
send task sends only ``queued`` rows, and a ``canceled`` message is never queued again. It
also forgets concatenated-SMS parts old enough that no provider will retry them, and API
answers kept for ``Idempotency-Key`` retries past their 24 hours. ``cpaas.sweeps`` runs it
in every tenant, beside the other apps' sweeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from messaging.api.idempotency import idempotent_requests_purge
from messaging.forwarding import forwards_sweep
from messaging.inbound import inbound_drain_enqueue
from messaging.models import InboundPart, Message
from messaging.outbound import messages_enqueue, messages_release_due, send_stuck_after
from messaging.quota import quota_warnings_sweep

# Providers retry a part within minutes; a part older than this is a retry nobody will
# send again, or a message whose other parts never came.
PART_TTL = timedelta(days=1)


def messaging_sweep(*, schema: str, now: datetime, stale_before: datetime) -> int:
    """Re-enqueue the current tenant's messages and forwards whose task is overdue, queue
    the scheduled messages now due, and return how many; drop expired SMS parts and
    idempotency records on the way."""
    inbound = Message.objects.filter(status=Message.Status.RECEIVED,
                                     updated_at__lt=stale_before).count()
    if inbound:
        inbound_drain_enqueue(schema=schema)  # one task takes them all
    due = messages_release_due(now=now)
    messages_enqueue(due, schema=schema)
    outbound = list(Message.objects.filter(
        Q(status=Message.Status.QUEUED, updated_at__lt=stale_before)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale_before))
        | Q(status=Message.Status.SENDING, sending_at__lt=now - send_stuck_after())
    ).values_list("pk", flat=True))
    messages_enqueue(outbound, schema=schema)
    forwards = forwards_sweep(schema=schema, stale_before=stale_before)
    warnings = quota_warnings_sweep(schema=schema, stale_before=stale_before)
    InboundPart.objects.filter(created_at__lt=now - PART_TTL).delete()
    idempotent_requests_purge()
    return inbound + len(due) + len(outbound) + forwards + warnings
