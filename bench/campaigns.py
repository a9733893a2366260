"""Campaign benchmark for `make bench`: a campaign to a list of BENCH_CAMPAIGN_RECIPIENTS
(100,000) members on the simulator, with the web (gunicorn) and one worker process of
concurrency 2 (every queue) running as in production. Measures how long starting takes
(beside a 50-recipient campaign's start), how fast the audience is resolved, rendered and
stored, how fast every message is delivered and how much the worker grew, beside the
same worker delivering `/messages/bulk` sends; how soon a pause stops the sends of a
second campaign; the keyword-reply latency while a campaign sends, beside the same
measured idle; and the rate of a campaign from a sender limited to 10 segments/s, alone
and while another campaign sends through the same worker. Section `engines` measures the
delivery figure alone on both sets of engines (``delivery_rate``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from bench.automation import LATENCY_MESSAGES, keyword_replies
from bench.messaging import (
    RATE_SECONDS,
    TOKEN,
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
from messaging.models import KeywordRule, Message, Sender
from messaging.senders import sender_register, sender_review
from tenants.models import ProviderConnection, Tenant
from tenants.services import tenant_provision
from tests.support.fake_twilio import FakeTwilio

RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "100000"))
PAUSE_RECIPIENTS = min(RECIPIENTS, 20_000)
# The same worker's `/messages/bulk` delivery rate, the campaign's baseline.
BULK_MESSAGES = min(RECIPIENTS, 20_000)
WARM_UP_RECIPIENTS = 50
SENDER = "+15550007000"
# A sender limited to 10 segments/s and a campaign from it lasting longer than the window
# measured (BENCH_RATE_SECONDS, 60).
LIMITED_SENDER = "+15550007010"
LIMITED_RATE = 10
LIMITED_RECIPIENTS = LIMITED_RATE * (RATE_SECONDS + 15)
# Keyword replies leave through the twilio backend to a fake Twilio, as in bench/automation.py:
# a simulator reply would be handed over in the same way, but this keeps the two rows alike.
LATENCY_SENDER = "+15550007020"
TWILIO_CONNECTION = "bench-twilio"
TIMEOUT = 900


@dataclass(frozen=True)
class Bench:
    """What ``setup`` made: the tenant, an API key and its lists' ids."""

    tenant: Tenant
    key: str
    main: int
    paused: int
    warm_up: int
    limited: int


def tenant_setup() -> tuple[Tenant, str]:
    """A tenant of its own (provisioned on first use, emptied on every run) with approved
    senders (the simulator without a rate limit and limited to 10 segments/s, a twilio
    one answering a keyword rule), and an API key."""
    ProviderConnection.objects.update_or_create(
        name=TWILIO_CONNECTION, defaults={"kind": "twilio", "settings": {
            "account_sid": "AC" + "0" * 32, "auth_token": TOKEN,
            "api_base_url": "http://127.0.0.1:9"}})
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
        sender_register(address=LIMITED_SENDER, kind="long_code", connection="simulator")
        sender_register(address=LATENCY_SENDER, kind="long_code",
                        connection=TWILIO_CONNECTION)
    for address in (SENDER, LIMITED_SENDER, LATENCY_SENDER):
        sender_review(tenant=tenant, address=address, decision="approve")
    with schema_context(tenant.schema_name):
        # The simulator has no rate unless one is set: the figure is the pipeline's.
        Sender.objects.filter(address=SENDER).update(rate_limit=None)
        Sender.objects.filter(address=LIMITED_SENDER).update(rate_limit=LIMITED_RATE)
        # A short code's rate: a long code's 1 segment/s would measure the bucket.
        Sender.objects.filter(address=LATENCY_SENDER).update(rate_limit=100)
        KeywordRule.objects.create(keyword="HOURS", reply="We are open 9 to 5.")
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


