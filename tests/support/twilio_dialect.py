"""Helpers of the Twilio-dialect tests: Twilio's own client pointed at the portal served
over HTTP, and the worker's part of the work done in the test thread."""

from __future__ import annotations

import logging

from django_tenants.utils import schema_context
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from compat.twilio.callbacks import do_status_callback
from compat.twilio.credentials import twilio_account_ensure
from compat.twilio.models import Delivery, SmsWebhook, StatusCallback
from compat.twilio.webhooks import do_sms_webhook
from messaging.inbound import message_process
from messaging.models import Message
from messaging.outbound import message_deliver
from tenants.models import Tenant

# The client logs every request and its headers at INFO.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class _HostClient(TwilioHttpClient):
    """Twilio's HTTP client, sending every request with ``Host: host``: Python's resolver
    does not resolve ``*.localhost``, so a tenant host is reached at 127.0.0.1."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host

    def request(self, method, url, params=None, data=None, headers=None, **kwargs):
        return super().request(method, url, params=params, data=data,
                               headers={**(headers or {}), "Host": self.host}, **kwargs)


def sdk_client(port: int, username: str, password: str, *, account_sid: str | None = None,
               host: str | None = None) -> Client:
    """Twilio's client with its API base URLs on the portal at ``port``: the public host
    (``localhost``, which Python resolves), or ``host`` (a tenant's) at 127.0.0.1."""
    http_client = _HostClient(host) if host else None
    client = Client(username, password, account_sid, http_client=http_client)
    base = f"http://127.0.0.1:{port}" if host else f"http://localhost:{port}"
    client.api.base_url = base
    client.messaging.base_url = base
    return client


def twilio_credentials(tenant: Tenant) -> tuple[str, str]:
    account = twilio_account_ensure(tenant=tenant)
    return account.sid, account.auth_token


def work_off(tenant: Tenant) -> None:
    """Do in the test thread what the worker would: process received texts, send queued
    messages, call the SmsUrl apps and post status callbacks, until nothing is left."""
    with schema_context(tenant.schema_name):
        for _ in range(10):
            done = 0
            for message_id in Message.objects.filter(status="received").values_list(
                    "pk", flat=True):
                message_process(message_id=message_id)
                done += 1
            for message_id in Message.objects.filter(status="queued").values_list(
                    "pk", flat=True):
                message_deliver(message_id=message_id)
                done += 1
            for webhook_id in SmsWebhook.objects.filter(status=Delivery.PENDING).values_list(
                    "pk", flat=True):
                do_sms_webhook(webhook_id=webhook_id)
                done += 1
            for callback_id in StatusCallback.objects.filter(
                    status=Delivery.PENDING, attempts=0).values_list("pk", flat=True):
                do_status_callback(callback_id=callback_id)
                done += 1
            if not done:
                return
