"""Webhook signatures computed as the providers compute them, independently of our backends.

Vonage: from Vonage's signing guide (and checked against the test vectors of Vonage's own
Python SDK in test_provider_vonage_http.py). Standard Webhooks: with the ``standardwebhooks``
package, as a sender or receiver would.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

# Vonage signatures: sort by name, replace '&' and '=' in values with '_', join as
# "&k=v..."; md5hash appends the secret and hashes, the HMAC methods key the digest with the
# secret (Vonage's PHP SDK sends them upper-case).


def vonage_sig(params: dict[str, str], secret: str, method: str) -> str:
    base_string = "".join(f"&{key}={value.replace('&', '_').replace('=', '_')}"
                          for key, value in sorted(params.items()))
    if method == "md5hash":
        return hashlib.md5((base_string + secret).encode()).hexdigest()  # noqa: S324
    return hmac.new(secret.encode(), base_string.encode(),
                    getattr(hashlib, method)).hexdigest().upper()


def vonage_signed(params: dict[str, str], method: str, secret: str,
                  timestamp: int | None = None) -> dict[str, str]:
    """``params`` plus ``timestamp`` and ``sig``, as Vonage sends a signed webhook."""
    params = {**params, "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    return {**params, "sig": vonage_sig(params, secret, method)}


def standard_webhook_headers(secret: str, msg_id: str, body: str,
                             when: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    when = when or datetime.fromtimestamp(int(time.time()), UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body)}
