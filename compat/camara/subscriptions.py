"""Creating and deleting CAMARA subscriptions (what ends one: ``notifications``)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from compat.camara.models import Subscription
from compat.camara.selectors import subscribed_types_forget
from core import errors
from core.errors import DomainError
from core.outbound_http import UnsafeURLError, url_check
from core.phones import inbound_address
from messaging.senders import sender_list

UNSAFE_URL = "unsafe_url"
INVALID_EXPIRE_TIME = "invalid_expire_time"


def subscription_create(*, type: str, sender_id: str, notification_url: str,
                        notification_auth_token: str = "", expire_time: datetime | None = None,
                        max_events: int | None = None) -> Subscription:
    """Subscribe ``notification_url`` to the events of ``type`` about one of the tenant's
    senders.

    ``type`` is one of ``SUBSCRIBABLE_TYPES``; ``max_events`` is None (or -1, CAMARA's "no
    limit") or at least 1. The URL must be one this installation may call
    (docs/ARCHITECTURE.md#security-rules); it is checked again before every notification.
    Raises DomainError: ``unknown_sender``, ``unsafe_url``, ``invalid_expire_time``.
    """
    address = inbound_address(sender_id)
    if not sender_list().filter(address=address).exists():
        raise DomainError(errors.UNKNOWN_SENDER, f"{sender_id!r} is not one of your senders.",
                          "subscriptionDetail.senderId")
    try:
        url_check(notification_url)
    except UnsafeURLError as exc:
        raise DomainError(UNSAFE_URL, str(exc), "webhook.notificationUrl") from exc
    if expire_time is not None and expire_time <= timezone.now():
        raise DomainError(INVALID_EXPIRE_TIME, "subscriptionExpireTime has passed already.",
                          "subscriptionExpireTime")
    subscription = Subscription.objects.create(
        type=type, sender_id=address, notification_url=notification_url,
        notification_auth_token=notification_auth_token, expire_time=expire_time,
        max_events=None if max_events in (None, -1) else max_events,
    )
    subscribed_types_forget()
    return subscription


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete the subscription with its notifications and their log; nothing more is sent
    to it.

    The row lock waits for transactions recording events for it (they hold it ``FOR KEY
    SHARE``) and keeps new ones out, so no notification is added after its notifications
    are collected for deletion.
    """
    with transaction.atomic():
        Subscription.objects.select_for_update().filter(pk=subscription.pk).first()
        subscription.delete()
    subscribed_types_forget()
