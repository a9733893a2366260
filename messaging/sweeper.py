"""The safety net of both pipelines: find messaging work that a lost task left behind.

A message is committed before its task is enqueued, so a broker outage or a killed worker
leaves rows in ``received``, ``queued`` or ``sending`` (and forwards ``pending``); the sweep
hands them back to their tasks, whose idempotence makes a second run harmless. It also
forgets concatenated-SMS parts old enough that no provider will retry them, and API answers
kept for ``Idempotency-Key`` retries past their 24 hours. ``cpaas.sweeps`` runs it in every
tenant, beside the other apps' sweeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from messaging.api.idempotency import idempotent_requests_purge
from messaging.forwarding import forwards_sweep
from messaging.inbound import message_enqueue
from messaging.models import InboundPart, Message
from messaging.outbound import messages_enqueue, send_stuck_after

# Providers retry a part within minutes; a part older than this is a retry nobody will
# send again, or a message whose other parts never came.
PART_TTL = timedelta(days=1)


def messaging_sweep(*, schema: str, now: datetime, stale_before: datetime) -> int:
    """Re-enqueue the current tenant's messages and forwards whose task is overdue, and
    return how many; drop expired SMS parts and idempotency records on the way."""
    inbound = list(Message.objects.filter(
        status=Message.Status.RECEIVED, updated_at__lt=stale_before).values_list("pk", flat=True))
    for message_id in inbound:
        message_enqueue(message_id, schema=schema)
    outbound = list(Message.objects.filter(
        Q(status=Message.Status.QUEUED, updated_at__lt=stale_before)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale_before))
        | Q(status=Message.Status.SENDING, sending_at__lt=now - send_stuck_after())
    ).values_list("pk", flat=True))
    messages_enqueue(outbound, schema=schema)
    forwards = forwards_sweep(schema=schema, stale_before=stale_before)
    InboundPart.objects.filter(created_at__lt=now - PART_TTL).delete()
    idempotent_requests_purge()
    return len(inbound) + len(outbound) + forwards
