"""Reads of event webhooks, shared by the API, the pages and the emitting services."""

from __future__ import annotations

import time
from itertools import chain

from django.db import connection
from django.db.models import QuerySet

from events.models import Delivery, WebhookSubscription

# How long a process trusts its copy of a tenant's subscribed event types. Saves in this
# process refresh it at once; other processes see a new or changed subscription within
# this time (as with provider connections and routes, ``tenants.routing_cache``).
SUBSCRIBED_TYPES_TTL = 5.0

_subscribed_types: dict[str, tuple[float, frozenset[str]]] = {}


def event_type_wanted(*, type: str) -> bool:
    """Whether any active subscription of the current tenant may want ``type``.

    Asked on hot paths (every processed message, every status change), so the answer
    comes from a per-process copy, reloaded at most every ``SUBSCRIBED_TYPES_TTL`` seconds:
    a tenant without subscriptions pays no query. A yes is only a hint: the emitting
    service reads the subscriptions themselves.
    """
    schema = connection.schema_name
    now = time.monotonic()
    cached = _subscribed_types.get(schema)
    if cached is None or cached[0] <= now:
        types = frozenset(chain.from_iterable(
            WebhookSubscription.objects.filter(active=True).values_list("events", flat=True)))
        cached = (now + SUBSCRIBED_TYPES_TTL, types)
        _subscribed_types[schema] = cached
    return type in cached[1]


def subscribed_types_forget() -> None:
    """Drop this process's copy of the current tenant's subscribed types."""
    _subscribed_types.pop(connection.schema_name, None)


def subscription_list() -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.all()


def delivery_list(*, subscription: WebhookSubscription) -> QuerySet[Delivery]:
    """The subscription's deliveries, newest first, each with its event and attempts."""
    return (Delivery.objects.filter(subscription=subscription).select_related("event")
            .prefetch_related("attempt_log"))
