"""What the operator console reads: tenants with their senders, connections with their
health, queue depths (docs/ARCHITECTURE.md#operator-console)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name, schema_context

from messaging.models import Sender
from smpp.queue import keys as smpp_queue_keys
from tenants.connection_health import Health, bind_states, connections_health, queue_lengths
from tenants.models import ProviderConnection, Tenant

logger = logging.getLogger(__name__)

STATUS_ORDER = {Sender.Status.PENDING: 0, Sender.Status.APPROVED: 1,
                Sender.Status.SUSPENDED: 2, Sender.Status.REJECTED: 3}


def customer_tenants() -> QuerySet[Tenant]:
    """Every tenant but the internal ones: the public schema and the template are never
    listed, reviewed or counted."""
    return (Tenant.objects.filter(is_template=False)
            .exclude(schema_name__in=[get_public_schema_name(), settings.TENANT_BASE_SCHEMA]))


@dataclass(frozen=True)
class TenantSender:
    tenant: Tenant
    sender: Sender


def tenant_sender_list(*, status: str | None = None,
                       tenant: Tenant | None = None) -> list[TenantSender]:
    """Customer tenants' senders (one tenant's, given one), pending first: one query per
    tenant, fine while tenants number in the hundreds."""
    rows = []
    for each in [tenant] if tenant is not None else customer_tenants():
        with schema_context(each.schema_name):
            senders = Sender.objects.all()
            if status:
                senders = senders.filter(status=status)
            rows += [TenantSender(each, sender) for sender in senders]
    rows.sort(key=lambda row: (STATUS_ORDER.get(row.sender.status, 9), row.tenant.slug,
                               row.sender.address))
    return rows


@dataclass(frozen=True)
class TenantRow:
    tenant: Tenant
    senders: int
    pending: int


def tenant_rows() -> list[TenantRow]:
    """Customer tenants with their number of senders and of senders awaiting review."""
    rows = []
    for tenant in customer_tenants():
        with schema_context(tenant.schema_name):
            statuses = list(Sender.objects.values_list("status", flat=True))
        rows.append(TenantRow(tenant=tenant, senders=len(statuses),
                              pending=statuses.count(Sender.Status.PENDING)))
    return rows


@dataclass(frozen=True)
class ConnectionRow:
    connection: ProviderConnection
    health: Health | None
    # SMPP only: whether the connector holds the bind, and the jobs waiting for it.
    bound: bool | None = None
    waiting: int | None = None


def connection_rows(connections: list[ProviderConnection] | None = None) -> list[ConnectionRow]:
    """Connections with their breaker, last hour's error rate and last error; SMPP ones
    with their bind state and hand-over queue."""
    connections = list(ProviderConnection.objects.all()) if connections is None else connections
    names = [c.name for c in connections]
    health = connections_health(names)
    smpp = [c.name for c in connections if c.kind == ProviderConnection.Kind.SMPP]
    bound = bind_states(smpp)
    waiting = queue_lengths([smpp_queue_keys(name)[1] for name in smpp])
    return [ConnectionRow(
        connection=c, health=health.get(c.name),
        bound=bound.get(c.name) if c.name in bound else None,
        waiting=waiting.get(smpp_queue_keys(c.name)[1]) if c.name in bound else None)
        for c in connections]


def broker_queue_depths() -> dict[str, int | None]:
    """Tasks waiting in each of the workers' queues (None when the broker cannot say)."""
    depths: dict[str, int | None] = {}
    try:
        with current_app.connection_for_read() as connection:
            channel = connection.default_channel
            for queue in settings.WORKER_QUEUES:
                try:
                    depths[queue] = channel.queue_declare(queue=queue,
                                                          passive=True).message_count
                except Exception:  # a queue nothing was ever sent to does not exist yet
                    depths[queue] = 0
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable: queue depths unknown", exc_info=True)
        return dict.fromkeys(settings.WORKER_QUEUES)
    return depths
