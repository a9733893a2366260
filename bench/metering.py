"""What metering costs (issue 20): the same pipelines with ``METERING_ENABLED`` on and off,
in one run (docs/ARCHITECTURE.md#metering).

Metering is switched per process, so every run starts its processes afresh with the
setting on or off, and the runs alternate on / off / on / off: the machine is shared, and
its other load and PostgreSQL's background work after a run's writes then fall on both
sides alike. Three figures:

- inbound ingest: `make run` (web, worker and beat) under wrk, as bench/messaging.py
  measures it; the webhook itself meters nothing, so this shows what the worker's
  counting takes from the web on the same cores;
- inbound processing: a fixed backlog of received texts drained by a Celery worker
  alone, where the counting happens;
- outbound: `/messages/bulk` to the simulator until every message is delivered.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import Max, Min, Sum
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from bench.messaging import (
    INBOUND_NUMBER,
    INGEST_CONNECTIONS,
    INGEST_SECONDS,
    _backlog_drain,
    celery_worker,
    child_env,
    free_port,
    make_run,
    outbound,
    processes,
    setup,
    signed_requests,
    wait_http,
    wrk,
)
from messaging.inbound import message_receive
from messaging.models import Message
from messaging.providers.base import InboundSMS
from tenants.models import ProviderConnection, Tenant, UsageCounter

# Runs per side; the sides alternate, metering on first.
ROUNDS = int(os.environ.get("BENCH_METERING_ROUNDS", "3"))
# About six seconds of processing: a shorter drain is lost in the machine's noise.
BACKLOG = int(os.environ.get("BENCH_METERING_BACKLOG", "20000"))
# Messages per outbound round: more than the messaging section's 3,000, which the
# simulator delivers in about two seconds, too short to see 5% through the machine's noise.
OUTBOUND_COUNT = int(os.environ.get("BENCH_METERING_MESSAGES", "10000"))
OUTBOUND_MEASURED = 2
SIDES = {"on": "1", "off": "0"}
# New customers for every run: area codes the messaging section leaves unused.
INGEST_AREA, BACKLOG_AREA, OUTBOUND_AREA = 301, 501, 601


def prepare() -> tuple[Tenant, str]:
    """The messaging bench's tenant and senders (set up here unless the messaging section
    did so earlier in this run) and an API key of its own."""
    tenant = Tenant.objects.filter(slug="bench-msg").first()
    if tenant is None:
        return setup()
    with schema_context(tenant.schema_name):
        key = api_key_create(name="bench-metering")[1]
    return tenant, key


def _order() -> list[str]:
    return [side for _ in range(ROUNDS) for side in SIDES]


@contextmanager
def _switch_checked(tenant: Tenant, side: str, direction: str) -> Iterator[None]:
    """Fail unless the run counted in the usage counters when metering was on and counted
    nothing when it was off: a figure of processes that did not take the setting would
    compare nothing."""
    def counted() -> int:
        return UsageCounter.objects.filter(tenant=tenant, direction=direction).aggregate(
            total=Sum("messages"))["total"] or 0

    before = counted()
    yield
    added = counted() - before
    if (added > 0) != (side == "on"):
        raise RuntimeError(f"metering {side}, yet {added} {direction} messages counted")


def _summary(runs: dict[str, list[float]]) -> dict:
    """Each side's median, and the cost: how much less metering on achieved than off."""
    on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
    return {"on": on, "off": off, "runs": runs, "cost": (off - on) / off}


