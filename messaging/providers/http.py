"""Generic signed HTTP: JSON to a configured URL and back, signed with Standard Webhooks.

Both directions carry ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
(https://www.standardwebhooks.com/), made and checked with the ``standardwebhooks`` package
and the connection's ``secret`` (``whsec_`` + base64).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.http import HttpRequest
from standardwebhooks.webhooks import Webhook

from messaging.providers.base import (
    HTTP_SEND_CONCURRENCY,
    Backend,
    InboundSMS,
    InvalidPayload,
    OutboundSMS,
    PermanentSendError,
    SendResult,
    StatusReport,
    classify_http_error,
    post,
)
from tenants.provider_kinds import ProviderKind, Setting

STATUSES = frozenset({"sent", "delivered", "undelivered", "failed"})


def _json_object(request: HttpRequest) -> dict:
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"invalid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidPayload("the JSON body must be an object")
    return payload


class HttpBackend(Backend):
    declaration = ProviderKind("http", settings=(
        Setting("url", required=True, url=True),
        Setting("secret", required=True, secret=True),
    ))
    # The webhook-id is ours and the same on every attempt ("<schema>-<message id>"); the
    # Standard Webhooks spec has receivers deduplicate on it, so a resend delivers nothing
    # twice.
    idempotent_send = True
    send_concurrency = HTTP_SEND_CONCURRENCY

    def _webhook(self) -> Webhook:
        return Webhook(self.setting("secret"))

    def send(self, sms: OutboundSMS) -> SendResult:
        message_id = f"{sms.tenant_schema}-{sms.message_id}"
        body = json.dumps({"id": message_id, "from": sms.from_address, "to": sms.to,
                           "body": sms.body, "status_callback": sms.status_callback})
        url = self.setting("url")
        try:
            webhook = self._webhook()
        except Exception as exc:  # an empty or malformed secret
            raise PermanentSendError("provider_misconfigured", f"bad secret: {exc}") from exc
        if not url:
            raise PermanentSendError("provider_misconfigured", "no url configured")
        # Whole seconds: the signature covers the timestamp as the header states it.
        now = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()), UTC)
        response = post(url, data=body.encode(), headers={
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(message_id, now, body),
        })
        if 200 <= response.status_code < 300:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            provider_id = payload.get("id") if isinstance(payload, dict) else None
            return SendResult(provider_message_id=str(provider_id or message_id))
        raise classify_http_error(response, f"http_{response.status_code}",
                                  response.text[:500])

    def verify(self, request: HttpRequest) -> bool:
        headers = {name: request.headers.get(name, "")
                   for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            # The package refuses timestamps more than 5 minutes from now.
            self._webhook().verify(request.body, headers, json_parse=False)
        except Exception:  # any failure, a malformed header or secret included, is a no
            return False
        return True

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        payload = _json_object(request)
        bad = [key for key in ("id", "from", "to")
               if not isinstance(payload.get(key), str) or not payload[key]]
        if not isinstance(payload.get("body"), str):
            bad.append("body")
        if bad:
            raise InvalidPayload(f"missing or not a string: {', '.join(bad)}")
        return InboundSMS(provider_message_id=payload["id"], from_address=payload["from"],
                          to_address=payload["to"], body=payload["body"])

    def parse_status(self, request: HttpRequest) -> StatusReport:
        payload = _json_object(request)
        message_id, status = payload.get("id"), payload.get("status")
        if not (isinstance(message_id, str) and message_id and isinstance(status, str)
                and status in STATUSES):
            raise InvalidPayload(f"id and a status in {sorted(STATUSES)} are required")
        error_code, error_message = payload.get("error_code"), payload.get("error_message")
        return StatusReport(provider_message_id=message_id, status=status,
                            error_code="" if error_code is None else str(error_code),
                            error_message="" if error_message is None else str(error_message))
