"""Fake provider servers for tests: real HTTP on 127.0.0.1, requests recorded, answers scripted.

``FakeHTTPServer(responder)`` serves every request with ``responder(request) -> Reply`` in a
thread; point a backend's ``api_base_url`` (or ``url``) at ``server.url``. It listens on
127.0.0.1 unless given another local ``host`` (``::1``, say), and speaks TLS with ``tls``.
``silent_port()`` accepts connections and never answers; ``closed_port()`` refuses them.
``FakeSMTPServer`` is a mail server that keeps every message it is given.
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request as the fake server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def form(self) -> dict[str, str]:
        return {key: values[-1]
                for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


Responder = Callable[[Recorded], Reply]


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class FakeHTTPServer:
    def __init__(self, responder: Responder, *, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        self.responder = responder
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.command, self.path, dict(self.headers.items()),
                                    self.rfile.read(length))
                server.requests.append(recorded)
                reply = server.responder(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                body, content_type = reply.encoded()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": content_type, **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args) -> None:
                pass

        self._httpd = (_ThreadingHTTPServer6 if ":" in host else ThreadingHTTPServer)(
            (host, 0), Handler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._scheme = "http" if tls is None else "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> FakeHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeHTTPServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections (the kernel completes the handshake) but
    never reads or answers: a request to it connects, then times out waiting."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a port chosen by closed_port() may linger in TIME_WAIT
    daemon_threads = True


class FakeSMTPServer:
    """SMTP on 127.0.0.1:``port`` (a free one by default) that accepts every message and
    keeps it, parsed, in ``messages``. Enough of the protocol for ``smtplib``."""

    def __init__(self, port: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 fake-smtp ready")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (row := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(row[1:] if row.startswith(b"..") else row)
                        server.messages.append(
                            message_from_bytes(b"".join(lines), policy=policy.default))
                        self.reply("250 queued")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:  # EHLO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 ok")

        self._server = _ThreadingTCPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSMTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
