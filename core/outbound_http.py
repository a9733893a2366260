"""Which URLs the product may call, and calling them.

Every URL called on a tenant's or the operator's behalf is checked when saved and again
before each call (a name may resolve elsewhere later). In production, addresses inside the
installation's network (loopback, private, link-local, reserved, and IPv6 forms that carry
an IPv4 address inside) are refused: an attacker's webhook URL must not reach the database
or a cloud metadata service. Under `make run` and in tests only loopback is allowed, so
nothing ever leaves the machine.

Checking a URL and then handing the text to an HTTP client is not enough: parsers disagree
on odd URLs (``http://127.0.0.1:80\\@example.com/`` is example.com to ``urlsplit`` and
127.0.0.1 to urllib3), and a name may resolve to another address when the client looks it
up again (DNS rebinding). So a URL is parsed once and strictly (anything two parsers could
read differently is refused), its host is resolved once, and ``pinned_send`` connects to
the address that was checked, sending the host name in ``Host`` and, for https, in SNI
and the certificate check. Redirects are never followed.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    code = "unsafe_url"


# scheme "://" authority, then the path, query and fragment (split at the first / ? or #,
# as RFC 3986 and urllib3 do).
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
                  r"(?P<rest>[/?#].*)?")
_LABEL = re.compile(r"[a-z0-9-]{1,63}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# IPv6 ranges that carry an IPv4 address, which a gateway or the kernel may turn into a
# connection to that IPv4 address: NAT64 (well-known and local-use), 6to4, Teredo,
# IPv4-mapped. IPv4-compatible addresses (::a.b.c.d) are handled apart: ::1 is among them.
_CARRIES_IPV4 = tuple(ipaddress.IPv6Network(network) for network in (
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::ffff:0:0/96"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


@dataclass(frozen=True)
class CheckedURL:
    """A URL that may be called: ``url`` is what is requested, and the connection goes to
    one of ``addresses`` (what ``host`` resolved to when checked, every one allowed)."""

    url: str
    scheme: str
    host: str  # a lower-case name, or an IP address without brackets
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_is_address(self) -> bool:
        return self.host == str(self.addresses[0])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def _refuse(url: str, problem: str) -> UnsafeURLError:
    shown = url if len(url) <= 200 else url[:200] + "…"
    return UnsafeURLError(f"{shown!r} {problem}")


def _host_and_port(url: str, scheme: str, authority: str) -> tuple[str, int]:
    if "@" in authority:
        raise _refuse(url, "has a user name or password (the part before @), which is not "
                           "accepted: HTTP clients disagree on where such a host ends.")
    if "%" in authority:
        raise _refuse(url, "has a percent-encoded character in its host; write the host "
                           "as it is.")
    if authority.startswith("["):
        host, closing, rest = authority[1:].partition("]")
        try:
            host = str(ipaddress.IPv6Address(host)) if closing else ""
        except ValueError:
            host = ""
        if not host:
            raise _refuse(url, "has a malformed IPv6 address in brackets.")
        if rest and not rest.startswith(":"):
            raise _refuse(url, "has something after the IPv6 address other than :port.")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text = authority.partition(":")
        port_text = port_text if colon else None
        host = host.lower()
    if not host:
        raise _refuse(url, "has no host.")
    if port_text is None:
        return host, _DEFAULT_PORTS[scheme]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise _refuse(url, "has a port that is not a number from 1 to 65535.")
    return host, int(port_text)


def _name_problem(host: str) -> str:
    """Why ``host`` (neither bracketed nor percent-encoded) is not a plain DNS name or a
    dotted-quad IPv4 address, or ""."""
    labels = host.removesuffix(".").split(".")
    last = labels[-1]
    if last.isdigit() or last.startswith("0x"):
        # getaddrinfo and browsers read 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 as
        # 127.0.0.1; only the one form that every reader takes the same way is accepted.
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        return "" if canonical == host else (
            "has an IPv4 address in an unusual form; write it as four decimal numbers from "
            "0 to 255 without leading zeros (a.b.c.d).")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return ("has a host that is not a valid name: use letters, digits, hyphens and dots "
                "(an international name in its xn-- form).")
    return ""


def _host_as_read(host: str | None) -> str | None:
    """A parser's reading of a host, written as ``_parse`` writes it."""
    host = (host or "").strip("[]").lower()
    try:
        return str(ipaddress.IPv6Address(host)) if ":" in host else host
    except ValueError:
        return host


