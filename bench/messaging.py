"""Messaging benchmarks for `make bench`: inbound webhook ingest of `make run` against a
bare Django app (the anchor), outbound throughput from `/messages/bulk` to the simulator
and to a fake Twilio, and the accuracy of a 1-segment-per-second sender with several
workers.

Everything runs as in production: gunicorn sync workers, Celery workers in their own
processes, load from wrk on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import redis
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from messaging.models import Message, Sender
from messaging.providers.twilio import signature
from messaging.senders import sender_register, sender_review
from tenants.models import ProviderConnection, Tenant
from tenants.services import tenant_provision

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WEB_WORKERS = "2"
INGEST_SECONDS = int(os.environ.get("BENCH_INGEST_SECONDS", "15"))
INGEST_CONNECTIONS = 16
INGEST_ROUNDS = 2
OUTBOUND_MESSAGES = int(os.environ.get("BENCH_OUTBOUND_MESSAGES", "3000"))
OUTBOUND_ROUNDS = 3
RATE_SECONDS = int(os.environ.get("BENCH_RATE_SECONDS", "60"))
TOKEN = "bench-twilio-token"
INBOUND_NUMBER = "+15550001000"
SIM_NUMBER = "+15550002000"
SLOW_NUMBER = "+15550003000"
TWILIO_NUMBER = "+15550005000"
ANCHOR_TABLE = "bench_anchor_inbound"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The bench's database and Redis for a child process."""
    db = settings.DATABASES["default"]
    url = (f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
           if str(db["HOST"]).startswith("/") else settings.DATABASE_URL)
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def processes(*commands: list[str], env: dict[str, str]):
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    started = [
        subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                         stdout=(logs / f"{index}.log").open("w"), stderr=subprocess.STDOUT)
        for index, command in enumerate(commands)
    ]
    try:
        yield started
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(logs, ignore_errors=True)


def gunicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--workers",
            WEB_WORKERS, "--log-level", "warning"]


def make_run() -> list[str]:
    """The `make run` supervisor (web, worker, beat), as a fresh clone starts it; the port
    comes from PORT."""
    return [sys.executable, "manage.py", "run"]


def anchor(port: int) -> list[str]:
    """The anchor: a `django-admin startproject` app (bench/anchor) under gunicorn."""
    return [str(BIN / "gunicorn"), "--chdir", str(ROOT / "bench" / "anchor"),
            "--env", "DJANGO_SETTINGS_MODULE=anchor.settings", "anchor.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", WEB_WORKERS, "--log-level", "warning"]


def celery_worker(queues: str, concurrency: int, name: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "cpaas", "worker", "--queues", queues, "--concurrency",
            str(concurrency), "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
            "--hostname", f"{name}@%h"]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def setup() -> tuple[Tenant, str]:
    """The bench tenant with its senders, and an API key for it."""
    redis.Redis.from_url(settings.REDIS_URL).flushall()
    connection_row, _ = ProviderConnection.objects.update_or_create(
        name="bench-twilio", defaults={"kind": "twilio", "settings": {
            "account_sid": "AC" + "0" * 32, "auth_token": TOKEN,
            "api_base_url": "http://127.0.0.1:9"}},
    )
    tenant = tenant_provision(slug="bench-msg", name="Bench messaging",
                              owner_email="owner@messaging.example",
                              owner_password="long-enough-passphrase-1")
    with schema_context(tenant.schema_name):
        sender_register(address=INBOUND_NUMBER, kind="long_code",
                        connection=connection_row.name)
        sender_register(address=SIM_NUMBER, kind="long_code", connection="simulator")
        sender_register(address=SLOW_NUMBER, kind="long_code", connection="simulator")
        Sender.objects.filter(address=SLOW_NUMBER).update(rate_limit=1)
        sender_register(address=TWILIO_NUMBER, kind="long_code",
                        connection=connection_row.name)
        # Lifted, so that the figure is the pipeline's, not a long code's 1 segment/s.
        Sender.objects.filter(address=TWILIO_NUMBER).update(rate_limit=None)
        key = api_key_create(name="bench")[1]
    for address in (INBOUND_NUMBER, SIM_NUMBER, SLOW_NUMBER, TWILIO_NUMBER):
        sender_review(tenant=tenant, address=address, decision="approve")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS public.{ANCHOR_TABLE}")
        cursor.execute(f"CREATE TABLE public.{ANCHOR_TABLE} (id bigserial PRIMARY KEY, "
                       "sid text UNIQUE, sender text, recipient text, body text, "
                       "created_at timestamptz DEFAULT now())")
    return tenant, key


