"""SMPP benchmark for `make bench`: submit_sm per second from the connector process to the
SMSC double (``tests/support/fake_smsc.py``) on 127.0.0.1 with a window of 10.

Messages are queued and handed to the connector's Redis queue through the real send path
(``messages_deliver`` -> the ``smpp`` backend) before the connector starts, so the figure is
the connector's: take jobs, claim parts, submit within the window, store the SMSC ids.
"""

from __future__ import annotations

import os
import sys
import time

from django_tenants.utils import schema_context

from bench.messaging import child_env, processes
from messaging.models import Message, Sender
from messaging.outbound import messages_deliver, messages_send_bulk
from messaging.senders import sender_register, sender_review
from tenants.models import ProviderConnection, Tenant
from tenants.services import tenant_provision
from tests.support.fake_smsc import FakeSMSC

MESSAGES = int(os.environ.get("BENCH_SMPP_MESSAGES", "3000"))
WINDOW = 10
CONNECTION = "bench-smpp"
SENDER = "+15550004000"


def _tenant() -> Tenant:
    tenant = Tenant.objects.filter(slug="bench-smpp").first()
    if tenant is None:
        tenant = tenant_provision(slug="bench-smpp", name="Bench SMPP",
                                  owner_email="owner@smpp.example",
                                  owner_password="long-enough-passphrase-1")
    return tenant


def submit_rate() -> dict[str, float]:
    """submit_sm/s as the SMSC double saw them, first to last, and the time until every
    message was stored `sent` with its SMSC id."""
    with FakeSMSC() as smsc:
        smsc.auto_receipt = None
        ProviderConnection.objects.update_or_create(name=CONNECTION, defaults={
            "kind": "smpp", "is_active": True, "settings": {
                "host": "127.0.0.1", "port": str(smsc.port), "system_id": smsc.system_id,
                "password": smsc.password, "window": str(WINDOW), "submit_rate": "0"}})
        tenant = _tenant()
        with schema_context(tenant.schema_name):
            if not Sender.objects.filter(address=SENDER).exists():
                sender_register(address=SENDER, kind="long_code", connection=CONNECTION)
            Sender.objects.filter(address=SENDER).update(rate_limit=None)
        sender_review(tenant=tenant, address=SENDER, decision="approve")
        with schema_context(tenant.schema_name):
            messages = messages_send_bulk(
                items=[{"from": SENDER, "to": f"+1628{i:07d}", "body": f"Your code is {i}"}
                       for i in range(MESSAGES)], origin="api")
            ids = [m.pk for m in messages]
            for start in range(0, len(ids), 50):
                messages_deliver(message_ids=ids[start:start + 50])
        command = [sys.executable, "manage.py", "smpp_connector", "--connection", CONNECTION]
        with processes(command, env=child_env()):
            deadline = time.monotonic() + 300
            while len(smsc.submits) < MESSAGES and time.monotonic() < deadline:
                time.sleep(0.05)
            with schema_context(tenant.schema_name):
                while (Message.objects.filter(pk__in=ids, status="sent").count() < MESSAGES
                       and time.monotonic() < deadline):
                    time.sleep(0.1)
            stored = time.monotonic()
        submits = list(smsc.submits)
    if len(submits) < MESSAGES:
        raise RuntimeError(f"only {len(submits)} of {MESSAGES} submits in 5 min")
    span = submits[-1].at - submits[0].at
    return {"rate": (len(submits) - 1) / span, "submits": len(submits), "seconds": span,
            "stored": stored - submits[0].at,
            "duplicates": len(submits) - len({s.destination_addr for s in submits})}
