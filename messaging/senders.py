"""Senders: a tenant registers them, the operator reviews them, approval routes them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import QuerySet
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import User
from core.errors import DomainError, ForbiddenError
from core.phones import address_normalize, inbound_address, phone_country
from messaging import error_codes
from messaging.models import Sender
from tenants.connections import connection_get_active
from tenants.models import ProviderConnection, Route, SenderRoute, Tenant, site_url
from tenants.routes import ROUTE_PREFIX, route_name_of
from tenants.status import tenant_state

logger = logging.getLogger(__name__)


def sender_register(*, address: str, kind: str, connection: str) -> Sender:
    """Register a sender in the current tenant's schema; it waits for the operator's review,
    and operator staff are emailed once it is committed.

    ``connection`` names an active connection, or a route as ``route:<name>``
    (docs/ARCHITECTURE.md#routing)."""
    if kind not in Sender.Kind.values:
        raise DomainError(error_codes.INVALID_KIND,
                             f"kind must be one of {', '.join(Sender.Kind.values)}.", "kind")
    address = address_normalize(address, kind=kind)
    route_name = route_name_of(connection or "")
    if route_name is not None:
        route = Route.objects.filter(name=route_name).first()
        if route is None:
            raise DomainError(error_codes.UNKNOWN_CONNECTION,
                              f"There is no route named {route_name!r}.", "connection")
        target, simulated = ROUTE_PREFIX + route.name, False
    else:
        provider = connection_get_active(connection or "")
        if provider is None:
            raise DomainError(error_codes.UNKNOWN_CONNECTION,
                                 f"There is no active connection named {connection!r}.",
                                 "connection")
        target = provider.name
        simulated = provider.kind == ProviderConnection.Kind.SIMULATOR
    state = tenant_state(db_connection.schema_name)
    if state is not None and state.max_senders is not None and (
            Sender.objects.count() >= state.max_senders):
        raise ForbiddenError(error_codes.SENDER_LIMIT_REACHED,
                             f"Your plan allows {state.max_senders} sender(s); remove one or "
                             "ask your operator for a larger plan.", "address")
    rate_limit = None if simulated else Sender.DEFAULT_RATE[kind]
    try:
        with transaction.atomic():
            sender = Sender.objects.create(
                address=address, kind=kind, connection=target, rate_limit=rate_limit,
                country=phone_country(address) if address.startswith("+") else "",
            )
    except IntegrityError:
        raise DomainError(error_codes.SENDER_EXISTS,
                             f"{address} is already registered.", "address") from None
    schema = db_connection.schema_name
    transaction.on_commit(lambda: _review_notify_enqueue(schema=schema, address=address))
    return sender


def _review_notify_enqueue(*, schema: str, address: str) -> None:
    from messaging.tasks import sender_review_notify

    try:
        sender_review_notify.apply_async(kwargs={"address": address},
                                         headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.error("broker unavailable; operators not emailed about %s in %s", address,
                     schema, exc_info=True)


def do_sender_review_notify(*, address: str) -> int:
    """Email the operator's staff that a sender of the current tenant awaits review, if it
    still does; returns how many were emailed. Call in the tenant's schema."""
    sender = Sender.objects.filter(address=address, status=Sender.Status.PENDING).first()
    if sender is None:
        return 0
    tenant = Tenant.objects.get(schema_name=db_connection.schema_name)
    with schema_context(get_public_schema_name()):
        staff = list(User.objects.filter(is_active=True, is_staff=True)
                     .order_by("email").values_list("email", flat=True))
    if not staff:
        return 0
    link = site_url(settings.BASE_DOMAIN, "/operator/senders/?status=pending")
    send_mail(
        subject=f"Sender to review: {sender.address} ({tenant.slug})",
        message=(f"{tenant.name} ({tenant.slug}) registered the {sender.get_kind_display()} "
                 f"sender {sender.address} on {sender.connection}. It sends nothing until "
                 f"you approve it:\n\n{link}\n"),
        from_email=None, recipient_list=staff,
    )
    return len(staff)


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
            SenderRoute.objects.update_or_create(
                address=address,
                defaults={"tenant": tenant, "sender_id": sender.pk,
                          **_route_target(sender)},
            )
        else:
            SenderRoute.objects.filter(address=address, tenant=tenant).delete()
    return sender


def _route_target(sender: Sender) -> dict:
    """The ``SenderRoute`` columns naming where ``sender`` sends: its connection or its
    route."""
    route_name = route_name_of(sender.connection)
    if route_name is None:
        provider = ProviderConnection.objects.filter(name=sender.connection).first()
        if provider is None:
            raise DomainError(error_codes.UNKNOWN_CONNECTION,
                              f"{sender.address} names a connection that no longer exists.",
                              "address")
        return {"connection": provider, "route": None}
    route = Route.objects.filter(name=route_name).first()
    if route is None:
        raise DomainError(error_codes.UNKNOWN_CONNECTION,
                          f"{sender.address} names a route that no longer exists.", "address")
    return {"connection": None, "route": route}


def sender_list() -> QuerySet[Sender]:
    return Sender.objects.order_by("address")
