"""Automation benchmarks for `make bench`: the latency from an inbound STOP or keyword
webhook to its reply being handed to the backend (idle, and behind a bulk backlog), the
cost of matching an inbound message against 1,000 keyword rules, and importing a
suppression list of 100,000 rows."""

from __future__ import annotations

import random
import statistics
import threading
import time
from datetime import UTC, datetime

import redis
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from bench.messaging import (
    SIM_NUMBER,
    TOKEN,
    celery_worker,
    child_env,
    free_port,
    gunicorn,
    processes,
    wait_http,
)
from messaging.models import KeywordRule, Message, Sender
from messaging.providers.twilio import signature
from messaging.rules import rule_match
from messaging.senders import sender_register, sender_review
from tenants.models import ProviderConnection, Tenant
from tenants.services import tenant_provision
from tests.support.fake_twilio import FakeTwilio

LATENCY_MESSAGES = 30
LATENCY_NUMBER = "+15550006000"
MATCH_SAMPLES = 5000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def keyword_latency(tenant: Tenant, key: str) -> dict[str, dict[str, float]]:
    """From an inbound STOP or keyword webhook to its reply handed to the backend (the
    reply's ``sending_at``, when the send task claims it for the twilio backend, which
    answers from a fake Twilio): LATENCY_MESSAGES messages one after another, each from a
    new customer, alternately STOP and a keyword rule's word; first on an idle system,
    then while `/messages/bulk` keeps a backlog of simulator sends in front of the same
    worker (one process, concurrency 2, every queue)."""
    # Earlier benchmarks left tasks in the broker, for no worker.
    redis.Redis.from_url(settings.REDIS_URL).flushall()
    fake = FakeTwilio(token=TOKEN).start()
    ProviderConnection.objects.filter(name="bench-twilio").update(settings={
        "account_sid": fake.sid, "auth_token": TOKEN, "api_base_url": fake.base_url})
    # A tenant of its own: the ingest benchmark left thousands of messages waiting for
    # processing in the other, and a tenant's messages are processed oldest first.
    answering = Tenant.objects.filter(slug="bench-lat").first() or tenant_provision(
        slug="bench-lat", name="Bench latency", owner_email="owner@latency.example",
        owner_password="long-enough-passphrase-1")
    with schema_context(answering.schema_name):
        if not Sender.objects.filter(address=LATENCY_NUMBER).exists():
            sender_register(address=LATENCY_NUMBER, kind="long_code",
                            connection="bench-twilio")
        KeywordRule.objects.create(keyword="HOURS", reply="We are open 9 to 5.")
        # A short code's rate: a long code's 1 segment/s would measure the bucket.
        Sender.objects.filter(address=LATENCY_NUMBER).update(rate_limit=100)
    sender_review(tenant=answering, address=LATENCY_NUMBER, decision="approve")
    port = free_port()
    public_url = f"http://localhost:{port}"
    figures = {}
    try:
        with processes(gunicorn("cpaas.wsgi:application", port),
                       celery_worker(",".join(settings.WORKER_QUEUES), 2, "automation"),
                       env=child_env(PUBLIC_BASE_URL=public_url)):
            wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(4)  # the worker's start-up
            # Two exchanges not counted: the first task of a fresh worker process loads
            # what every later one finds in memory (rules, connections, settings).
            keyword_replies(answering, port, fake.sid, first=9_000, count=2)
            figures["idle"] = keyword_replies(answering, port, fake.sid, first=0)
            stop = threading.Event()
            load = threading.Thread(target=_bulk_load, args=(tenant, key, port, stop))
            load.start()
            try:
                time.sleep(2)  # a backlog of bulk sends has built up
                figures["loaded"] = keyword_replies(answering, port, fake.sid,
                                                first=LATENCY_MESSAGES)
            finally:
                stop.set()
                load.join()
            figures["loaded"]["bulk"] = _bulk_sent(tenant)
    finally:
        fake.stop()
    return figures


def keyword_replies(tenant: Tenant, port: int, sid: str, *, first: int,
                    count: int = LATENCY_MESSAGES, to: str = LATENCY_NUMBER
                    ) -> dict[str, float]:
    """``count`` inbound webhooks to ``to`` (a sender of ``tenant`` on the bench-twilio
    connection, with a HOURS keyword rule) one after another, alternately STOP and the
    keyword, each from a new customer (``first`` numbers them): the time from just before
    each POST to its reply's ``sending_at``, in ms."""
    path = "/webhooks/bench-twilio/inbound"
    public_url = f"http://localhost:{port}"
    session = requests.Session()
    latencies = []
    for index in range(first, first + count):
        phone = f"+1666{index:07d}"
        params = {"MessageSid": f"SMLAT{index:029d}", "AccountSid": sid, "From": phone,
                  "To": to, "Body": "STOP" if index % 2 else "hours?",
                  "NumMedia": "0"}
        headers = {"Host": f"localhost:{port}",
                   "X-Twilio-Signature": signature(TOKEN, public_url + path, params)}
        started = time.time()
        session.post(f"http://127.0.0.1:{port}{path}", data=params, headers=headers,
                     timeout=10).raise_for_status()
        deadline = time.monotonic() + 10
        handed = None
        with schema_context(tenant.schema_name):
            while handed is None and time.monotonic() < deadline:
                handed = Message.objects.filter(
                    direction="outbound", to_address=phone, sending_at__isnull=False,
                ).values_list("sending_at", flat=True).first()
                if handed is None:
                    time.sleep(0.005)
        if handed is not None:
            latencies.append((handed.timestamp() - started) * 1000)
        time.sleep(0.1)  # the next customer writes a moment later
    return {"p50": statistics.median(latencies), "max": max(latencies),
            "answered": len(latencies), "sent": count}