def _parse(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, url to request)``, or UnsafeURLError saying what is wrong."""
    if not isinstance(url, str) or not url:
        raise UnsafeURLError("Enter an http:// or https:// URL.")
    if any(not "!" <= character <= "~" for character in url):
        if any(not character.isascii() for character in url):
            raise _refuse(url, "has a character outside ASCII; percent-encode it (an "
                               "international host name goes in its xn-- form).")
        raise _refuse(url, "has a space, tab, line break or other control character.")
    if "\\" in url:
        raise _refuse(url, "has a backslash, which HTTP clients read in different ways; "
                           "use / (or %5C inside the path).")
    parts = _URL.fullmatch(url)
    if parts is None:
        raise _refuse(url, "is not an http(s) URL.")
    scheme = parts["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(url, "is not an http(s) URL.")
    host, port = _host_and_port(url, scheme, parts["authority"])
    if ":" not in host and (problem := _name_problem(host)):
        raise _refuse(url, problem)
    # The fragment is never sent.
    path = (parts["rest"] or "/").partition("#")[0]
    path = path if path.startswith("/") else "/" + path
    bracketed = f"[{host}]" if ":" in host else host
    shown_port = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    canonical = f"{scheme}://{bracketed}{shown_port}{path}"
    # What is left is plain enough for every parser to agree; make sure of it, for the
    # URL as given and as it will be requested.
    for text in (url, canonical):
        try:
            split, parsed = urlsplit(text), urllib3.util.parse_url(text)
            readings = {(_host_as_read(split.hostname), split.port or _DEFAULT_PORTS[scheme]),
                        (_host_as_read(parsed.host), parsed.port or _DEFAULT_PORTS[scheme])}
        except ValueError:  # urllib3's LocationParseError is one
            readings = set()
        if readings != {(host, port)}:
            raise _refuse(url, "is read differently by different URL parsers; write it "
                               "plainly as scheme://host:port/path.")
    return scheme, host, port, canonical


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError(f"{host!r} does not resolve.") from exc
    # A scoped address (fe80::1%eth0) is link-local, which is refused anyway.
    addresses = [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos]
    return tuple(dict.fromkeys(addresses))


def _carries_ipv4(address: IPAddress) -> bool:
    if address.version == 4:
        return False
    return any(address in network for network in _CARRIES_IPV4) or (
        address in _IPV4_COMPATIBLE and int(address) > 1)


def _address_problem(host: str, address: IPAddress) -> str:
    """Why ``host``, resolved to ``address``, may not be called, or ""."""
    subject = host if host == str(address) else f"{host} (it resolves to {address})"
    if _carries_ipv4(address):
        return (f"{subject} is an IPv6 address with an IPv4 address inside (NAT64, 6to4, "
                "Teredo, IPv4-mapped or -compatible); use the IPv4 address itself.")
    if settings.OUTBOUND_HTTP_PUBLIC_ONLY:
        if (not address.is_global or address.is_multicast or address.is_reserved
                or getattr(address, "is_site_local", False)):
            return (f"{subject} is an internal address; only public addresses may be "
                    "called.")
    elif not address.is_loopback:
        return (f"{subject} is not on this machine; outside production only loopback URLs "
                "are called, so nothing leaves the machine.")
    return ""


def url_checked(url: str) -> CheckedURL:
    """Parse ``url`` strictly and resolve its host once; raise UnsafeURLError (its
    message says what is wrong, for people) unless it is an http(s) URL whose every
    address this installation may call."""
    scheme, host, port, canonical = _parse(url)
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeURLError(f"{host!r} does not resolve.")
    for address in addresses:
        if problem := _address_problem(host, address):
            raise UnsafeURLError(problem)
    return CheckedURL(url=canonical, scheme=scheme, host=host, port=port,
                      addresses=addresses)


def url_check(url: str) -> None:
    """Raise UnsafeURLError unless ``url`` is http(s) to a host this installation may call."""
    url_checked(url)


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address ``pinned_send`` checked, never to what the host resolves to
    now; for https the host name still goes in SNI and the certificate is checked against
    it. Connections are pooled per address and host name."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        pinned = getattr(request, "pinned", None)
        if pinned is None:
            raise RuntimeError("This session sends only through pinned_send.")
        checked, address = pinned
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        host_params.update(scheme=checked.scheme, host=str(address), port=checked.port)
        if checked.scheme == "https" and not checked.host_is_address:
            pool_kwargs["server_hostname"] = checked.host
        return host_params, pool_kwargs


def pinned_session() -> requests.Session:
    """A session for ``pinned_send``. It ignores the environment's proxies and .netrc: a
    proxy would look the name up again, wherever the check allowed it."""
    session = requests.Session()
    session.trust_env = False
    for prefix in ("http://", "https://"):
        session.mount(prefix, _PinnedAdapter())
    return session


def never_connected(exc: requests.RequestException) -> bool:
    """True when ``exc`` shows that no connection was made, so nothing was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def pinned_send(session: requests.Session, method: str, url: str, *,
                timeout: tuple[float, float], stream: bool = False,
                **request_kwargs: Any) -> requests.Response:
    """One request to ``url``, after ``url_checked``, to the address that was checked
    (the next one if it refuses the connection). Redirects are not followed: a 3xx is
    the answer. With ``stream`` the body is left unread for the caller to read (at most
    what it wants) and close.

    ``session`` comes from ``pinned_session``. Raises UnsafeURLError when the URL may
    not be called (no request made), or what requests and urllib3 raise."""
    checked = url_checked(url)
    request = session.prepare_request(
        requests.Request(method, checked.url, **request_kwargs))
    request.headers["Host"] = checked.host_header
    adapter = session.get_adapter(checked.url)
    # requests itself reads these with its environment settings on; the rest of the
    # environment stays out.
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    for number, address in enumerate(checked.addresses, start=1):
        request.pinned = (checked, address)  # type: ignore[attr-defined]
        try:
            response = adapter.send(request, stream=True, timeout=timeout, verify=verify,
                                    proxies={})
            break
        except requests.ConnectionError as exc:
            if number == len(checked.addresses) or not never_connected(exc):
                raise
    if not stream:
        response.content  # noqa: B018  # read the body now, as requests does
    return response


