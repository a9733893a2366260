"""Vonage SMS API: form POST to ``/sms/json``, webhooks as GET, form or JSON, optional ``sig``.

Vonage answers a send with one entry per SMS part, each with its own message id, and sends
one delivery receipt per part. We keep the first part's id as the message's provider id, so
only the first part's receipts match a message: receipts for the other parts match nothing
and are dropped (a known limitation; the first part's receipt stands for the whole message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.http import HttpRequest, HttpResponse

from core.text import text_storable
from messaging.providers.base import (
    HTTP_SEND_CONCURRENCY,
    Backend,
    ConcatInfo,
    InboundSMS,
    InvalidPayload,
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    SendResult,
    StatusReport,
    TransientSendError,
    classify_http_error,
    post,
)
from tenants.provider_kinds import ProviderKind, Setting

# Send statuses worth retrying: "1" throttled, "5" internal error. Any other non-zero is final.
TRANSIENT_STATUSES = frozenset({"1", "5"})

# Delivery receipt status -> ours. "accepted", "buffered" and "unknown" mean no news yet.
STATUS_MAP = {
    "delivered": "delivered", "accepted": "sent", "buffered": "sent", "unknown": "sent",
    "expired": "undelivered", "rejected": "undelivered", "failed": "failed",
}

SIGNATURE_METHODS = frozenset({"md5hash", "md5", "sha1", "sha256", "sha512"})
# A signed webhook older or newer than this is refused (replay).
SIGNATURE_TOLERANCE = 300


def _signature_method(value: str) -> str:
    if value.lower() not in SIGNATURE_METHODS:
        raise ValueError(value)
    return value.lower()


def signature(params: dict[str, str], secret: str, method: str = "md5hash") -> str:
    """Vonage's request signature over every parameter but ``sig``, lower-case hex.

    Per Vonage's signing guide ("Signing Messages", manual generation) and its SDKs
    (vonage-python-sdk ``Client.signature``, vonage-php-sdk-core ``Client\\Signature``):
    sort the parameters by name, replace ``&`` and ``=`` in each value with ``_``, join as
    ``&k1=v1&k2=v2``; ``md5hash`` is md5 of that string with the secret appended directly,
    the others are HMAC(secret, that string) with the named digest. The PHP SDK sends HMAC
    signatures in upper case, so compare case-insensitively.
    """
    base = "".join(
        f"&{key}={params[key].replace('&', '_').replace('=', '_')}"
        for key in sorted(params) if key != "sig"
    )
    if method == "md5hash":
        # md5 is Vonage's scheme here, not our choice.
        return hashlib.md5((base + secret).encode()).hexdigest()  # noqa: S324
    return hmac.new(secret.encode(), base.encode(), method).hexdigest()


def _e164_digits(address: str) -> str:
    """Vonage writes numbers in E.164 without the leading +."""
    return address[1:] if address.startswith("+") else address


def _e164(address: str) -> str:
    """A Vonage number as E.164 with +; short codes (3 to 8 digits) and alphanumeric
    sender names stay as they are."""
    return f"+{address}" if address.isdigit() and len(address) > 8 else address


def _params(request: HttpRequest) -> dict[str, str]:
    """Vonage calls webhooks as GET (query), POST form or POST JSON, per account setting."""
    if request.method == "GET":
        return request.GET.dict()
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidPayload(f"invalid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise InvalidPayload("the JSON body must be an object")
        # JSON can carry a lone surrogate, which UTF-8 (so Vonage's signature) cannot.
        return {text_storable(str(key)):
                text_storable(value if isinstance(value, str) else json.dumps(value))
                for key, value in payload.items() if value is not None}
    return request.POST.dict()


class VonageBackend(Backend):
    declaration = ProviderKind("vonage", settings=(
        Setting("api_key", required=True),
        Setting("api_secret", required=True, secret=True),
        Setting("signature_secret", secret=True),
        Setting("signature_method", default="md5hash", parse=_signature_method,
                expected=" or ".join(sorted(SIGNATURE_METHODS))),
        Setting("api_base_url", url=True, default="https://rest.nexmo.com"),
    ))
    # Vonage does not deduplicate on client-ref: a resend is a second message.
    idempotent_send = False
    send_concurrency = HTTP_SEND_CONCURRENCY

    def send(self, sms: OutboundSMS) -> SendResult:
        base = self.setting("api_base_url").rstrip("/")
        data = {
            "api_key": self.setting("api_key"), "api_secret": self.setting("api_secret"),
            "from": _e164_digits(sms.from_address), "to": _e164_digits(sms.to),
            "text": sms.body, "callback": sms.status_callback,
            "client-ref": str(sms.message_id),
        }
        if sms.encoding == "UCS-2":
            data["type"] = "unicode"
        response = post(f"{base}/sms/json", data=data)
        if response.status_code != 200:
            raise classify_http_error(response, f"http_{response.status_code}",
                                      response.text[:500])
        try:
            parts = response.json()["messages"]
            statuses = [str(part["status"]) for part in parts]
            first_id = str(parts[0].get("message-id") or "")
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            # Vonage answered 200: it may well have taken the message.
            raise OutcomeUnknownError("vonage_bad_response", response.text[:500]) from exc
        failed = next((i for i, status in enumerate(statuses) if status != "0"), None)
        if failed is None:
            if not first_id:
                raise OutcomeUnknownError("vonage_bad_response", response.text[:500])
            return SendResult(provider_message_id=first_id)
        status = statuses[failed]
        detail = str(parts[failed].get("error-text") or f"Vonage status {status}")
        if status in TRANSIENT_STATUSES and "0" not in statuses:
            raise TransientSendError(f"vonage_{status}", detail)
        # Refused, or some parts went out and others did not: resending would repeat those.
        raise PermanentSendError(status, detail)

    def verify(self, request: HttpRequest) -> bool:
        """Check ``sig`` when a signature secret is set. Without one the connection runs
        unsigned (Vonage signs webhooks only once support enables it for the account) and
        every webhook is accepted."""
        secret = self.setting("signature_secret")
        if not secret:
            return True
        method = self.setting("signature_method").lower()
        try:
            params = _params(request)
            timestamp = int(params.get("timestamp", ""))
        except (InvalidPayload, ValueError):
            return False
        given = params.get("sig", "")
        if (not given or method not in SIGNATURE_METHODS
                or abs(time.time() - timestamp) > SIGNATURE_TOLERANCE):
            return False
        expected = signature(params, secret, method)
        return hmac.compare_digest(given.lower().encode(), expected.encode())

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        params = _params(request)
        missing = [key for key in ("msisdn", "to", "messageId") if not params.get(key)]
        if "text" not in params:
            missing.append("text")
        if missing:
            raise InvalidPayload(f"missing {', '.join(missing)}")
        concat = None
        if params.get("concat") == "true":
            try:
                concat = ConcatInfo(reference=params["concat-ref"],
                                    total=int(params["concat-total"]),
                                    number=int(params["concat-part"]))
            except (KeyError, ValueError) as exc:
                raise InvalidPayload(f"bad concat fields: {exc}") from exc
            if not concat.reference or not 1 <= concat.number <= concat.total:
                raise InvalidPayload("bad concat fields")
        return InboundSMS(provider_message_id=params["messageId"],
                          from_address=_e164(_e164_digits(params["msisdn"])),
                          to_address=_e164(_e164_digits(params["to"])),
                          body=params["text"], concat=concat)

    def parse_status(self, request: HttpRequest) -> StatusReport:
        params = _params(request)
        status = STATUS_MAP.get(params.get("status", ""))
        if not params.get("messageId") or status is None:
            raise InvalidPayload("messageId and a known status are required")
        error_code = params.get("err-code", "")
        return StatusReport(provider_message_id=params["messageId"], status=status,
                            error_code="" if error_code == "0" else error_code)

    def acknowledge(self) -> HttpResponse:
        # Vonage retries a webhook until it gets its 200.
        return HttpResponse(status=200)
