"""A secret shown once after a Post/Redirect/Get (docs/ARCHITECTURE.md#security-rules).

The POST that creates a key keeps what the next page shows in the session, encrypted like
every secret at rest (``core.secrets``), and redirects; the GET that follows takes it out
and shows it. A reload finds nothing and creates nothing: the secret is gone, as it would
be on the provider consoles this follows."""

from __future__ import annotations

import json

from django.http import HttpRequest

from core.secrets import secret_decrypt, secret_encrypt

SESSION_PREFIX = "shown_once:"


def shown_once_keep(request: HttpRequest, *, name: str, payload: dict) -> None:
    """Keep ``payload`` (JSON-able) for the next ``shown_once_take`` of ``name``."""
    request.session[SESSION_PREFIX + name] = secret_encrypt(json.dumps(payload))


def shown_once_take(request: HttpRequest, *, name: str) -> dict | None:
    """The payload kept under ``name``, removed from the session; None when there is none
    (already shown, or never created)."""
    stored = request.session.pop(SESSION_PREFIX + name, None)
    return json.loads(secret_decrypt(stored)) if stored else None