def webhook_secret() -> str:
    """A new Standard Webhooks signing secret: ``whsec_`` and 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class CallAnswer:
    """What came of one call to a tenant's URL: the HTTP status (None when no answer
    came), the start of the body (attacker-controlled: show it escaped), and an error for
    people."""

    status: int | None = None
    body: str = ""
    error: str = ""
    refused: bool = False  # the URL may not be called: no request was made
    content_type: str = ""  # the answer's media type, lower case, without parameters

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def outbound_call(*, method: str, url: str, headers: dict[str, str], body: bytes | None,
                  timeout: tuple[float, float], max_bytes: int) -> CallAnswer:
    """One request to a URL the product calls on a tenant's behalf, after checking the
    URL again: a name may resolve elsewhere since it was saved. Redirects are not followed
    (they could lead where the check would not let us go) and at most ``max_bytes`` of the
    answer are read. Never raises for what the other side does: the answer says it."""
    try:
        with pinned_session() as session, pinned_send(
                session, method, url, data=body, headers=headers, timeout=timeout,
                stream=True) as response:
            text = response.raw.read(max_bytes, decode_content=True).decode(
                "utf-8", errors="replace")
            content_type = response.headers.get("Content-Type", "").split(";")[0]
    except UnsafeURLError as exc:
        return CallAnswer(error=f"Not sent: {exc}", refused=True)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        return CallAnswer(error=f"No answer within {timeout[1]:g} s.")
    except requests.ConnectionError as exc:
        return CallAnswer(error=f"Could not connect: {exc.__class__.__name__}.")
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        # A garbled answer (say, bad compression), or a request requests would not send.
        return CallAnswer(error=f"The answer could not be read: {exc.__class__.__name__}.")
    status = response.status_code
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed; use the final URL."
    else:
        error = "" if 200 <= status < 300 else f"HTTP {status}."
    return CallAnswer(status=status, body=text, error=error,
                      content_type=content_type.strip().lower())


def signed_post(*, url: str, secret: str, webhook_id: str, body: str,
                timeout: tuple[float, float], max_bytes: int,
                user_agent: str) -> CallAnswer:
    """POST ``body`` as JSON signed per Standard Webhooks (``webhook-id`` stays the same on
    retries so receivers can drop duplicates), through ``outbound_call``."""
    sent_at = datetime.now(UTC)
    headers = {
        "content-type": "application/json", "user-agent": user_agent,
        "webhook-id": webhook_id, "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, sent_at, body),
    }
    return outbound_call(method="POST", url=url, headers=headers, body=body.encode(),
                         timeout=timeout, max_bytes=max_bytes)
