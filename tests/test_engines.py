"""The production engines: PgBouncer in transaction mode and RabbitMQ.

Through a pooler that lends its one server connection to whichever client has a statement
to run, two tenants' connections and two tenants' HTTP requests never see each other's rows;
the plain django-tenants backend, through the same pooler, does. A task published while
RabbitMQ crashes and restarts is either refused to the caller or kept: never lost after the
caller was told it was taken (runs where the broker is RabbitMQ: `make test-engines`)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.db.utils import load_backend
from django_tenants.utils import schema_context

from cpaas.celery import app
from messaging.contacts import contact_create
from tenants.models import Tenant
from tests.conftest import free_port
from tests.support.db import tenant_data_reset
from tests.support.engines import PgBouncer, PrivateRabbit
from tests.support.messaging import key_for

BIN = Path(sys.executable).parent
PHONES = {"alpha": "+14155550111", "beta": "+14155550222"}


def upstream() -> tuple[str, int]:
    """Where the suite's PostgreSQL really listens (past the lane's own pooler, if any)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT host(inet_server_addr()), inet_server_port()")
        host, port = cursor.fetchone()
    if host is None:  # a unix socket: the embedded server
        return connection.settings_dict["HOST"], int(connection.settings_dict["PORT"] or 5432)
    return host, port


@pytest.fixture
def one_server_connection(committed_db) -> Iterator[PgBouncer]:
    """A pooler with a single server connection in front of the suite's database, and one
    contact of each tenant's own, committed."""
    host, port = upstream()
    bouncer = PgBouncer(server_host=host, server_port=port, pool_size=1).start()
    tenants = [Tenant.objects.get(slug=slug) for slug in PHONES]
    try:
        for tenant in tenants:
            with schema_context(tenant.schema_name):
                contact_create(phone=PHONES[tenant.slug], name=tenant.name)
        yield bouncer
    finally:
        bouncer.stop()
        for tenant in tenants:
            tenant_data_reset(tenant)


def pooled_connection(bouncer: PgBouncer, engine: str, alias: str):
    backend = load_backend(engine)
    return backend.DatabaseWrapper(
        {**connection.settings_dict, "ENGINE": engine, "HOST": bouncer.host,
         "PORT": bouncer.port, "CONN_MAX_AGE": None}, alias)


def phones_seen(db) -> list[str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT phone FROM messaging_contact ORDER BY phone")
        return [row[0] for row in cursor.fetchall()]


def interleave(bouncer: PgBouncer, engine: str) -> dict[str, set[str]]:
    """Alpha's and beta's connections take turns on the pooler's one server connection:
    statements in autocommit, then whole transactions. Returns what each one saw."""
    seen: dict[str, set[str]] = {"alpha": set(), "beta": set()}
    connections = {slug: pooled_connection(bouncer, engine, f"pooled_{slug}") for slug in seen}
    try:
        for slug, db in connections.items():
            db.set_schema(f"t_{slug}")
        for _ in range(5):
            for slug, db in connections.items():
                seen[slug].update(phones_seen(db))
        for _ in range(5):
            for slug, db in connections.items():
                db.set_autocommit(False)
                seen[slug].update(phones_seen(db))
                db.set_schema("public")  # a schema change inside the transaction
                with db.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM tenants_tenant")
                db.set_schema(f"t_{slug}")
                seen[slug].update(phones_seen(db))
                db.commit()
                db.set_autocommit(True)
    finally:
        for db in connections.values():
            db.close()
    return seen


def test_two_tenants_interleaved_over_one_pooled_server_connection_see_their_own_rows(
        one_server_connection):
    seen = interleave(one_server_connection, "cpaas.pooled_postgresql")
    assert seen == {"alpha": {PHONES["alpha"]}, "beta": {PHONES["beta"]}}


def test_the_plain_tenant_backend_through_the_same_pooler_shows_another_tenants_rows(
        one_server_connection):
    """Why the pooled backend exists: django-tenants sets the schema once per connection,
    and the pooler hands the next statement a server connection another tenant set."""
    seen = interleave(one_server_connection, "django_tenants.postgresql_backend")
    assert PHONES["beta"] in seen["alpha"]


@pytest.mark.slow
def test_two_tenants_requests_interleaved_over_one_pooled_server_connection(
        one_server_connection, process_env, tmp_path):
    bouncer = one_server_connection
    port = free_port()
    env = {**process_env, "DATABASE_POOLED": "1", "API_THROTTLE_RATE": "1000",
           "DATABASE_URL": bouncer.url(connection.settings_dict["NAME"])}
    keys = {slug: key_for(Tenant.objects.get(slug=slug)) for slug in PHONES}
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "cpaas.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=settings.BASE_DIR, env=env, stdout=(tmp_path / "web.log").open("w"),
        stderr=subprocess.STDOUT)

    def contacts(slug: str) -> tuple[str, int, list[str]]:
        response = requests.get(
            f"http://127.0.0.1:{port}/api/v1/contacts", timeout=30,
            headers={"Host": f"{slug}.localhost", "Authorization": f"Bearer {keys[slug]}"})
        phones = ([c["phone"] for c in response.json()["results"]]
                  if response.status_code == 200 else [])
        return slug, response.status_code, phones

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                time.sleep(0.2)
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(contacts, ["alpha", "beta"] * 100))
    finally:
        web.terminate()
        web.wait(timeout=30)
    assert {(slug, status, tuple(phones)) for slug, status, phones in answers} == {
        ("alpha", 200, (PHONES["alpha"],)), ("beta", 200, (PHONES["beta"],))}


@pytest.mark.slow
@pytest.mark.skipif(not settings.BROKER_IS_AMQP,
                    reason="the broker is RabbitMQ in `make test-engines`")
def test_a_task_published_while_rabbitmq_crashes_and_restarts_is_not_lost():
    """Publish tasks as fast as the app can, with its own broker settings, to a RabbitMQ of
    this test's own, which is SIGKILLed mid-stream and started again on the same data.
    Every publish the app reported as done must be in the queue afterwards."""
    rabbit = PrivateRabbit().start()
    taken: list[int] = []
    refused: list[int] = []
    stop = threading.Event()

    def publish() -> None:
        broker, number = None, 0
        while not stop.is_set():
            try:
                if broker is None:
                    broker = app.connection_for_write(rabbit.url)
                app.send_task("engines.lost_publish_probe", args=[number], queue="default",
                              connection=broker, retry=False)
                taken.append(number)
            except Exception:
                refused.append(number)
                broker.release()
                broker = None
                time.sleep(0.05)
            number += 1
        if broker is not None:
            broker.release()

    try:
        publisher = threading.Thread(target=publish)
        publisher.start()
        while len(taken) < 200:
            time.sleep(0.01)
        rabbit.kill()
        rabbit.start()
        time.sleep(1)
        stop.set()
        publisher.join()
        stored = set()
        with app.connection_for_read(rabbit.url) as broker:
            queue = app.amqp.queues["default"](broker.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                stored.add(message.payload[0][0])  # the task's args
    finally:
        stop.set()
        rabbit.stop()
    assert refused, "the broker was never seen down: the test did not test"
    lost = sorted(set(taken) - stored)
    assert lost == [], f"{len(lost)} of {len(taken)} taken publishes lost: {lost[:10]}"
