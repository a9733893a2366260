"""A free worker process takes customers' texts and single sends before anything else
queued (cpaas/queue_order.py): a reply does not wait for batches of a campaign's sends."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db.models import Min
from django_tenants.utils import schema_context

from cpaas.queue_order import InteractiveFirst
from messaging.inbound import message_receive_simulated
from messaging.models import Message
from messaging.outbound import messages_send_bulk
from tests.support.messaging import SIM_NUMBER
from tests.support.workers import celery_worker


def test_the_queues_customers_wait_on_come_first_whatever_was_taken_last():
    cycle = InteractiveFirst()
    cycle.update(["default", "bulk", "retries", "webhooks", "outbound", "inbound"])
    for taken in ("inbound", "bulk", "outbound", "default", "inbound", "webhooks"):
        cycle.rotate(taken)
        order = cycle.consume(6)
        assert order[:2] == ["inbound", "outbound"]
        assert sorted(order) == sorted(settings.WORKER_QUEUES)
    # The others still take turns behind them.
    cycle.rotate("default")
    assert cycle.consume(6)[-1] == "default"


@pytest.mark.slow
def test_a_stop_queued_behind_a_bulk_backlog_is_answered_before_the_backlog(
        committed_alpha, process_env, tmp_path):
    alpha = committed_alpha
    with schema_context(alpha.schema_name):
        # Twenty batches of sends wait in the broker, then a customer texts STOP.
        backlog = messages_send_bulk(items=[{"from": SIM_NUMBER, "to": f"+1415555{index:04d}",
                                             "body": "Sale"} for index in range(1000)],
                                     origin="api")
        message_receive_simulated(from_address="+14155559999", to=SIM_NUMBER, body="STOP")
    # The worker names the customers' queues last: kombu would take from ``bulk`` first.
    queues = ["bulk", "default", "retries", "webhooks", "outbound", "inbound"]
    with celery_worker(process_env, queues=queues, log=(tmp_path / "worker.log").open("w")):
        deadline = time.monotonic() + 60
        while True:
            with schema_context(alpha.schema_name):
                pending = Message.objects.filter(status__in=["received", "queued",
                                                             "sending"]).count()
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.25)
    with schema_context(alpha.schema_name):
        confirmation = Message.objects.get(to_address="+14155559999", origin="system")
        first_bulk = Message.objects.filter(pk__in=[m.pk for m in backlog]).aggregate(
            first=Min("sending_at"))["first"]
        assert not pending
    assert confirmation.status == "delivered"
    assert confirmation.sending_at < first_bulk
