"""Messaging Services (``MG…``, Twilio's v1 Messaging API): named pools of the tenant's
approved phone numbers. A message may name a service instead of a ``From``; the service
picks the sender (``compat.twilio.messages``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from compat.twilio.errors import (
    BAD_REQUEST,
    INVALID_STATUS_CALLBACK,
    MISSING_PARAMETER,
    NOT_FOUND,
    NUMBER_IN_SERVICE,
    TwilioError,
)
from compat.twilio.messages import callback_url_checked
from compat.twilio.models import MessagingService, StickySender
from compat.twilio.sids import sid_new
from messaging.models import Sender

BOOLEANS = {"true": True, "false": False}


def service_list() -> QuerySet[MessagingService]:
    return MessagingService.objects.order_by("-created_at", "-id")


def _apply(service: MessagingService, changes: dict[str, str]) -> None:
    if "FriendlyName" in changes:
        name = changes["FriendlyName"].strip()
        if not name or len(name) > MessagingService._meta.get_field("friendly_name").max_length:
            raise TwilioError(BAD_REQUEST, "FriendlyName must be 1 to 64 characters.")
        service.friendly_name = name
    if "StatusCallback" in changes:
        url = changes["StatusCallback"].strip()
        service.status_callback = callback_url_checked(
            url, code=INVALID_STATUS_CALLBACK, name="StatusCallback") if url else ""
    if "StickySender" in changes:
        value = BOOLEANS.get(changes["StickySender"].lower())
        if value is None:
            raise TwilioError(BAD_REQUEST, "StickySender must be true or false.")
        service.sticky_sender = value


def service_create(*, changes: dict[str, str]) -> MessagingService:
    if not changes.get("FriendlyName", "").strip():
        raise TwilioError(MISSING_PARAMETER, "Missing required parameter FriendlyName in "
                                             "the post body")
    service = MessagingService(sid=sid_new("MG"))
    _apply(service, changes)
    service.save()
    return service


def service_update(*, service: MessagingService, changes: dict[str, str]) -> MessagingService:
    _apply(service, changes)
    service.save()
    return service


def service_delete(*, service: MessagingService) -> None:
    """Delete the service; messages sent through it keep their sender and say no service
    any more."""
    service.delete()


def service_sender_add(*, service: MessagingService, sender: Sender) -> None:
    if service.senders.filter(pk=sender.pk).exists():
        raise TwilioError(NUMBER_IN_SERVICE, f"{sender.address} is already in Messaging "
                                             f"Service {service.sid}.", status=409)
    service.senders.add(sender)  # a concurrent add of the same number adds it once


def service_sender_remove(*, service: MessagingService, sender: Sender) -> None:
    if not service.senders.filter(pk=sender.pk).exists():
        raise TwilioError(NOT_FOUND, f"{sender.address} is not in Messaging Service "
                                     f"{service.sid}.", status=404)
    with transaction.atomic():
        service.senders.remove(sender)
        # Its recipients get another of the pool's senders next time.
        StickySender.objects.filter(service=service, sender=sender).delete()
