"""List benchmarks for `make bench` on a tenant holding 100,000 conversations and
1,000,000 messages, through gunicorn as in production: `GET /api/v1/messages` (first page,
a page deep in the cursor), the staff inbox (conversation list, search, a thread of
1,000 messages) and the dashboard over the last 30 days, which hold every message."""

from __future__ import annotations

import base64
import os
import statistics
import time

import requests
from django.db import connection
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from bench.messaging import child_env, free_port, gunicorn, processes, wait_http
from messaging.response_waits import response_waits_backfill
from messaging.senders import sender_register, sender_review
from messaging.traffic import traffic_backfill
from tenants.services import tenant_provision

MESSAGES = int(os.environ.get("BENCH_API_MESSAGES", "1000000"))
CONTACTS = 100_000
LONG_THREAD = 1_000
PASSWORD = "long-enough-passphrase-1"
REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", "300"))
# Fewer dashboard calls: each reads the waits of ~250,000 replies for its median.
DASHBOARD_REQUESTS = max(REQUESTS // 10, 10)
NUMBER = "+15550005000"


def _seed(schema: str) -> None:
    """Contacts, one conversation each, and MESSAGES messages spread over them and over
    the last 30 days, in alternating directions (a customer's text, then its answer, in
    the same conversation; in half of the conversations a teammate's reply, in the other
    half an API send): set-based SQL, seconds not hours."""
    with connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{schema}", public')
        cursor.execute("SELECT id FROM messaging_sender WHERE address = %s", [NUMBER])
        sender_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO messaging_contact (phone, name, fields, tags, created_at) "
            "SELECT '+1415' || lpad(n::text, 7, '0'), 'Customer ' || n, '{}', '{}', now() "
            "FROM generate_series(1, %s) n", [CONTACTS])
        cursor.execute(
            "INSERT INTO messaging_conversation (contact_id, sender_id, status, unread_count, "
            "last_activity_at, created_at) SELECT id, %s, 'open', 0, "
            "now() - id * interval '1 second', now() FROM messaging_contact", [sender_id])
        cursor.execute(
            "CREATE TEMP TABLE bench_pairs AS SELECT row_number() OVER (ORDER BY c.id) - 1 AS n,"
            " c.id AS conversation_id, c.contact_id, k.phone FROM messaging_conversation c "
            "JOIN messaging_contact k ON k.id = c.contact_id")
        cursor.execute(
            "INSERT INTO messaging_message (direction, sender_id, contact_id, conversation_id, "
            "from_address, to_address, body, encoding, segments, status, connection, "
            "error_code, error_message, origin, origin_ref, attempts, created_at, updated_at) "
            "SELECT CASE WHEN g %% 2 = 0 THEN 'inbound' ELSE 'outbound' END, %s, "
            "p.contact_id, p.conversation_id, "
            "CASE WHEN g %% 2 = 0 THEN p.phone ELSE %s END, "
            "CASE WHEN g %% 2 = 0 THEN %s ELSE p.phone END, "
            "'Order ' || g || ' is on its way, reply STOP to opt out', 'GSM-7', 1, "
            "CASE WHEN g %% 2 = 0 THEN 'processed' ELSE 'delivered' END, 'simulator', '', '', "
            "CASE WHEN g %% 2 = 0 THEN 'customer' WHEN g %% 4 = 1 THEN 'user' ELSE 'api' END, "
            "'', 0, "
            "now() - interval '30 days' + g * interval '2 seconds', "
            "now() - interval '30 days' + g * interval '2 seconds' "
            "FROM generate_series(1, %s) g JOIN bench_pairs p ON p.n = (g / 2) %% %s",
            [sender_id, NUMBER, NUMBER, MESSAGES, CONTACTS])
        cursor.execute(
            "INSERT INTO messaging_message (direction, sender_id, contact_id, conversation_id, "
            "from_address, to_address, body, encoding, segments, status, connection, "
            "error_code, error_message, origin, origin_ref, attempts, created_at, updated_at) "
            "SELECT 'inbound', %s, p.contact_id, p.conversation_id, p.phone, %s, "
            "'About my order, message ' || g, 'GSM-7', 1, 'processed', 'simulator', '', '', "
            "'customer', '', 0, now() - g * interval '1 minute', now() - g * interval '1 minute' "
            "FROM generate_series(1, %s) g JOIN bench_pairs p ON p.n = 0",
            [sender_id, NUMBER, LONG_THREAD])
        cursor.execute("DROP TABLE bench_pairs")
        cursor.execute("ANALYZE messaging_contact")
    connection.set_schema_to_public()
    with schema_context(schema):
        # Set-based inserts record no waits for a reply, nor count the dashboard's traffic:
        # both derived as their migrations did for an upgraded installation.
        response_waits_backfill()
        traffic_backfill()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE messaging_message")
            cursor.execute("ANALYZE messaging_conversation")
            cursor.execute("ANALYZE messaging_trafficcount")


