"""Provider backends by connection kind (DESIGN §6)."""

from __future__ import annotations

from messaging.providers.base import Backend
from messaging.providers.http import HttpBackend
from messaging.providers.simulator import SimulatorBackend
from messaging.providers.smpp import SmppBackend
from messaging.providers.twilio import TwilioBackend
from messaging.providers.vonage import VonageBackend
from tenants.models import ProviderConnection

BACKENDS: dict[str, type[Backend]] = {
    backend.kind: backend
    for backend in (SimulatorBackend, TwilioBackend, VonageBackend, HttpBackend, SmppBackend)
}


def backend_for(connection: ProviderConnection) -> Backend:
    return BACKENDS[connection.kind](connection)
