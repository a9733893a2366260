"""The built-in simulator: nothing leaves the machine; every message is delivered at once.

Customers' messages enter through ``POST /api/v1/simulator/inbound`` and the phone simulator
page, not through a provider webhook.
"""

from __future__ import annotations

from django.http import HttpRequest

from messaging.providers.base import Backend, InboundSMS, OutboundSMS, SendResult, StatusReport
from tenants.provider_kinds import ProviderKind


class SimulatorBackend(Backend):
    declaration = ProviderKind("simulator")
    # The id is derived from our own message id: sending twice is the same delivery.
    idempotent_send = True

    def send(self, sms: OutboundSMS) -> SendResult:
        return SendResult(provider_message_id=f"SIM{sms.tenant_schema}-{sms.message_id}",
                          status="delivered")

    def verify(self, request: HttpRequest) -> bool:
        return False

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        raise NotImplementedError("simulator messages enter through the API")

    def parse_status(self, request: HttpRequest) -> StatusReport:
        raise NotImplementedError("the simulator has no status callbacks")
