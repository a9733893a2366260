"""IncomingPhoneNumbers: the tenant's approved phone-number senders as Twilio's ``PN…``
resources, and their webhooks (``SmsUrl`` and its fallback, ``StatusCallback``)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from compat.twilio.errors import BAD_REQUEST, INVALID_URL, TwilioError
from compat.twilio.messages import callback_url_checked
from compat.twilio.models import HttpMethod, PhoneNumber
from compat.twilio.sids import sid_decode
from messaging.models import Sender

# Senders that are phone numbers (short codes and sender IDs are not IncomingPhoneNumbers).
NUMBER_KINDS = (Sender.Kind.LONG_CODE, Sender.Kind.TOLL_FREE)
# Request parameter -> field, for the URLs and the methods an update may set.
URL_PARAMS = {"SmsUrl": "sms_url", "SmsFallbackUrl": "sms_fallback_url",
              "StatusCallback": "status_callback"}
METHOD_PARAMS = {"SmsMethod": "sms_method", "SmsFallbackMethod": "sms_fallback_method"}


def number_list(*, phone_number: str = "", friendly_name: str = "") -> QuerySet[Sender]:
    """The tenant's approved phone numbers with their webhooks, oldest first. A
    ``phone_number`` filter matches a part of the number (``*`` matches anything, as on
    Twilio); ``friendly_name`` matches exactly."""
    senders = (Sender.objects.select_related("twilio_number")
               .filter(status=Sender.Status.APPROVED, kind__in=NUMBER_KINDS).order_by("pk"))
    for part in phone_number.replace(" ", "").split("*"):
        if part:
            senders = senders.filter(address__contains=part)
    if friendly_name:
        # A number without a name of its own is named after itself.
        unnamed = Q(twilio_number__isnull=True) | Q(twilio_number__friendly_name="")
        senders = senders.filter(Q(twilio_number__friendly_name=friendly_name)
                                 | (Q(address=friendly_name) & unnamed))
    return senders


def number_get(sid: str, *, account_sid: str) -> Sender | None:
    sender_id = sid_decode("PN", sid, account_sid=account_sid)
    return number_list().filter(pk=sender_id).first() if sender_id else None


def number_settings(sender: Sender) -> PhoneNumber | None:
    try:
        return sender.twilio_number
    except PhoneNumber.DoesNotExist:
        return None


def number_update(*, sender: Sender, changes: dict[str, str]) -> PhoneNumber:
    """Apply Twilio's update parameters (``SmsUrl``, ``SmsMethod``, ``SmsFallbackUrl``,
    ``SmsFallbackMethod``, ``StatusCallback``, ``FriendlyName``; others are ignored, as
    Twilio ignores what it does not know). A URL must be one this installation may call,
    or empty to remove it."""
    number = number_settings(sender) or PhoneNumber(sender=sender)
    for param, field in URL_PARAMS.items():
        if param in changes:
            url = changes[param].strip()
            setattr(number, field, callback_url_checked(url, code=INVALID_URL, name=param)
                    if url else "")
    for param, field in METHOD_PARAMS.items():
        if param in changes:
            method = changes[param].upper()
            if method not in HttpMethod.values:
                raise TwilioError(BAD_REQUEST, f"{param} must be GET or POST.")
            setattr(number, field, method)
    if "FriendlyName" in changes:
        name = changes["FriendlyName"].strip()
        if len(name) > PhoneNumber._meta.get_field("friendly_name").max_length:
            raise TwilioError(BAD_REQUEST, "FriendlyName is at most 64 characters.")
        number.friendly_name = name
    number.save()
    return number
