"""The provider interface: every backend sends, verifies and parses the same way
(docs/ARCHITECTURE.md#provider-backends).

A backend is built from a ``ProviderConnection`` (its settings carry the credentials and the
``api_base_url``), holds no state between calls and never touches the database: the pipelines
decide what a result means for a message.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import requests
import urllib3
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.numbers import small_int
from core.outbound_http import UnsafeURLError, never_connected, pinned_send, pinned_session
from core.text import text_storable
from tenants.models import ProviderConnection
from tenants.provider_kinds import ProviderKind

# Connect quickly or give up (the send is retried); a provider that accepted the request
# may take longer to answer.
HTTP_TIMEOUT = (3.05, 15)
# Sends of one batch in flight at once per worker process, within the session's pool of
# keep-alive connections per host (requests keeps 10).
HTTP_SEND_CONCURRENCY = 8

_session = pinned_session()


def http() -> requests.Session:
    """One pooled HTTP session per process: a TLS handshake per message would cost more
    than the send. Its connections go to the addresses checked for each send."""
    return _session


@dataclass(frozen=True)
class OutboundSMS:
    """What a backend needs to send one message; built by the pipeline from a Message."""

    message_id: int
    tenant_schema: str
    from_address: str
    to: str
    body: str
    encoding: str
    segments: int
    status_callback: str
    # The sender's kind (long_code, short_code, ...): SMPP addresses each kind differently.
    sender_kind: str = ""


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    # "sent" (the provider took it), "delivered" (the simulator delivers at once), or
    # "sending" (handed to a process that records the outcome itself: ``hands_off``).
    status: str = "sent"


def _storable(instance: object) -> None:
    """PostgreSQL text cannot hold U+0000 nor a lone surrogate (a JSON webhook can carry
    one, a UCS-2 message cut inside a surrogate pair too), which a provider or a forged
    request may send: stored, it would fail the whole transaction and the provider would
    retry for ever. Each becomes U+FFFD, visibly replaced."""
    for name, value in vars(instance).items():
        if isinstance(value, str):
            object.__setattr__(instance, name, text_storable(value))


@dataclass(frozen=True)
class ConcatInfo:
    reference: str
    total: int
    number: int

    def __post_init__(self) -> None:
        _storable(self)


@dataclass(frozen=True)
class InboundSMS:
    provider_message_id: str
    from_address: str
    to_address: str
    body: str
    concat: ConcatInfo | None = None

    def __post_init__(self) -> None:
        _storable(self)


@dataclass(frozen=True)
class StatusReport:
    provider_message_id: str
    status: str  # one of ours: sent, delivered, undelivered, failed
    error_code: str = ""
    error_message: str = ""

    def __post_init__(self) -> None:
        _storable(self)


class SendError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class TransientSendError(SendError):
    """Nothing was sent, or the provider asked us to slow down: try again later."""

    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(code, detail)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """The provider refused the message; sending it again would fail again."""


class OutcomeUnknownError(SendError):
    """The request may have reached the provider (e.g. a read timeout): resending could
    duplicate the message unless the backend's sends are idempotent."""


class InvalidPayload(Exception):
    """A webhook the backend cannot parse; the view answers 400 with ``code``."""

    def __init__(self, detail: str, code: str = "malformed_payload") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Backend:
    # True when sending the same message twice cannot deliver it twice (the provider
    # deduplicates on our message id); only then is a send with an unknown outcome retried.
    idempotent_send: ClassVar[bool] = False
    # True when ``send`` only hands the message to another process (the SMPP connector),
    # which records the outcome; handing it over again is harmless, as the hand-over is
    # idempotent and that process never submits a part twice.
    hands_off: ClassVar[bool] = False
    # How many sends of a batch may be in flight at once. An HTTP backend mostly waits on
    # the network, so its sends overlap over the session's pooled keep-alive connections.
    send_concurrency: ClassVar[int] = 1
    # The kind: its name and the settings a connection of it takes (keys, required, secret,
    # defaults, checks), read by the connection form and ``add_provider_connection``.
    declaration: ClassVar[ProviderKind]

    def __init__(self, connection: ProviderConnection) -> None:
        self.connection = connection
        self.settings = connection.settings

    def setting(self, key: str) -> str:
        """A setting's value, or the default the kind declares for it."""
        return str(self.settings.get(key) or self.declaration.default(key))

    def send(self, sms: OutboundSMS) -> SendResult:
        raise NotImplementedError

    def send_batch(self, messages: list[OutboundSMS]) -> list[SendResult | SendError]:
        """Send several messages; answer per message, in order, with its result or the
        ``SendError`` its send raised. One after another, or up to ``send_concurrency``
        at a time; a backend with a batch call of its own overrides this."""
        if self.send_concurrency > 1 and len(messages) > 1:
            return list(_send_pool(self.send_concurrency).map(self._send_one, messages))
        return [self._send_one(sms) for sms in messages]

    def _send_one(self, sms: OutboundSMS) -> SendResult | SendError:
        try:
            return self.send(sms)
        except SendError as exc:
            return exc

    def verify(self, request: HttpRequest) -> bool:
        raise NotImplementedError

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        raise NotImplementedError

    def parse_status(self, request: HttpRequest) -> StatusReport:
        raise NotImplementedError

    def acknowledge(self) -> HttpResponse:
        """The answer a provider expects once its webhook is stored."""
        return HttpResponse(status=204)


@functools.cache
def _threads(size: int, pid: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="send")


def _send_pool(size: int) -> ThreadPoolExecutor:
    """A pool of ``size`` threads in this process: keyed by process id, because the
    threads of a pool made before a fork do not exist in the child (Celery's prefork)."""
    return _threads(size, os.getpid())


def public_url(request: HttpRequest) -> str:
    """The URL the provider called, as it saw it: behind a proxy the request's own scheme,
    host and port differ, so signatures are checked against PUBLIC_BASE_URL."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def status_callback_url(connection_name: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/{connection_name}/status"


def classify_http_error(response: requests.Response, code: str, detail: str) -> SendError:
    """429 and 5xx are the provider's trouble, worth retrying; other 4xx are ours."""
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After")
        return TransientSendError(
            code, detail, retry_after=small_int(retry_after),
        )
    return PermanentSendError(code, detail)


def post(url: str, **kwargs) -> requests.Response:
    """POST for a backend, to the address the URL was checked for, following no redirect
    (a 3xx is a permanent error: the base URL should be the final one). A request that
    never connected is transient (nothing left); one that failed after connecting (read
    timeout, dropped connection, a garbled answer) has an unknown outcome."""
    try:
        response = pinned_send(http(), "POST", url, timeout=HTTP_TIMEOUT, **kwargs)
    except UnsafeURLError as exc:
        raise PermanentSendError(exc.code, str(exc)) from exc
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader) as exc:
        # Refused by requests before anything was sent: a setting needs fixing.
        raise PermanentSendError("provider_misconfigured", str(exc)) from exc
    except requests.ConnectionError as exc:
        if never_connected(exc):
            raise TransientSendError("provider_unreachable", str(exc)) from exc
        raise OutcomeUnknownError("provider_connection_lost", str(exc)) from exc
    except requests.Timeout as exc:
        raise OutcomeUnknownError("provider_timeout", str(exc)) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise OutcomeUnknownError("provider_bad_response", str(exc)) from exc
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")[:200]
        raise PermanentSendError(
            "provider_redirected",
            f"The provider answered HTTP {response.status_code} (to {location!r}); "
            "redirects are not followed: set the connection's URL to the final address.")
    return response
