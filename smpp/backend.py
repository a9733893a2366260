"""SMPP 3.4 to an operator's SMSC: the backend only hands the message to the connector.

A Celery task cannot hold the long-lived TCP bind SMPP needs, so ``send`` queues a job in
Redis for the ``smpp_connector`` process (``smpp.queue``), which submits it, stores the
SMSC's ids per part and moves the message to ``sent`` itself. Receipts and customers'
messages come over the bind too: there are no webhooks for this kind.
"""

from __future__ import annotations

from django.http import HttpRequest

from messaging.providers.base import Backend, InboundSMS, OutboundSMS, SendResult, StatusReport
from smpp.config import SMPP_KIND
from smpp.queue import Job, job_enqueue


class SmppBackend(Backend):
    declaration = SMPP_KIND
    hands_off = True

    def send(self, sms: OutboundSMS) -> SendResult:
        job_enqueue(connection=self.connection.name, job=Job(
            schema=sms.tenant_schema, message_id=sms.message_id,
            from_address=sms.from_address, to=sms.to, body=sms.body,
            sender_kind=sms.sender_kind,
        ))
        return SendResult(provider_message_id="", status="sending")

    def verify(self, request: HttpRequest) -> bool:
        return False

    def parse_inbound(self, request: HttpRequest) -> InboundSMS:
        raise NotImplementedError("SMPP messages arrive over the bind")

    def parse_status(self, request: HttpRequest) -> StatusReport:
        raise NotImplementedError("SMPP receipts arrive over the bind")
