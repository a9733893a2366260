"""Campaign benchmark for `make bench`: a campaign to a list of BENCH_CAMPAIGN_RECIPIENTS
(100,000) members on the simulator, with the web (gunicorn) and one worker process of
concurrency 2 running as in production. Measures how long starting takes, how fast the
audience is resolved, rendered and stored, how fast every message is delivered and how
much the worker grew; then how soon a pause stops the sends of a second campaign. Section
`engines` measures the delivery figure alone on both sets of engines (``delivery_rate``).
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
from messaging.models import Message, Sender
from messaging.senders import sender_register, sender_review
from tenants.models import Tenant
from tenants.services import tenant_provision

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
PAUSE_RECIPIENTS = min(RECIPIENTS, 20_000)
WARM_UP_RECIPIENTS = 50
SENDER = "+15550007000"
TIMEOUT = 900


def tenant_setup() -> tuple[Tenant, str]:
    """A tenant of its own (provisioned on first use, emptied on every run) with an
    approved simulator sender without a rate limit, and an API key."""
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
        Sender.objects.filter(address=SENDER).update(rate_limit=None)
        key = api_key_create(name="bench", scopes=None)[1]
    return tenant, key


def lists_import(tenant: Tenant, sizes: dict[str, tuple[int, int]]) -> dict[str, int]:
    """A list per name of ``sizes`` (area code, members), its members imported in-process
    as the import task does; returns the lists' ids by name."""
    print(f"bench: importing {sum(count for _, count in sizes.values()):,} list members ...",
          flush=True)
    ids = {}
    with schema_context(tenant.schema_name):
        for name, (area, count) in sizes.items():
            rows = "".join(f"+1{area}{index:07d},Member {index}\n" for index in range(count))
            members = list_create(name=name, double_opt_in=False)
            job = list_import_create(subscriber_list=members, file_name="bench.csv",
                                     content=f"phone,name\n{rows}".encode(),
                                     consent_source="Bench", evidence="bench/campaigns.py")
            do_list_import(import_id=job.pk)
            ids[name] = members.pk
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return ids


def setup() -> tuple[Tenant, str, int, int, int]:
    """The bench tenant, its key, the campaign's list, a smaller one for the pause and
    the warm-up list."""
    tenant, key = tenant_setup()
    lists = lists_import(tenant, {"Everyone": (303, RECIPIENTS),
                                  "Pause": (304, PAUSE_RECIPIENTS),
                                  "Warm-up": (305, WARM_UP_RECIPIENTS)})
    return tenant, key, lists["Everyone"], lists["Pause"], lists["Warm-up"]


def _delivered(tenant: Tenant, campaign_id: int) -> int:
    with schema_context(tenant.schema_name):
        return Message.objects.filter(campaign_id=campaign_id, status="delivered").count()


class _Api:
    """The tenant's campaigns API on a local gunicorn."""

    def __init__(self, tenant: Tenant, key: str, port: int) -> None:
        self.tenant, self.base = tenant, f"http://127.0.0.1:{port}/api/v1"
        self.session = requests.Session()
        self.session.headers.update({"Host": f"{tenant.slug}.localhost",
                                     "Authorization": f"Bearer {key}"})

    def create(self, name: str, list_id: int) -> int:
        response = self.session.post(f"{self.base}/campaigns", json={
            "name": name, "sender": SENDER, "quiet_hours": None,
            "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. '
                    "Reply STOP to opt out.", "audience": {"lists": [list_id]}}, timeout=120)
        response.raise_for_status()
        return response.json()["id"]

    def post(self, campaign_id: int, action: str) -> None:
        self.session.post(f"{self.base}/campaigns/{campaign_id}/{action}",
                          timeout=120).raise_for_status()

    def warm_up(self, list_id: int) -> None:
        """Small campaigns until one is delivered within seconds: the worker's pool and
        both web workers have started and served these paths once."""
        for _ in range(4):
            warm = self.create("Warm-up", list_id)
            began = time.perf_counter()
            self.post(warm, "start")
            while _delivered(self.tenant, warm) < WARM_UP_RECIPIENTS:
                if time.perf_counter() - began > TIMEOUT:
                    raise RuntimeError("the warm-up campaign was not delivered")
                time.sleep(0.05)
            if time.perf_counter() - began < 3:
                break


