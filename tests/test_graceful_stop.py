"""Stopping `make run`'s supervisor during a bulk send: the worker finishes the batches in
hand (a warm shutdown) instead of its pool processes dying under them, so no message is left
`sending` for the sweep to settle. With no beat, hence no sweep, a worker started afterwards
sends every message, each exactly once."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from cpaas.management.commands.run import worker_child
from cpaas.supervisor import Supervisor
from messaging.models import Message
from messaging.outbound import messages_send_bulk
from tests.support.messaging import ALPHA_NUMBER
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CUSTOMERS = [f"+1415556{index:04d}" for index in range(300)]


def statuses(schema: str) -> Counter:
    with schema_context(schema):
        return Counter(Message.objects.filter(to_address__in=CUSTOMERS)
                       .values_list("status", flat=True))


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_stop_during_a_bulk_send_leaves_no_message_to_the_sweep(twilio_world, process_env,
                                                                  tmp_path):
    alpha, _, fake = twilio_world
    fake.delay = 0.3  # each chunk of a batch spends a while in the provider's hands
    supervisor = Supervisor([worker_child(str(BIN))], process_env, stop_grace=60)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        with schema_context(alpha.schema_name):
            messages_send_bulk(items=[{"from": ALPHA_NUMBER, "to": phone, "body": "Sale"}
                                      for phone in CUSTOMERS], origin="api")
        wait_for(lambda: statuses(alpha.schema_name)["sent"] >= 20, 120, "the first sends")
    finally:
        supervisor.stop()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    stopped = statuses(alpha.schema_name)
    assert stopped["sending"] == 0, stopped  # nothing was cut off in the provider's hands
    assert stopped["sent"] < len(CUSTOMERS), "the stop came too late to test anything"

    with celery_worker(process_env, log=(tmp_path / "worker.log").open("w")):
        wait_for(lambda: statuses(alpha.schema_name)["sent"] == len(CUSTOMERS), 120,
                 "the rest of the batch, without a sweep")
    assert Counter(request.form["To"] for request in fake.requests) == Counter(CUSTOMERS)
