"""Campaign benchmark for `make bench`: a campaign to a list of BENCH_CAMPAIGN_RECIPIENTS
(100,000) members on the simulator, with the web (gunicorn) and one worker process of
concurrency 2 running as in production. Measures how long starting takes, how fast the
audience is resolved, rendered and stored, how fast every message is delivered and how
much the worker grew; then how soon a pause stops the sends of a second campaign.
"""

from __future__ import annotations

import os
import time

import requests
from django.db import connection
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from bench.messaging import (
    celery_worker,
    child_env,
    free_port,
    gunicorn,
    process_tree_rss,
    processes,
    wait_http,
)
from campaigns.imports import do_list_import, list_import_create
from campaigns.lists import list_create
from campaigns.models import Campaign
from messaging.models import Message
from messaging.senders import sender_register, sender_review
from tenants.models import Tenant
from tenants.services import tenant_provision

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
PAUSE_RECIPIENTS = min(RECIPIENTS, 20_000)
WARM_UP_RECIPIENTS = 50
SENDER = "+15550007000"
TIMEOUT = 900


def _members(tenant: Tenant, name: str, area: int, count: int) -> int:
    rows = "".join(f"+1{area}{index:07d},Member {index}\n" for index in range(count))
    with schema_context(tenant.schema_name):
        members = list_create(name=name, double_opt_in=False)
        job = list_import_create(subscriber_list=members, file_name="bench.csv",
                                 content=f"phone,name\n{rows}".encode(),
                                 consent_source="Bench", evidence="bench/campaigns.py")
        do_list_import(import_id=job.pk)
        return members.pk


def setup() -> tuple[Tenant, str, int, int, int]:
    """A tenant of its own (provisioned on first use, emptied on every run) with an
    approved simulator sender, the campaign's list and a smaller one for the pause."""
    tenant = Tenant.objects.filter(slug="bench-campaigns").first() or tenant_provision(
        slug="bench-campaigns", name="Bench campaigns", owner_email="owner@campaigns.example",
        owner_password="long-enough-passphrase-1")
    with schema_context(tenant.schema_name):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE messaging_message, messaging_conversation, "
                           "messaging_contact, messaging_sender, campaigns_campaign, "
                           "campaigns_subscription, campaigns_listconsentevent, "
                           "campaigns_subscriberlist CASCADE")
        sender_register(address=SENDER, kind="long_code", connection="simulator")
    sender_review(tenant=tenant, address=SENDER, decision="approve")
    with schema_context(tenant.schema_name):
        # The simulator has no rate unless one is set: the figure is the pipeline's.
        from messaging.models import Sender

        Sender.objects.filter(address=SENDER).update(rate_limit=None)
        key = api_key_create(name="bench", scopes=None)[1]
    print(f"bench: importing {RECIPIENTS:,} + {PAUSE_RECIPIENTS:,} list members ...",
          flush=True)
    main = _members(tenant, "Everyone", 303, RECIPIENTS)
    paused = _members(tenant, "Pause", 304, PAUSE_RECIPIENTS)
    warm_up = _members(tenant, "Warm-up", 305, WARM_UP_RECIPIENTS)
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return tenant, key, main, paused, warm_up


def _delivered(tenant: Tenant, campaign_id: int) -> int:
    with schema_context(tenant.schema_name):
        return Message.objects.filter(campaign_id=campaign_id, status="delivered").count()


def run(tenant: Tenant, key: str, main: int, paused: int, warm_up: int
        ) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    session = requests.Session()
    session.headers.update({"Host": f"{tenant.slug}.localhost",
                            "Authorization": f"Bearer {key}"})

    def create(name: str, list_id: int) -> int:
        response = session.post(f"{base}/campaigns", json={
            "name": name, "sender": SENDER, "quiet_hours": None,
            "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. '
                    "Reply STOP to opt out.", "audience": {"lists": [list_id]}}, timeout=120)
        response.raise_for_status()
        return response.json()["id"]

    figures: dict[str, float] = {}
    with processes(gunicorn("cpaas.wsgi:application", port),
                   celery_worker("default,outbound,bulk", 2, "campaigns"),
                   env=child_env()) as started:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        worker = started[1].pid
        # Small campaigns first, until one is delivered within seconds: the worker's pool
        # and both web workers have started and served these paths once.
        for _ in range(4):
            warm = create("Warm-up", warm_up)
            began = time.perf_counter()
            session.post(f"{base}/campaigns/{warm}/start", timeout=120).raise_for_status()
            while _delivered(tenant, warm) < WARM_UP_RECIPIENTS:
                if time.perf_counter() - began > TIMEOUT:
                    raise RuntimeError("the warm-up campaign was not delivered")
                time.sleep(0.05)
            if time.perf_counter() - began < 3:
                break
        campaign_id = create("Bench", main)
        session.get(f"{base}/campaigns/{campaign_id}", timeout=120)
        rss_before = process_tree_rss(worker)
        began = time.perf_counter()
        response = session.post(f"{base}/campaigns/{campaign_id}/start", timeout=120)
        figures["start_ms"] = (time.perf_counter() - began) * 1000
        response.raise_for_status()
        peak = rss_before
        while _delivered(tenant, campaign_id) < RECIPIENTS:
            if time.perf_counter() - began > TIMEOUT:
                raise RuntimeError("the campaign's messages were not all delivered in time")
            peak = max(peak, process_tree_rss(worker))
            time.sleep(0.25)
        figures["deliver_seconds"] = time.perf_counter() - began
        figures["rss_growth_mb"] = (max(peak, process_tree_rss(worker)) - rss_before) / 2**20
        with schema_context(tenant.schema_name):
            campaign = Campaign.objects.get(pk=campaign_id)
            if campaign.audience_done_at is None:
                raise RuntimeError("the audience task never finished")
            figures["resolve_seconds"] = (campaign.audience_done_at
                                          - campaign.started_at).total_seconds()
            figures["recipients"] = campaign.recipients

        # Pause: how long after the request does the last message leave?
        second = create("Bench pause", paused)
        session.post(f"{base}/campaigns/{second}/start", timeout=120).raise_for_status()
        while _delivered(tenant, second) < PAUSE_RECIPIENTS // 10:
            time.sleep(0.05)
        asked = time.perf_counter()
        session.post(f"{base}/campaigns/{second}/pause", timeout=120).raise_for_status()
        figures["pause_request_ms"] = (time.perf_counter() - asked) * 1000
        last, last_change = _delivered(tenant, second), time.perf_counter()
        while time.perf_counter() - last_change < 3:
            now = _delivered(tenant, second)
            if now != last:
                last, last_change = now, time.perf_counter()
            time.sleep(0.02)
        figures["pause_effect_seconds"] = max(0.0, last_change - asked)
        figures["paused_at"] = last
        session.post(f"{base}/campaigns/{second}/cancel", timeout=120).raise_for_status()
    figures["resolve_rate"] = figures["recipients"] / max(figures["resolve_seconds"], 1e-6)
    figures["deliver_rate"] = figures["recipients"] / figures["deliver_seconds"]
    return figures
