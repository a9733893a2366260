"""A fake Twilio REST API on 127.0.0.1 speaking Twilio's wire format: form-encoded
``Messages.json`` with basic auth, JSON answers and errors as Twilio writes them, over
HTTP/1.1 keep-alive connections as Twilio's API serves them."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Recorded:
    path: str
    auth: tuple[str, str] | None
    form: dict[str, str]
    # The client's port: requests on one keep-alive connection share it.
    client_port: int = 0


@dataclass
class FakeTwilio:
    sid: str = "AC" + "0" * 32
    token: str = "twilio-auth-token-0123456789"
    requests: list[Recorded] = field(default_factory=list)
    # Scripted answers, consumed in order: (HTTP status, JSON body). Then 201 with a new sid.
    answers: list[tuple[int, dict]] = field(default_factory=list)
    # Scripted answers by recipient (``To``), for sends that arrive in no set order.
    answers_to: dict[str, tuple[int, dict]] = field(default_factory=dict)
    delay: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body leave in two writes: without this, Nagle's
            # algorithm holds the body for the client's delayed ACK (40 ms a request).
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    auth = (user, password)
                fake.requests.append(Recorded(self.path, auth, form, self.client_address[1]))
                if fake.delay:
                    time.sleep(fake.delay)
                expected = f"/2010-04-01/Accounts/{fake.sid}/Messages.json"
                if self.path != expected or auth != (fake.sid, fake.token):
                    status, body = 401, {"code": 20003, "message": "Authenticate"}
                elif form.get("To") in fake.answers_to:
                    status, body = fake.answers_to[form["To"]]
                elif fake.answers:
                    status, body = fake.answers.pop(0)
                else:
                    status, body = 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued",
                                         "num_segments": "1", "to": form.get("To")}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