def ingest(tenant: Tenant) -> dict:
    """Req/s of `make run` under wrk, metering on and off, each run in a fresh `make run`
    and once the previous run's messages are processed."""
    path = "/webhooks/bench-twilio/inbound"
    port = free_port()  # one port for every run: the webhooks are signed for its URL
    public_url = f"http://localhost:{port}"
    runs: dict[str, list[float]] = {side: [] for side in SIDES}
    drains: list[float] = []
    for index, side in enumerate(_order()):
        file = signed_requests(path, public_url, INGEST_AREA + index, INGEST_SECONDS * 5000)
        try:
            env = child_env(PORT=str(port), METERING_ENABLED=SIDES[side])
            with _switch_checked(tenant, side, "inbound"), processes(make_run(), env=env):
                wait_http(f"http://127.0.0.1:{port}/readyz", timeout=180)
                time.sleep(5)  # the worker and beat start after the web
                result = wrk(port, path, f"localhost:{port}", file, INGEST_SECONDS,
                             INGEST_CONNECTIONS)
                if result["non2xx"] or result["errors"]:
                    raise RuntimeError(f"inbound ingest with metering {side}: {result}")
                runs[side].append(result["rps"])
                drains.append(_backlog_drain(tenant))
        finally:
            file.unlink()
    return {**_summary(runs), "drain_seconds": max(drains)}


def _backlog_store(area: int) -> None:
    """BACKLOG received texts, each from a new customer, stored as the webhook stores them
    (with no worker running, they wait)."""
    connection = ProviderConnection.objects.get(name="bench-twilio")
    for index in range(BACKLOG):
        message_receive(connection=connection, sms=InboundSMS(
            provider_message_id=f"SMM{area:03d}{index:029d}",
            from_address=f"+1{area:03d}{index:07d}", to_address=INBOUND_NUMBER,
            body=f"Hello, is my order {index} ready?"))


def processing(tenant: Tenant) -> dict:
    """Texts per second a Celery worker (concurrency 2, every queue, as `make run` starts
    it) processes from a backlog of BACKLOG, metering on and off: from the first batch's
    processing time to the last's, over the messages processed before the last batch."""
    runs: dict[str, list[float]] = {side: [] for side in SIDES}
    for index, side in enumerate(_order()):
        area = BACKLOG_AREA + index
        _backlog_store(area)
        env = child_env(METERING_ENABLED=SIDES[side])
        with (_switch_checked(tenant, side, "inbound"),
              processes(celery_worker(",".join(settings.WORKER_QUEUES), 2, f"meter{index}"),
                        env=env)):
            _backlog_drain(tenant)
        with schema_context(tenant.schema_name):
            texts = Message.objects.filter(direction=Message.Direction.INBOUND,
                                           from_address__startswith=f"+1{area:03d}")
            span = texts.aggregate(first=Min("processed_at"), last=Max("processed_at"))
            before_last = texts.filter(processed_at__lt=span["last"]).count()
        runs[side].append(before_last / (span["last"] - span["first"]).total_seconds())
    return _summary(runs)


def outbound_cost(tenant: Tenant, key: str) -> dict:
    """`/messages/bulk` -> simulator `delivered`, msg/s, metering on and off: each run a
    fresh web and worker; a first round warms them up, the next OUTBOUND_MEASURED rounds
    are measured."""
    runs: dict[str, list[float]] = {side: [] for side in SIDES}
    rounds = 1 + OUTBOUND_MEASURED
    for index, side in enumerate(_order()):
        with _switch_checked(tenant, side, "outbound"):
            figures = outbound(tenant, key, rounds_wanted=rounds, count=OUTBOUND_COUNT,
                               first_area=OUTBOUND_AREA + rounds * index,
                               env=child_env(METERING_ENABLED=SIDES[side]))
        runs[side] += figures["rates"][1:]
    return _summary(runs)


def measure() -> dict[str, dict]:
    tenant, key = prepare()
    print(f"bench: metering's cost to inbound ingest, {ROUNDS} x on/off `make run` runs of "
          f"{INGEST_SECONDS} s ...", flush=True)
    inbound = ingest(tenant)
    print(f"bench: metering's cost to processing, {ROUNDS} x on/off backlogs of {BACKLOG:,} "
          "texts ...", flush=True)
    processed = processing(tenant)
    print(f"bench: metering's cost to outbound, {ROUNDS} x on/off runs of "
          f"{1 + OUTBOUND_MEASURED} x {OUTBOUND_COUNT:,} messages ...", flush=True)
    sent = outbound_cost(tenant, key)
    return {"ingest": inbound, "processing": processed, "outbound": sent}
