"""Provider backends by connection kind (docs/ARCHITECTURE.md#provider-backends).

A backend registers itself here with its kind's settings declaration; the kinds messaging
ships are registered below, the ``smpp`` kind by the smpp app when Django starts.
"""

from __future__ import annotations

from messaging.providers.base import Backend
from messaging.providers.http import HttpBackend
from messaging.providers.simulator import SimulatorBackend
from messaging.providers.twilio import TwilioBackend
from messaging.providers.vonage import VonageBackend
from tenants.models import ProviderConnection
from tenants.provider_kinds import provider_kind_register

_backends: dict[str, type[Backend]] = {}


def backend_register(backend: type[Backend]) -> None:
    """Make ``backend`` the one for its kind, and its settings declaration known."""
    _backends[backend.declaration.name] = backend
    provider_kind_register(backend.declaration)


def backend_for(connection: ProviderConnection) -> Backend:
    return _backends[connection.kind](connection)


for _backend in (SimulatorBackend, TwilioBackend, VonageBackend, HttpBackend):
    backend_register(_backend)