def setup() -> Bench:
    """The bench tenant, its key, the campaign's list and smaller ones for the pause, the
    warm-up and the rate-limited campaign."""
    tenant, key = tenant_setup()
    lists = lists_import(tenant, {"Everyone": (303, RECIPIENTS),
                                  "Pause": (304, PAUSE_RECIPIENTS),
                                  "Warm-up": (305, WARM_UP_RECIPIENTS),
                                  "Limited": (306, LIMITED_RECIPIENTS)})
    return Bench(tenant=tenant, key=key, main=lists["Everyone"], paused=lists["Pause"],
                 warm_up=lists["Warm-up"], limited=lists["Limited"])


def _delivered(tenant: Tenant, campaign_id: int) -> int:
    with schema_context(tenant.schema_name):
        return Message.objects.filter(campaign_id=campaign_id, status="delivered").count()


class Api:
    """The tenant's campaigns API as the bench calls it (gunicorn on ``port``)."""

    def __init__(self, tenant: Tenant, key: str, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.session = requests.Session()
        self.session.headers.update({"Host": f"{tenant.slug}.localhost",
                                     "Authorization": f"Bearer {key}"})

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        response = self.session.post(f"{self.base}{path}", json=body, timeout=120)
        response.raise_for_status()
        return response

    def create(self, name: str, list_id: int, sender: str = SENDER) -> int:
        return self.post("/campaigns", {
            "name": name, "sender": sender, "quiet_hours": None,
            "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. '
                    "Reply STOP to opt out.", "audience": {"lists": [list_id]}}).json()["id"]

    def start(self, campaign_id: int) -> float:
        """Start the campaign; the request's time in ms."""
        began = time.perf_counter()
        self.post(f"/campaigns/{campaign_id}/start")
        return (time.perf_counter() - began) * 1000


def run(bench: Bench) -> dict[str, float]:
    """Every figure of the section, one phase after another on the same web and worker
    processes (the order keeps each phase's messages out of the next one's counts)."""
    tenant = bench.tenant
    port = free_port()
    api = Api(tenant, bench.key, port)
    figures: dict[str, float] = {}
    fake = FakeTwilio(token=TOKEN).start()
    ProviderConnection.objects.filter(name=TWILIO_CONNECTION).update(settings={
        "account_sid": fake.sid, "auth_token": TOKEN, "api_base_url": fake.base_url})
    try:
        with _servers(port) as started:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            _warm_up(tenant, api, bench.warm_up)
            # Two exchanges not counted: a fresh worker process's first task loads what
            # every later one finds in memory.
            keyword_replies(tenant, port, fake.sid, first=9_000, count=2, to=LATENCY_SENDER)
            idle = keyword_replies(tenant, port, fake.sid, first=0, to=LATENCY_SENDER)
            figures.update({f"idle_{name}": value for name, value in idle.items()})
            figures["start_small_ms"] = _start_small(bench, api)
            figures.update(_deliver(bench, api, worker=started[1].pid))
            figures.update(_bulk(tenant, api))
            figures.update(_pause(tenant, api, bench.paused))
            figures.update(_replies_during(bench, api, port, fake.sid))
            alone = _limited(tenant, api, bench.limited)
            beside = _limited(tenant, api, bench.limited, beside=bench.main)
            figures.update({f"limited_{name}": value for name, value in alone.items()})
            figures.update({f"limited_beside_{name}": value for name, value in beside.items()})
    finally:
        fake.stop()
    figures["resolve_rate"] = figures["recipients"] / max(figures["resolve_seconds"], 1e-6)
    figures["deliver_rate"] = figures["recipients"] / figures["deliver_seconds"]
    return figures


def _servers(port: int):
    """gunicorn (2 workers) and one Celery worker of concurrency 2 on every queue, as in
    production."""
    return processes(gunicorn("cpaas.wsgi:application", port),
                     celery_worker(",".join(settings.WORKER_QUEUES), 2, "campaigns"),
                     env=child_env(PUBLIC_BASE_URL=f"http://localhost:{port}"))


def _wait_delivered(tenant: Tenant, campaign_id: int, count: int, *, began: float,
                    what: str, step: float = 0.05, sample=lambda: None) -> None:
    """Until ``count`` of the campaign's messages are delivered (``sample`` called at each
    look), or raise once ``TIMEOUT`` has passed since ``began`` (``time.perf_counter``)."""
    while _delivered(tenant, campaign_id) < count:
        if time.perf_counter() - began > TIMEOUT:
            raise RuntimeError(f"{what} was not delivered in time")
        sample()
        time.sleep(step)


def _warm_up(tenant: Tenant, api: Api, list_id: int) -> None:
    """Small campaigns until one is delivered within seconds: the worker's pool and both
    web workers have started and served these paths once."""
    for _ in range(4):
        warm = api.create("Warm-up", list_id)
        began = time.perf_counter()
        api.start(warm)
        _wait_delivered(tenant, warm, WARM_UP_RECIPIENTS, began=began,
                        what="the warm-up campaign")
        if time.perf_counter() - began < 3:
            return


def delivery_rate(tenant: Tenant, key: str, list_id: int, warm_up: int,
                  recipients: int) -> float:
    """A campaign to the list of ``recipients`` members, after a warm-up as in ``run``:
    messages per second from the start request until every one is ``delivered``."""
    port = free_port()
    api = Api(tenant, key, port)
    with _servers(port):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        _warm_up(tenant, api, warm_up)
        campaign_id = api.create("Bench", list_id)
        began = time.perf_counter()
        api.start(campaign_id)
        _wait_delivered(tenant, campaign_id, recipients, began=began, what="the campaign",
                        step=0.25)
        return recipients / (time.perf_counter() - began)


def _start_small(bench: Bench, api: Api) -> float:
    """The start request's time for a campaign of WARM_UP_RECIPIENTS, on warm processes:
    the baseline of the large campaign's start. Returns once its messages are delivered,
    so that they do not fall into the next figure."""
    campaign_id = api.create("Small", bench.warm_up)
    api.session.get(f"{api.base}/campaigns/{campaign_id}", timeout=120)
    began = time.perf_counter()
    elapsed = api.start(campaign_id)
    _wait_delivered(bench.tenant, campaign_id, WARM_UP_RECIPIENTS, began=began,
                    what="the small campaign")
    return elapsed


def _deliver(bench: Bench, api: Api, *, worker: int) -> dict[str, float]:
    """The campaign to the main list: start, audience, every message delivered, and the
    worker's memory meanwhile."""
    tenant = bench.tenant
    figures = {}
    campaign_id = api.create("Bench", bench.main)
    api.session.get(f"{api.base}/campaigns/{campaign_id}", timeout=120)
    rss_before = process_tree_rss(worker)
    began = time.perf_counter()
    figures["start_ms"] = api.start(campaign_id)
    peaks = [rss_before]
    _wait_delivered(tenant, campaign_id, RECIPIENTS, began=began, what="the campaign",
                    step=0.25, sample=lambda: peaks.append(process_tree_rss(worker)))
    figures["deliver_seconds"] = time.perf_counter() - began
    figures["rss_growth_mb"] = (max(*peaks, process_tree_rss(worker)) - rss_before) / 2**20
    with schema_context(tenant.schema_name):
        campaign = Campaign.objects.get(pk=campaign_id)
        if campaign.audience_done_at is None:
            raise RuntimeError("the audience task never finished")
        figures["resolve_seconds"] = (campaign.audience_done_at
                                      - campaign.started_at).total_seconds()
        figures["recipients"] = campaign.recipients
    return figures


def _bulk(tenant: Tenant, api: Api) -> dict[str, float]:
    """The baseline: BULK_MESSAGES of the campaign's text through `/messages/bulk` (1,000
    per request) from the same sender to the same worker, first POST to last delivered."""
    began = time.perf_counter()
    for offset in range(0, BULK_MESSAGES, 1000):
        items = [{"from": SENDER, "to": f"+1307{index:07d}",
                  "body": f"Hi Member {index}, 20% off this weekend. Reply STOP to opt out."}
                 for index in range(offset, min(offset + 1000, BULK_MESSAGES))]
        api.post("/messages/bulk", {"messages": items})
    with schema_context(tenant.schema_name):
        sent = Message.objects.filter(from_address=SENDER, to_address__startswith="+1307",
                                      status="delivered")
        while sent.count() < BULK_MESSAGES:
            if time.perf_counter() - began > TIMEOUT:
                raise RuntimeError("the /messages/bulk baseline was not delivered in time")
            time.sleep(0.25)
    seconds = time.perf_counter() - began
    return {"bulk_seconds": seconds, "bulk_rate": BULK_MESSAGES / seconds}


def _pause(tenant: Tenant, api: Api, list_id: int) -> dict[str, float]:
    """How long after the pause request does a campaign's last message leave?"""
    figures = {}
    second = api.create("Bench pause", list_id)
    api.start(second)
    while _delivered(tenant, second) < PAUSE_RECIPIENTS // 10:
        time.sleep(0.05)
    asked = time.perf_counter()
    api.post(f"/campaigns/{second}/pause")
    figures["pause_request_ms"] = (time.perf_counter() - asked) * 1000
    last, last_change = _delivered(tenant, second), time.perf_counter()
    while time.perf_counter() - last_change < 3:
        now = _delivered(tenant, second)
        if now != last:
            last, last_change = now, time.perf_counter()
        time.sleep(0.02)
    figures["pause_effect_seconds"] = max(0.0, last_change - asked)
    figures["paused_at"] = last
    api.post(f"/campaigns/{second}/cancel")
    return figures


def _replies_during(bench: Bench, api: Api, port: int, sid: str) -> dict[str, float]:
    """Keyword replies while a campaign to the main list sends: started once its first
    messages are delivered, when the worker has a backlog of its sends in front; how many
    of the campaign's messages were delivered meanwhile says that it kept sending."""
    tenant = bench.tenant
    busy = api.create("Bench during replies", bench.main)
    api.start(busy)
    while _delivered(tenant, busy) < min(RECIPIENTS // 20, 2000):
        time.sleep(0.05)
    before = _delivered(tenant, busy)
    during = keyword_replies(tenant, port, sid, first=LATENCY_MESSAGES, to=LATENCY_SENDER)
    during["campaign_delivered"] = _delivered(tenant, busy) - before
    during["campaign_done"] = before + during["campaign_delivered"] >= RECIPIENTS
    api.post(f"/campaigns/{busy}/cancel")
    return {f"during_{name}": value for name, value in during.items()}


def _limited(tenant: Tenant, api: Api, list_id: int, *,
             beside: int | None = None) -> dict[str, float]:
    """A campaign from the sender limited to 10 segments/s (one-segment texts): its sends
    (``sent_at``, as the 1-segment-per-second row of bench/messaging.py counts them) in
    the RATE_SECONDS after its start request. With ``beside`` (a list), a campaign to
    that list from the unlimited sender is started first and sends through the same
    worker meanwhile (from once its first 1,000 are delivered: its backlog is queued);
    then also how many seconds of the window it was still sending (it may finish
    first)."""
    figures: dict[str, float] = {}
    background = None
    if beside is not None:
        background = api.create("Bench beside the limited", beside)
        api.start(background)
        while _delivered(tenant, background) < min(RECIPIENTS // 20, 1000):
            time.sleep(0.05)
    campaign_id = api.create("Bench limited", list_id, sender=LIMITED_SENDER)
    began = timezone.now()
    api.start(campaign_id)
    end = began + timedelta(seconds=RATE_SECONDS)
    time.sleep(max(0.0, (end - timezone.now()).total_seconds()) + 1)
    with schema_context(tenant.schema_name):
        figures["sent"] = Message.objects.filter(campaign_id=campaign_id, sent_at__gte=began,
                                                 sent_at__lt=end).count()
        segments = set(Message.objects.filter(campaign_id=campaign_id)
                       .values_list("segments", flat=True))
        if background is not None:
            last = (Message.objects.filter(campaign_id=background, sent_at__lt=end)
                    .aggregate(last=Max("sent_at"))["last"])
            figures["other_sending_seconds"] = max(0.0, min(
                RATE_SECONDS, (last - began).total_seconds() if last else 0.0))
    for running in (campaign_id, background):
        if running is not None:
            api.post(f"/campaigns/{running}/cancel")
    if segments != {1}:
        raise RuntimeError(f"the rate-limited campaign's texts have {segments} segments")
    figures["rate"] = figures["sent"] / RATE_SECONDS
    return figures
