"""The portal served over real HTTP from the test process, for browsers and HTTP tools.

A threaded WSGI server on 127.0.0.1 around Django's own application (what gunicorn serves),
in the test database. pytest-django's ``live_server`` is not used: it flushes every table
after the test, and the session's tenants must outlive it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.wsgi import get_wsgi_application
from django.db import connections


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def handle(self) -> None:
        try:
            super().handle()
        finally:
            # Each request has its own thread, and so its own database connection: close
            # it, or the test database cannot be dropped at the end of the session.
            connections.close_all()

    def log_message(self, format: str, *args) -> None:
        pass


@contextmanager
def portal_server() -> Iterator[int]:
    """Serve the portal on a free port of 127.0.0.1 and yield the port. The caller must
    allow database access outside the test transaction (``committed_db``)."""
    server = make_server("127.0.0.1", 0, get_wsgi_application(),
                         server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
