"""Resources as Twilio writes them: its field names and types (counts as strings, error
codes as integers, RFC 2822 dates in +0000 on the 2010-04-01 API, ISO 8601 on v1), and
the URIs its clients follow."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

from compat.twilio.errors import message_error_code
from compat.twilio.models import MessagingService, PhoneNumber, TwilioMessage
from compat.twilio.sids import sid_encode
from messaging.models import Message, Sender

API_VERSION = "2010-04-01"
API_ROOT = f"/{API_VERSION}/Accounts"

STATUS = {
    Message.Status.RECEIVED: "received", Message.Status.PROCESSED: "received",
    Message.Status.QUEUED: "queued", Message.Status.SENDING: "sending",
    Message.Status.SENT: "sent", Message.Status.DELIVERED: "delivered",
    Message.Status.UNDELIVERED: "undelivered", Message.Status.FAILED: "failed",
}
# Automatic answers are replies, as a TwiML answer is on Twilio; what staff or an API
# client sends is outbound-api.
REPLY_ORIGINS = {Message.Origin.RULE, Message.Origin.SURVEY, Message.Origin.SYSTEM}
TWIML_ORIGIN_REF = "twiml:"


def rfc2822(value: datetime | None) -> str | None:
    """``Thu, 24 Aug 2023 05:01:45 +0000``, what the official clients parse."""
    return None if value is None else email.utils.format_datetime(value.astimezone(UTC))


def iso8601(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_sid(message_id: int, *, account_sid: str) -> str:
    return sid_encode("SM", message_id, account_sid=account_sid)


def number_sid(sender_id: int, *, account_sid: str) -> str:
    return sid_encode("PN", sender_id, account_sid=account_sid)


def message_status(message: Message) -> str:
    return STATUS.get(message.status, message.status)


def message_direction(message: Message) -> str:
    if message.direction == Message.Direction.INBOUND:
        return "inbound"
    if message.origin in REPLY_ORIGINS or message.origin_ref.startswith(TWIML_ORIGIN_REF):
        return "outbound-reply"
    return "outbound-api"


def message_service_sid(message: Message) -> str | None:
    """The Messaging Service a message was sent through, if any (lists select the
    ``twilio__messaging_service`` relation with the messages)."""
    try:
        service = message.twilio.messaging_service
    except TwilioMessage.DoesNotExist:
        return None
    return service.sid if service is not None else None


def message_uri(*, account_sid: str, sid: str) -> str:
    return f"{API_ROOT}/{account_sid}/Messages/{sid}.json"


def message_resource(message: Message, *, account_sid: str) -> dict:
    sid = message_sid(message.pk, account_sid=account_sid)
    uri = message_uri(account_sid=account_sid, sid=sid)
    error_code = message_error_code(message.error_code)
    error_message = message.error_message or None
    if error_code is not None and not message.error_code.isdigit() and error_code != 21610:
        error_message = f"{message.error_code}: {message.error_message}".rstrip(": ")
    sent = message.received_at if message.direction == Message.Direction.INBOUND \
        else message.sent_at
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.created_at),
        "date_sent": rfc2822(sent),
        "date_updated": rfc2822(message.updated_at),
        "direction": message_direction(message),
        "error_code": error_code,
        "error_message": error_message,
        "from": message.from_address,
        "messaging_service_sid": message_service_sid(message),
        "num_media": "0",
        "num_segments": str(message.segments),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": message_status(message),
        "subresource_uris": {"media": uri.replace(".json", "/Media.json"),
                             "feedback": uri.replace(".json", "/Feedback.json")},
        "to": message.to_address,
        "uri": uri,
    }


def number_uri(*, account_sid: str, sid: str) -> str:
    return f"{API_ROOT}/{account_sid}/IncomingPhoneNumbers/{sid}.json"


def number_resource(sender: Sender, number: PhoneNumber | None, *, account_sid: str) -> dict:
    number = number or PhoneNumber(sender=sender)
    sid = number_sid(sender.pk, account_sid=account_sid)
    updated = number.updated_at or sender.reviewed_at or sender.created_at
    return {
        "account_sid": account_sid,
        "address_requirements": "none",
        "address_sid": None,
        "api_version": API_VERSION,
        "beta": False,
        "bundle_sid": None,
        "capabilities": {"fax": False, "mms": False, "sms": True, "voice": False},
        "date_created": rfc2822(sender.created_at),
        "date_updated": rfc2822(updated),
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "emergency_status": "Inactive",
        "friendly_name": number.friendly_name or sender.address,
        "identity_sid": None,
        "origin": "hosted",
        "phone_number": sender.address,
        "sid": sid,
        "sms_application_sid": None,
        "sms_fallback_method": number.sms_fallback_method,
        "sms_fallback_url": number.sms_fallback_url,
        "sms_method": number.sms_method,
        "sms_url": number.sms_url,
        "status": "in-use",
        "status_callback": number.status_callback,
        "status_callback_method": "POST",
        "subresource_uris": {"assigned_add_ons": number_uri(account_sid=account_sid, sid=sid)
                             .replace(".json", "/AssignedAddOns.json")},
        "trunk_sid": None,
        "type": "local" if sender.kind == Sender.Kind.LONG_CODE else "tollfree",
        "uri": number_uri(account_sid=account_sid, sid=sid),
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_receive_mode": "voice",
        "voice_url": None,
    }


def service_resource(service: MessagingService, *, account_sid: str, base_url: str) -> dict:
    url = f"{base_url}/v1/Services/{service.sid}"
    return {
        "account_sid": account_sid,
        "area_code_geomatch": False,
        "date_created": iso8601(service.created_at),
        "date_updated": iso8601(service.updated_at),
        "fallback_method": "POST",
        "fallback_to_long_code": False,
        "fallback_url": None,
        "friendly_name": service.friendly_name,
        "inbound_method": "POST",
        "inbound_request_url": None,
        "links": {"phone_numbers": f"{url}/PhoneNumbers"},
        "mms_converter": False,
        "scan_message_content": "inherit",
        "sid": service.sid,
        "smart_encoding": False,
        "status_callback": service.status_callback or None,
        "sticky_sender": service.sticky_sender,
        "synchronous_validation": False,
        "url": url,
        "use_inbound_webhook_on_number": True,
        "usecase": "undeclared",
        "us_app_to_person_registered": False,
        "validity_period": 14400,
    }


def service_number_resource(service: MessagingService, sender: Sender, *, account_sid: str,
                            base_url: str) -> dict:
    sid = number_sid(sender.pk, account_sid=account_sid)
    return {
        "account_sid": account_sid,
        "capabilities": ["SMS"],
        "country_code": sender.country or None,
        "date_created": iso8601(sender.created_at),
        "date_updated": iso8601(sender.reviewed_at or sender.created_at),
        "phone_number": sender.address,
        "service_sid": service.sid,
        "sid": sid,
        "url": f"{base_url}/v1/Services/{service.sid}/PhoneNumbers/{sid}",
    }
