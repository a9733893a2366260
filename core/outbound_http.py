"""Which URLs the product may call (DESIGN §8, outbound HTTP safety).

Every URL called on a tenant's or the operator's behalf is checked when saved and again
before each call (a name may resolve elsewhere later). In production, addresses inside the
installation's network (loopback, private, link-local, reserved) are refused: an attacker's
webhook URL must not reach the database or a cloud metadata service. Under `make run` and
in tests only loopback is allowed, so nothing ever leaves the machine.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from standardwebhooks.webhooks import Webhook


class UnsafeURLError(ValueError):
    code = "unsafe_url"


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeURLError(f"{host!r} does not resolve.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def url_check(url: str) -> None:
    """Raise UnsafeURLError unless ``url`` is http(s) to a host this installation may call."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURLError(f"{url!r} is not an http(s) URL.")
    addresses = _addresses(parts.hostname)
    if settings.OUTBOUND_HTTP_PUBLIC_ONLY:
        internal = [a for a in addresses if not a.is_global or a.is_multicast]
        if internal:
            raise UnsafeURLError(f"{parts.hostname} resolves to an internal address "
                                 f"({internal[0]}); only public addresses may be called.")
    elif not all(address.is_loopback for address in addresses):
        raise UnsafeURLError(f"{parts.hostname} is not on this machine; outside production "
                             "only loopback URLs are called, so nothing leaves the machine.")


def webhook_secret() -> str:
    """A new Standard Webhooks signing secret: ``whsec_`` and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class SignedPostAnswer:
    """What came of one signed POST: the HTTP status (None when no answer came), the
    start of the body (attacker-controlled: show it escaped), and an error for people."""

    status: int | None = None
    body: str = ""
    error: str = ""
    refused: bool = False  # the URL may not be called: no request was made

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signed_post(*, url: str, secret: str, webhook_id: str, body: str,
                timeout: tuple[float, float], max_bytes: int,
                user_agent: str) -> SignedPostAnswer:
    """POST ``body`` as JSON signed per Standard Webhooks (``webhook-id`` stays the same on
    retries so receivers can drop duplicates), after checking the URL again: a name may
    resolve elsewhere since it was saved. Redirects are not followed (they could lead where
    ``url_check`` would not let us go) and at most ``max_bytes`` of the answer are read."""
    try:
        url_check(url)
    except UnsafeURLError as exc:
        return SignedPostAnswer(error=f"Not sent: {exc}", refused=True)
    sent_at = datetime.now(UTC)
    headers = {
        "content-type": "application/json", "user-agent": user_agent,
        "webhook-id": webhook_id, "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, sent_at, body),
    }
    try:
        with requests.post(url, data=body.encode(), headers=headers, timeout=timeout,
                           allow_redirects=False, stream=True) as response:
            text = response.raw.read(max_bytes, decode_content=True).decode(
                "utf-8", errors="replace")
    except requests.Timeout:
        return SignedPostAnswer(error=f"No answer within {timeout[1]:g} s.")
    except requests.RequestException as exc:
        return SignedPostAnswer(error=f"Could not connect: {exc.__class__.__name__}.")
    status = response.status_code
    return SignedPostAnswer(status=status, body=text,
                            error="" if 200 <= status < 300 else f"HTTP {status}.")
