"""Automation benchmarks for `make bench`: the latency from an inbound STOP or keyword
webhook to its reply being handed to the backend, the cost of matching an inbound
message against 1,000 keyword rules, and importing a suppression list of 100,000 rows."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime

import redis
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from bench.messaging import (
    INBOUND_NUMBER,
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
from tenants.models import ProviderConnection, Tenant
from tests.support.fake_twilio import FakeTwilio

LATENCY_MESSAGES = 200
LATENCY_RATE = 10  # inbound messages per second, paced
MATCH_SAMPLES = 5000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def keyword_latency(tenant: Tenant) -> dict[str, float]:
    """Signed Twilio webhooks, half STOP and half a keyword rule's word, each from a new
    customer, paced at LATENCY_RATE/s; one Celery worker process (inbound and outbound
    queues) answers through the twilio backend to a fake Twilio. Latency runs from just
    before the webhook POST to the reply's ``sending_at`` (claimed for the backend)."""
    # The ingest benchmark left its processing tasks in the broker, for no worker.
    redis.Redis.from_url(settings.REDIS_URL).flushall()
    fake = FakeTwilio(token=TOKEN).start()
    ProviderConnection.objects.filter(name="bench-twilio").update(settings={
        "account_sid": fake.sid, "auth_token": TOKEN, "api_base_url": fake.base_url})
    with schema_context(tenant.schema_name):
        KeywordRule.objects.create(keyword="HOURS", reply="We are open 9 to 5.")
        # A short code's rate: at 10 inbound/s a long code's 1/s would measure the queue.
        Sender.objects.filter(address=INBOUND_NUMBER).update(rate_limit=100)
    port = free_port()
    path = "/webhooks/bench-twilio/inbound"
    public_url = f"http://localhost:{port}"
    started: dict[str, float] = {}
    try:
        with processes(gunicorn("cpaas.wsgi:application", port),
                       celery_worker("inbound,outbound", 1, "automation"),
                       env=child_env(PUBLIC_BASE_URL=public_url)):
            wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(4)  # the worker's start-up
            session = requests.Session()
            for index in range(LATENCY_MESSAGES):
                phone = f"+1666{index:07d}"
                params = {"MessageSid": f"SMLAT{index:029d}", "AccountSid": fake.sid,
                          "From": phone, "To": INBOUND_NUMBER,
                          "Body": "STOP" if index % 2 else "hours?", "NumMedia": "0"}
                headers = {"Host": f"localhost:{port}",
                           "X-Twilio-Signature": signature(TOKEN, public_url + path, params)}
                started[phone] = time.time()
                session.post(f"http://127.0.0.1:{port}{path}", data=params, headers=headers,
                             timeout=10).raise_for_status()
                time.sleep(max(0.0, 1 / LATENCY_RATE - (time.time() - started[phone])))
            deadline = time.monotonic() + 120
            with schema_context(tenant.schema_name):
                while time.monotonic() < deadline:
                    handed = dict(Message.objects.filter(
                        direction="outbound", to_address__in=started, sending_at__isnull=False,
                    ).values_list("to_address", "sending_at"))
                    if len(handed) == LATENCY_MESSAGES:
                        break
                    time.sleep(0.5)
    finally:
        fake.stop()
    latencies = [(handed[phone].timestamp() - at) * 1000 for phone, at in started.items()
                 if phone in handed]
    return {"p50": statistics.median(latencies), "p99": percentile(latencies, 0.99),
            "answered": len(latencies), "sent": LATENCY_MESSAGES, "requests": len(fake.requests)}


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