def _servers(port: int):
    """gunicorn (2 workers) and one Celery worker of concurrency 2, as in production."""
    return processes(gunicorn("cpaas.wsgi:application", port),
                     celery_worker("default,outbound,bulk", 2, "campaigns"), env=child_env())


def _wait_delivered(tenant: Tenant, campaign_id: int, count: int, began: float,
                    sample=lambda: None) -> None:
    """Until ``count`` of the campaign's messages are delivered, calling ``sample`` every
    quarter second."""
    while _delivered(tenant, campaign_id) < count:
        if time.perf_counter() - began > TIMEOUT:
            raise RuntimeError("the campaign's messages were not all delivered in time")
        sample()
        time.sleep(0.25)


def delivery_rate(tenant: Tenant, key: str, list_id: int, warm_up: int,
                  recipients: int) -> float:
    """A campaign to the list of ``recipients`` members, after the warm-up of ``run``:
    messages per second from the start request until every one is ``delivered``."""
    port = free_port()
    api = _Api(tenant, key, port)
    with _servers(port):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        api.warm_up(warm_up)
        campaign_id = api.create("Bench", list_id)
        began = time.perf_counter()
        api.post(campaign_id, "start")
        _wait_delivered(tenant, campaign_id, recipients, began)
        return recipients / (time.perf_counter() - began)


def run(tenant: Tenant, key: str, main: int, paused: int, warm_up: int
        ) -> dict[str, float]:
    port = free_port()
    api = _Api(tenant, key, port)
    figures: dict[str, float] = {}
    with _servers(port) as started:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        worker = started[1].pid
        api.warm_up(warm_up)
        campaign_id = api.create("Bench", main)
        api.session.get(f"{api.base}/campaigns/{campaign_id}", timeout=120)
        rss_before = process_tree_rss(worker)
        began = time.perf_counter()
        api.post(campaign_id, "start")
        figures["start_ms"] = (time.perf_counter() - began) * 1000
        peaks = [rss_before]
        _wait_delivered(tenant, campaign_id, RECIPIENTS, began,
                        lambda: peaks.append(process_tree_rss(worker)))
        figures["deliver_seconds"] = time.perf_counter() - began
        figures["rss_growth_mb"] = (max(*peaks, process_tree_rss(worker)) - rss_before) / 2**20
        with schema_context(tenant.schema_name):
            campaign = Campaign.objects.get(pk=campaign_id)
            if campaign.audience_done_at is None:
                raise RuntimeError("the audience task never finished")
            figures["resolve_seconds"] = (campaign.audience_done_at
                                          - campaign.started_at).total_seconds()
            figures["recipients"] = campaign.recipients

        # Pause: how long after the request does the last message leave?
        second = api.create("Bench pause", paused)
        api.post(second, "start")
        while _delivered(tenant, second) < PAUSE_RECIPIENTS // 10:
            time.sleep(0.05)
        asked = time.perf_counter()
        api.post(second, "pause")
        figures["pause_request_ms"] = (time.perf_counter() - asked) * 1000
        last, last_change = _delivered(tenant, second), time.perf_counter()
        while time.perf_counter() - last_change < 3:
            now = _delivered(tenant, second)
            if now != last:
                last, last_change = now, time.perf_counter()
            time.sleep(0.02)
        figures["pause_effect_seconds"] = max(0.0, last_change - asked)
        figures["paused_at"] = last
        api.post(second, "cancel")
    figures["resolve_rate"] = figures["recipients"] / max(figures["resolve_seconds"], 1e-6)
    figures["deliver_rate"] = figures["recipients"] / figures["deliver_seconds"]
    return figures
