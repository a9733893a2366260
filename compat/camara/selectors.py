"""Reads of the dialect's subscriptions, shared by the API and the event sink."""

from __future__ import annotations

import time
import uuid

from django.db import connection
from django.db.models import QuerySet

from compat.camara.models import Subscription

# How long a process trusts its copy of a tenant's subscribed types, as event webhooks do
# (``events.selectors``): saves in this process refresh it at once; other processes see a
# new subscription within this time.
SUBSCRIBED_TYPES_TTL = 5.0

_subscribed_types: dict[str, tuple[float, frozenset[str]]] = {}


def camara_type_wanted(*, type: str) -> bool:
    """Whether an active subscription of the current tenant may want events of ``type``.

    Asked for every processed message and status change, so the answer comes from a
    per-process copy reloaded at most every ``SUBSCRIBED_TYPES_TTL`` seconds: a tenant
    without subscriptions pays no query. A yes is only a hint.
    """
    schema = connection.schema_name
    now = time.monotonic()
    cached = _subscribed_types.get(schema)
    if cached is None or cached[0] <= now:
        types = frozenset(Subscription.objects.filter(status=Subscription.Status.ACTIVE)
                          .values_list("type", flat=True).distinct())
        cached = (now + SUBSCRIBED_TYPES_TTL, types)
        _subscribed_types[schema] = cached
    return type in cached[1]


def subscribed_types_forget() -> None:
    """Drop this process's copy of the current tenant's subscribed types."""
    _subscribed_types.pop(connection.schema_name, None)


def subscription_list() -> QuerySet[Subscription]:
    return Subscription.objects.all()


def subscription_get(*, subscription_id: str) -> Subscription | None:
    """The subscription with this public id, or None for anything else (an id of another
    tenant, a malformed one) alike."""
    try:
        uid = uuid.UUID(subscription_id)
    except ValueError:
        return None
    return Subscription.objects.filter(uid=uid).first()
