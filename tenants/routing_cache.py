"""Short-lived, per-process caches of the public rows every message touches: provider
connections by name and sender routes by address.

A webhook or a send would otherwise spend two of its few queries re-reading rows that
change a few times a year. Saves and deletes in this process clear the caches at once;
other processes see a change within ``TTL`` seconds (an approval, a suspension or a new
credential takes effect within that time).
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.models import ProviderConnection, SenderRoute

TTL = 5.0

_connections: dict[str, tuple[float, ProviderConnection | None]] = {}
_routes: dict[tuple[str, int], tuple[float, tuple[int, str] | None]] = {}


def connection_cached(name: str) -> ProviderConnection | None:
    """The active connection called ``name``, or None."""
    now = time.monotonic()
    hit = _connections.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]
    connection = ProviderConnection.objects.filter(name=name, is_active=True).first()
    _connections[name] = (now + TTL, connection)
    return connection


def route_cached(address: str, connection_id: int) -> tuple[int, str] | None:
    """``(sender id, tenant schema)`` for an approved address on a connection, or on a
    route through that connection; None otherwise."""
    now = time.monotonic()
    key = (address, connection_id)
    hit = _routes.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    # A closed tenant's senders are unrouted without losing their approval, so reopening
    # routes them again.
    row = (SenderRoute.objects.filter(address=address)
           .filter(Q(connection_id=connection_id)
                   | Q(route__entries__hops__connection_id=connection_id))
           .exclude(tenant__status="closed")
           .values_list("sender_id", "tenant__schema_name").first())
    _routes[key] = (now + TTL, row)
    return row


def routes_clear() -> None:
    """Forget the routes in this process (a tenant closed or reopened here)."""
    _routes.clear()


@receiver([post_save, post_delete], sender=ProviderConnection)
def _connection_changed(**kwargs: Any) -> None:
    _connections.clear()


@receiver([post_save, post_delete], sender=SenderRoute)
def _route_changed(**kwargs: Any) -> None:
    _routes.clear()


def sender_routes_forget() -> None:
    """A route's connections changed: which connections may deliver an address's inbound
    is read again."""
    _routes.clear()
