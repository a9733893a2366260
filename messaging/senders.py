"""Senders: a tenant registers them, the operator reviews them, approval routes them."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context

from core.errors import DomainError, ForbiddenError
from core.phones import address_normalize, inbound_address, phone_country
from messaging import error_codes
from messaging.models import Sender
from tenants.connections import connection_get_active
from tenants.models import ProviderConnection, SenderRoute, Tenant
from tenants.status import tenant_state


def sender_register(*, address: str, kind: str, connection: str) -> Sender:
    """Register a sender in the current tenant's schema; it waits for the operator's review."""
    if kind not in Sender.Kind.values:
        raise DomainError(error_codes.INVALID_KIND,
                             f"kind must be one of {', '.join(Sender.Kind.values)}.", "kind")
    address = address_normalize(address, kind=kind)
    provider = connection_get_active(connection or "")
    if provider is None:
        raise DomainError(error_codes.UNKNOWN_CONNECTION,
                             f"There is no active connection named {connection!r}.",
                             "connection")
    state = tenant_state(db_connection.schema_name)
    if state is not None and state.max_senders is not None and (
            Sender.objects.count() >= state.max_senders):
        raise ForbiddenError(error_codes.SENDER_LIMIT_REACHED,
                             f"Your plan allows {state.max_senders} sender(s); remove one or "
                             "ask your operator for a larger plan.", "address")
    rate_limit = (None if provider.kind == ProviderConnection.Kind.SIMULATOR
                  else Sender.DEFAULT_RATE[kind])
    try:
        with transaction.atomic():
            return Sender.objects.create(
                address=address, kind=kind, connection=provider.name, rate_limit=rate_limit,
                country=phone_country(address) if address.startswith("+") else "",
            )
    except IntegrityError:
        raise DomainError(error_codes.SENDER_EXISTS,
                             f"{address} is already registered.", "address") from None


def sender_review(*, tenant: Tenant, address: str, decision: str, reason: str = "") -> Sender:
    """Approve, reject or suspend a tenant's sender, and route or unroute its address.

    Runs in one transaction across the tenant's schema and the public routing table, with
    the sender row locked, so a concurrent review of the same address cannot leave a route
    without an approved sender (or the reverse). An address is routed to one tenant only.
    """
    statuses = {"approve": Sender.Status.APPROVED, "reject": Sender.Status.REJECTED,
                "suspend": Sender.Status.SUSPENDED}
    address = inbound_address(address)
    with transaction.atomic(), schema_context(tenant.schema_name):
        sender = Sender.objects.select_for_update().filter(address=address).first()
        if sender is None:
            raise DomainError(error_codes.UNKNOWN_SENDER,
                                 f"{tenant.slug} has no sender {address!r}.", "address")
        sender.status = statuses[decision]
        sender.review_reason = reason
        sender.reviewed_at = timezone.now()
        sender.save(update_fields=["status", "review_reason", "reviewed_at"])
        if decision == "approve":
            owner = SenderRoute.objects.filter(address=address).exclude(tenant=tenant).first()
            if owner is not None:
                raise DomainError(
                    error_codes.ADDRESS_TAKEN,
                    f"{address} is already approved for tenant {owner.tenant.slug}.", "address",
                )
            provider = ProviderConnection.objects.get(name=sender.connection)
            SenderRoute.objects.update_or_create(
                address=address,
                defaults={"tenant": tenant, "sender_id": sender.pk, "connection": provider},
            )
        else:
            SenderRoute.objects.filter(address=address, tenant=tenant).delete()
    return sender


def sender_list() -> QuerySet[Sender]:
    return Sender.objects.order_by("address")
