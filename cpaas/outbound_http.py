"""Which URLs the product may call (DESIGN §8, outbound HTTP safety).

Every URL called on a tenant's or the operator's behalf is checked when saved and again
before each call (a name may resolve elsewhere later). In production, addresses inside the
installation's network (loopback, private, link-local, reserved) are refused: an attacker's
webhook URL must not reach the database or a cloud metadata service. Under `make run` and
in tests only loopback is allowed, so nothing ever leaves the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


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