def _cursor_at(message_id: int) -> str:
    """A `next` cursor positioned at ``message_id``, as DRF's CursorPagination writes it."""
    return base64.b64encode(f"p={message_id}".encode()).decode()


def _timed(session: requests.Session, url: str, headers: dict, params: dict) -> list[float]:
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = session.get(url, headers=headers, params=params, timeout=10)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        assert len(response.json()["results"]) == 50, response.text[:200]
    return times


def message_list() -> dict[str, dict[str, float]]:
    """p50/p95 client-side latency (HTTP included) of the first page and of a page at
    the middle of the cursor, one client after a warm-up."""
    tenant = tenant_provision(slug="bench-api", name="Bench API",
                              owner_email="owner@api.example",
                              owner_password=PASSWORD)
    with schema_context(tenant.schema_name):
        sender_register(address=NUMBER, kind="long_code", connection="simulator")
        key = api_key_create(name="bench")[1]
    sender_review(tenant=tenant, address=NUMBER, decision="approve")
    started = time.perf_counter()
    _seed(tenant.schema_name)
    seeded = time.perf_counter() - started
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM messaging_message")
        low, high = cursor.fetchone()
        cursor.execute("SELECT conversation_id FROM messaging_message GROUP BY 1 "
                       "ORDER BY count(*) DESC LIMIT 1")
        long_thread = cursor.fetchone()[0]
    port = free_port()
    headers = {"Host": f"{tenant.slug}.localhost", "Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}/api/v1/messages"
    figures: dict[str, dict[str, float]] = {"seed": {"seconds": seeded}}
    # Requests one after another from one key: over 100 a second once the pages are fast,
    # and the per-key throttle (``API_THROTTLE_RATE``) is not what is measured here.
    with processes(gunicorn("cpaas.wsgi:application", port),
                   env=child_env(API_THROTTLE_RATE="1000000")):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        session = requests.Session()
        pages = {"first": {}, "deep": {"cursor": _cursor_at((low + high) // 2)},
                 "deep, inbound only": {"cursor": _cursor_at((low + high) // 2),
                                        "direction": "inbound"}}
        for name, params in pages.items():
            _timed(session, url, headers, params)  # warm-up: connections, caches
            times = _timed(session, url, headers, params)
            figures[name] = _percentiles(times)
        staff = _signed_in(port, tenant.slug, "owner@api.example")
        site = f"http://127.0.0.1:{port}"
        for name, (path, params, calls) in {
            "inbox: conversation list": ("/", {}, REQUESTS // 3),
            "inbox: search": ("/", {"q": "order 4242"}, REQUESTS // 3),
            "inbox: search, a word of every message": ("/", {"q": "way"}, REQUESTS // 3),
            f"inbox: thread of {LONG_THREAD:,} messages": ("/", {"c": str(long_thread)},
                                                           REQUESTS // 3),
            "dashboard: last 30 days": ("/dashboard/", {"days": "30"}, DASHBOARD_REQUESTS),
        }.items():
            for _ in range(2):  # the first round warms up
                times = []
                for _ in range(calls):
                    started = time.perf_counter()
                    response = staff.get(site + path, params=params, timeout=30,
                                         headers={"Host": f"{tenant.slug}.localhost"})
                    times.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
            figures[name] = _percentiles(times)
    return figures


def _percentiles(times: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(times), "p95": sorted(times)[round(0.95 * len(times)) - 1]}


def _signed_in(port: int, slug: str, email: str) -> requests.Session:
    session = requests.Session()
    url = f"http://127.0.0.1:{port}/accounts/login/"
    headers = {"Host": f"{slug}.localhost"}
    session.get(url, headers=headers, timeout=10).raise_for_status()
    response = session.post(url, headers=headers, timeout=10, allow_redirects=False, data={
        "login": email, "password": PASSWORD,
        "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    if response.status_code != 302:
        raise RuntimeError(f"bench sign-in failed: {response.status_code}")
    return session