def signed_requests(path: str, public_url: str, area: int, count: int) -> Path:
    """A file of distinct, correctly signed Twilio inbound webhooks for wrk, each from a
    customer of its own (area code ``area``: one per file, so no number repeats)."""
    handle, name = tempfile.mkstemp(prefix="bench-webhooks-", suffix=".txt")
    with os.fdopen(handle, "w") as out:
        for index in range(count):
            params = {"MessageSid": f"SM{area:03d}{index:029d}", "AccountSid": "AC" + "0" * 32,
                      "From": f"+1{area:03d}{index:07d}", "To": INBOUND_NUMBER,
                      "Body": f"Hello, is my order {index} ready?", "NumMedia": "0",
                      "NumSegments": "1", "SmsStatus": "received",
                      "ApiVersion": "2010-04-01"}
            out.write(f"{signature(TOKEN, public_url + path, params)}\t{urlencode(params)}\n")
    return Path(name)


def wrk(port: int, path: str, host: str, file: Path, seconds: int, connections: int,
        delay_ms: int = 0) -> dict:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
         "-s", str(ROOT / "bench" / "wrk_webhook.lua"), f"http://127.0.0.1:{port}{path}",
         "--", path, str(file), "2", host],
        env={**os.environ, "WRK_DELAY_MS": str(delay_ms)}, capture_output=True, text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def ingest(tenant: Tenant) -> dict[str, dict]:
    """Peak req/s of the anchor and of `make run`, interleaved anchor / product / anchor,
    then the product's latency at half its peak.

    Each run starts on a quiet machine: after a product run, the next one waits until the
    worker has processed what that run stored, so the anchor does not share the cores with
    the product's backlog. How long that takes is reported."""
    path = "/webhooks/bench-twilio/inbound"
    port, anchor_port = free_port(), free_port()
    public_url = f"http://localhost:{port}"
    env = child_env(PORT=str(port))
    count = INGEST_SECONDS * 5000  # more than either server can take: no id repeats
    areas = range(201, 201 + 2 * INGEST_ROUNDS + 2)
    files = {area: signed_requests(path, public_url, area, count) for area in areas}
    try:
        with processes(make_run(), anchor(anchor_port), env=env):
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=180)
            wait_http(f"http://127.0.0.1:{anchor_port}/healthz")
            time.sleep(5)  # the worker and beat start after the web

            runs: dict[str, list[dict]] = {"anchor": [], "ours": []}
            # Anchor / product / anchor ...: the anchor before and after each product run,
            # so that PostgreSQL's background work after a run's inserts (checkpoints,
            # autovacuum) and the machine's other load fall on both sides alike.
            files_left = iter(files.values())
            runs["anchor"].append(anchor_wrk(anchor_port, next(files_left)))
            drains = []
            for _ in range(INGEST_ROUNDS):
                runs["ours"].append(wrk(port, path, f"localhost:{port}", next(files_left),
                                        INGEST_SECONDS, INGEST_CONNECTIONS))
                drains.append(_backlog_drain(tenant))
                runs["anchor"].append(anchor_wrk(anchor_port, next(files_left)))
            figures = {side: {
                "rps": sum(r["rps"] for r in results) / len(results),
                "runs": [r["rps"] for r in results],
                "p99_us": max(r["p99_us"] for r in results),
                "non2xx": sum(r["non2xx"] for r in results),
                "errors": sum(r["errors"] for r in results),
            } for side, results in runs.items()}
            figures["drain_seconds"] = max(drains)
            # Half the peak rate: 8 connections, each pausing after every answer so that
            # together they offer about half of what the product achieved at full load
            # (an unloaded answer takes ~3 ms; the achieved rate is reported).
            target = figures["ours"]["rps"] / 2
            delay_ms = max(1, round(8000 / target) - 3)
            figures["half"] = wrk(port, path, f"localhost:{port}", next(files_left),
                                  INGEST_SECONDS, 8, delay_ms)
            figures["half"]["target_rps"] = target
    finally:
        for file in files.values():
            file.unlink()
    return figures