def _bulk_load(tenant: Tenant, key: str, port: int, stop: threading.Event) -> None:
    """Keep the simulator's bulk queue full: 1,000 messages per request, again and again."""
    session = requests.Session()
    headers = {"Host": f"{tenant.slug}.localhost", "Authorization": f"Bearer {key}"}
    batch = 0
    while not stop.is_set():
        items = [{"from": SIM_NUMBER, "to": f"+1777{batch:03d}{index:04d}", "body": "Sale"}
                 for index in range(1000)]
        session.post(f"http://127.0.0.1:{port}/api/v1/messages/bulk",
                     json={"messages": items}, headers=headers,
                     timeout=120).raise_for_status()
        batch += 1


def _bulk_sent(tenant: Tenant) -> dict[str, int]:
    with schema_context(tenant.schema_name):
        return {"queued": Message.objects.filter(from_address=SIM_NUMBER,
                                                 to_address__startswith="+1777").count(),
                "delivered": Message.objects.filter(from_address=SIM_NUMBER,
                                                    to_address__startswith="+1777",
                                                    status="delivered").count()}


def rule_rows(count: int) -> list[KeywordRule]:
    """A realistic mix: most rules exact words, then prefixes, substrings and patterns."""
    kinds = ([("exact", "WORD{}")] * 70 + [("starts_with", "ORDER{} ")] * 15
             + [("contains", "refund code {}")] * 10 + [("regex", r"^balance\s+{}\d*$")] * 5)
    return [KeywordRule(keyword=kinds[i % 100][1].format(i), match=kinds[i % 100][0],
                        reply=f"rule {i}", priority=i) for i in range(count)]


def bodies(count: int) -> list[str]:
    rng = random.Random(7)
    samples = []
    for _ in range(count):
        i = rng.randrange(1000)
        samples.append(rng.choice([
            f"word{i}", f"order{i} where is it", f"please refund code {i} thanks",
            f"balance {i}", "Hi, what time do you open tomorrow?", "Thanks!",
            "I never got my parcel, can someone call me back please",
        ]))
    return samples


def rule_matching(tenant: Tenant) -> dict[str, float]:
    """p99 of ``rule_match`` (change check, match, fetch of the matched rule) per inbound
    message with 1,000 rules, and with one rule as the baseline."""
    at = datetime(2026, 11, 23, 12, tzinfo=UTC)
    figures = {}
    with schema_context(tenant.schema_name):
        KeywordRule.objects.all().delete()
        for label, count in (("one", 1), ("thousand", 1000)):
            KeywordRule.objects.all().delete()
            KeywordRule.objects.bulk_create(rule_rows(count))
            samples = bodies(MATCH_SAMPLES)
            rule_match(body="warm-up", sender_id=0, at=at)
            timings, hits = [], 0
            for body in samples:
                begin = time.perf_counter()
                hits += rule_match(body=body, sender_id=0, at=at) is not None
                timings.append((time.perf_counter() - begin) * 1000)
            figures[label] = {"p50": statistics.median(timings),
                              "p99": percentile(timings, 0.99), "hits": hits}
        KeywordRule.objects.all().delete()
    connection.close()
    return figures


IMPORT_ROWS = 100_000


def optout_import(tenant: Tenant) -> dict[str, float]:
    """A 100,000-row CSV (1% bad numbers) from upload to the last row stored, in-process
    (what the import task runs)."""
    from optout.imports import do_optout_import, optout_import_create
    from optout.models import OptOutImport

    lines = ["phone,reason"] + [
        "not-a-number,typo" if index % 100 == 99 else f"+1303{index:07d},imported list"
        for index in range(IMPORT_ROWS)
    ]
    content = "\n".join(lines).encode()
    with schema_context(tenant.schema_name):
        started = time.perf_counter()
        job = optout_import_create(file_name="bench.csv", content=content)
        do_optout_import(import_id=job.pk)
        elapsed = time.perf_counter() - started
        job = OptOutImport.objects.get(pk=job.pk)
    return {"seconds": elapsed, "added": job.added, "errors": job.error_count}
