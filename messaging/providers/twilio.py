"""Twilio Programmable Messaging: REST send, form-encoded webhooks, X-Twilio-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.http import HttpRequest, HttpResponse

from messaging.providers.base import (
    HTTP_SEND_CONCURRENCY,
    Backend,
    InboundSMS,
    InvalidPayload,
    OutboundSMS,
    SendResult,
    StatusReport,
    classify_http_error,
    post,
    public_url,
)
from tenants.provider_kinds import ProviderKind, Setting

# Twilio's MessageStatus -> ours. Twilio's early states all mean it holds the message.
STATUS_MAP = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent",
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """base64(HMAC-SHA1(auth token, URL + each parameter name and value sorted by name))."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioBackend(Backend):
    declaration = ProviderKind("twilio", settings=(
        Setting("account_sid", required=True),
        Setting("auth_token", required=True, secret=True),
        Setting("api_base_url", url=True, default="https://api.twilio.com"),
    ))
    send_concurrency = HTTP_SEND_CONCURRENCY

    def send(self, sms: OutboundSMS) -> SendResult:
        sid = self.setting("account_sid")
        base = self.setting("api_base_url").rstrip("/")
        response = post(
            f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
            auth=(sid, self.setting("auth_token")),
            data={"To": sms.to, "From": sms.from_address, "Body": sms.body,
                  "StatusCallback": sms.status_callback},
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201) and payload.get("sid"):
            return SendResult(provider_message_id=payload["sid"])
        code = str(payload.get("code") or f"http_{response.status_code}")
        raise classify_http_error(response, code, str(payload.get("message") or response.text))

    def verify(self, request: HttpRequest) -> bool:
        # From META: ``request.headers`` copies every header first, a percent of a webhook.
        given = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
        params = request.POST.dict() if request.method == "POST" else {}
        expected = signature(self.setting("auth_token"), public_url(request), params)
        return bool(given) and hmac.compare_digest(given, expected)

    def _params(self, request: HttpRequest) -> dict[str, str]:
        return request.POST.dict() if request.method == "POST" else request.GET.dict()

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        params = self._params(request)
        missing = [key for key in ("MessageSid", "From", "To") if not params.get(key)]
        if missing or "Body" not in params:
            raise InvalidPayload(f"missing {', '.join(missing or ['Body'])}")
        return InboundSMS(provider_message_id=params["MessageSid"],
                          from_address=params["From"], to_address=params["To"],
                          body=params["Body"])

    def parse_status(self, request: HttpRequest) -> StatusReport:
        params = self._params(request)
        status = STATUS_MAP.get(params.get("MessageStatus", ""))
        if not params.get("MessageSid") or status is None:
            raise InvalidPayload("MessageSid and a known MessageStatus are required")
        return StatusReport(provider_message_id=params["MessageSid"], status=status,
                            error_code=params.get("ErrorCode", ""),
                            error_message=params.get("ErrorMessage", ""))

    def acknowledge(self) -> HttpResponse:
        # Empty TwiML: we answer through the REST API, not in the webhook's response.
        return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                            content_type="text/xml")