def _backlog_drain(tenant: Tenant, timeout: float = 300) -> float:
    """Wait until the worker has processed every inbound message; return how long after
    the load ended that was."""
    started = time.monotonic()
    with schema_context(tenant.schema_name):
        while Message.objects.filter(direction=Message.Direction.INBOUND,
                                     status=Message.Status.RECEIVED).exists():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the inbound backlog did not drain in {timeout:.0f} s")
            time.sleep(0.2)
    return time.monotonic() - started


def anchor_wrk(port: int, file: Path) -> dict:
    # The anchor reads the same lines; its table is its own, so the ids are new to it.
    return wrk(port, "/webhook", "localhost", file, INGEST_SECONDS, INGEST_CONNECTIONS)


def process_tree_rss(pid: int) -> int:
    import psutil

    root = psutil.Process(pid)
    return sum(process.memory_info().rss for process in [root, *root.children(recursive=True)])


def outbound(tenant: Tenant, key: str, *, sender: str = SIM_NUMBER, done: str = "delivered",
             rounds_wanted: int = OUTBOUND_ROUNDS, count: int = OUTBOUND_MESSAGES,
             first_area: int = 415, env: dict[str, str] | None = None) -> dict[str, float]:
    """Messages per second from the first bulk POST to the last message ``done``, in
    ``rounds_wanted`` rounds of ``count`` messages to new customers (area codes from
    ``first_area``), and the worker's memory after the first and the last. ``env``: the
    web's and worker's, by default ``child_env()``."""
    port = free_port()
    host = f"{tenant.slug}.localhost"
    env = env or child_env()
    rounds = []
    with processes(gunicorn("cpaas.wsgi:application", port),
                   celery_worker("outbound,bulk,retries", 2, "outbound"), env=env) as started:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(3)  # the worker's start-up
        session = requests.Session()
        headers = {"Host": host, "Authorization": f"Bearer {key}"}
        memory = []
        for round_ in range(rounds_wanted):
            area = first_area + round_  # new customers every round
            started_at = time.perf_counter()
            for start in range(0, count, 1000):
                items = [{"from": sender, "to": f"+1{area}{index:07d}", "body": f"Order {index}"}
                         for index in range(start, min(start + 1000, count))]
                response = session.post(f"http://127.0.0.1:{port}/api/v1/messages/bulk",
                                        json={"messages": items}, headers=headers,
                                        timeout=120)
                response.raise_for_status()
                ids = [item["message"]["id"] for item in response.json()["results"]]
                if start == 0:
                    lowest = ids[0]
            accepted = time.perf_counter() - started_at
            with schema_context(tenant.schema_name):
                while Message.objects.filter(pk__gte=lowest, from_address=sender,
                                             status=done).count() < count:
                    if time.perf_counter() - started_at > 600:
                        raise RuntimeError(f"outbound messages were not all {done} in 10 min")
                    time.sleep(0.05)
            elapsed = time.perf_counter() - started_at
            rounds.append({"rate": count / elapsed, "seconds": elapsed,
                           "accepted": accepted})
            memory.append(process_tree_rss(started[1].pid))
    median = sorted(rounds, key=lambda r: r["rate"])[len(rounds) // 2]
    return {**median, "rates": [r["rate"] for r in rounds], "start_mb": memory[0] / 2**20,
            "end_mb": memory[-1] / 2**20}


def outbound_twilio(tenant: Tenant, key: str) -> dict[str, float]:
    """``outbound`` through the twilio backend to a fake Twilio on 127.0.0.1 (HTTP/1.1
    keep-alive, answering at once), until every message is ``sent``."""
    from tests.support.fake_twilio import FakeTwilio

    fake = FakeTwilio(token=TOKEN).start()
    ProviderConnection.objects.filter(name="bench-twilio").update(settings={
        "account_sid": fake.sid, "auth_token": TOKEN, "api_base_url": fake.base_url})
    try:
        figures = outbound(tenant, key, sender=TWILIO_NUMBER, done="sent")
        figures["requests"] = len(fake.requests)
        figures["connections"] = len({r.client_port for r in fake.requests})
    finally:
        fake.stop()
    return figures


def rate_limited(tenant: Tenant) -> dict[str, float]:
    """A 1-segment-per-second sender with two worker processes (four slots) competing."""
    from messaging.outbound import messages_send_bulk

    count = RATE_SECONDS + 10
    env = child_env()
    with processes(celery_worker("outbound,bulk,retries", 2, "rate1"),
                   celery_worker("outbound,bulk,retries", 2, "rate2"), env=env):
        time.sleep(4)
        with schema_context(tenant.schema_name):
            messages_send_bulk(items=[{"from": SLOW_NUMBER, "to": f"+1415{i:07d}",
                                       "body": f"slow {i}"} for i in range(count)],
                               origin="api")
            deadline = time.monotonic() + RATE_SECONDS + 30
            while time.monotonic() < deadline:
                sent = sorted(Message.objects.filter(from_address=SLOW_NUMBER,
                                                     sent_at__isnull=False)
                              .values_list("sent_at", flat=True))
                if sent and (sent[-1] - sent[0]).total_seconds() >= RATE_SECONDS:
                    break
                time.sleep(0.5)
    window = [t for t in sent if (t - sent[0]).total_seconds() <= RATE_SECONDS]
    return {"sent_in_window": len(window) - 1, "seconds": RATE_SECONDS,
            "rate": (len(window) - 1) / RATE_SECONDS}


SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
SOAK_WARMUP_SECONDS = 60


def soak(public_port: int, rate: float) -> dict[str, float]:
    """Inbound webhooks at ``rate`` (half the measured peak) for SOAK_SECONDS: errors,
    latency, and the web processes' memory (gunicorn master and workers, RSS summed)
    after the warm-up and at the end."""
    import threading

    import psutil

    path = "/webhooks/bench-twilio/inbound"
    public_url = f"http://localhost:{public_port}"
    port = free_port()
    samples: list[tuple[float, int]] = []
    file = signed_requests(path, public_url, 204, int(rate * SOAK_SECONDS * 1.2))
    try:
        with processes(gunicorn("cpaas.wsgi:application", port),
                       env=child_env(PUBLIC_BASE_URL=public_url)) as started:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            master = psutil.Process(started[0].pid)
            stop = threading.Event()
            began = time.monotonic()

            def sample() -> None:
                while not stop.wait(5):
                    tree = [master, *master.children(recursive=True)]
                    samples.append((time.monotonic() - began,
                                    sum(process.memory_info().rss for process in tree)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = wrk(port, path, f"localhost:{public_port}", file, SOAK_SECONDS, 8,
                         max(1, round(8000 / rate) - 3))
            stop.set()
            sampler.join()
    finally:
        file.unlink()
    warm = [rss for at, rss in samples if SOAK_WARMUP_SECONDS <= at < SOAK_WARMUP_SECONDS + 30]
    last = [rss for _, rss in samples[-6:]]
    start_rss, end_rss = sorted(warm)[len(warm) // 2], sorted(last)[len(last) // 2]
    return {"rps": result["rps"], "p99_us": result["p99_us"],
            "errors": result["non2xx"] + result["errors"], "requests": result["requests"],
            "start_mb": start_rss / 2**20, "end_mb": end_rss / 2**20,
            "growth": end_rss / start_rss - 1}
