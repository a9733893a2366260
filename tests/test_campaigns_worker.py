"""Campaigns through a real Celery worker: start answers at once and the worker sends;
pause stops the sends within 2 s, resume finishes them, cancel ends what had not left as
``canceled`` with nothing sent afterwards. The sender is held to 60 segments a second
so that a campaign of a few hundred is still sending when it is paused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.imports import do_list_import, list_import_create
from campaigns.lists import list_create
from campaigns.models import Campaign
from campaigns.sweep import campaigns_sweep
from messaging.models import Message
from tenants.models import Tenant
from tests.support.db import tenant_data_reset
from tests.support.messaging import SIM_NUMBER, Api, approved_sender, key_for
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow  # a real worker

RATE = 60
AUDIENCE = 600


@pytest.fixture
def alpha(committed_db) -> Iterator[Tenant]:
    tenant = Tenant.objects.get(slug="alpha")
    approved_sender(tenant, SIM_NUMBER, "simulator", rate_limit=RATE)
    try:
        yield tenant
    finally:
        tenant_data_reset(tenant)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def subscribers(tenant: Tenant, count: int) -> int:
    """A list of ``count`` members, imported as a business would."""
    rows = "".join(f"+1415700{n:04d},Member {n}\n" for n in range(count))
    with schema_context(tenant.schema_name):
        members = list_create(name="Everyone", double_opt_in=False)
        job = list_import_create(subscriber_list=members, file_name="members.csv",
                                 content=f"phone,name\n{rows}".encode(),
                                 consent_source="Till receipts", evidence="Kept in the shop")
        do_list_import(import_id=job.pk)
        return members.pk


def statuses(tenant: Tenant, campaign_id: int) -> dict[str, int]:
    with schema_context(tenant.schema_name):
        counts: dict[str, int] = {}
        for status in Message.objects.filter(campaign_id=campaign_id).values_list(
                "status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        return counts


def test_pause_stops_sends_within_2s_resume_finishes_cancel_sends_nothing_more(
        alpha, process_env, tmp_path):
    api = Api(alpha, key_for(alpha))
    list_id = subscribers(alpha, AUDIENCE)
    body = {"name": "Sale", "sender": SIM_NUMBER, "quiet_hours": None,
            "body": 'Hi {{ contact.name | default: "there" }}, 20% off today.',
            "audience": {"lists": [list_id]}}
    first = api.post("campaigns", body).json()
    second = api.post("campaigns", {**body, "name": "Second"}).json()

    def delivered(campaign: dict) -> int:
        return statuses(alpha, campaign["id"]).get("delivered", 0)

    with (tmp_path / "worker.log").open("w") as log, celery_worker(process_env, log=log):
        began = time.monotonic()
        response = api.post(f"campaigns/{first['id']}/start", {})
        assert response.status_code == 202 and response.json()["status"] == "sending"
        assert time.monotonic() - began < 1.0  # 200 ms on a quiet machine: bench/campaigns.py
        assert wait_for(lambda: delivered(first) >= 60)

        assert api.post(f"campaigns/{first['id']}/pause", {}).status_code == 202
        time.sleep(2)
        settled = delivered(first)
        time.sleep(3)
        assert delivered(first) == settled < AUDIENCE
        held = statuses(alpha, first["id"])
        assert held.get("scheduled", 0) == AUDIENCE - settled

        assert api.post(f"campaigns/{first['id']}/resume", {}).status_code == 202
        assert wait_for(lambda: delivered(first) == AUDIENCE, 90), statuses(alpha,
                                                                           first["id"])

        assert api.post(f"campaigns/{second['id']}/start", {}).status_code == 202
        assert wait_for(lambda: delivered(second) >= 60)
        canceled = api.post(f"campaigns/{second['id']}/cancel", {})
        assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
        time.sleep(2)
        settled = delivered(second)
        time.sleep(3)
        after = statuses(alpha, second["id"])
        assert after.get("delivered", 0) == settled
        assert after == {"delivered": settled, "canceled": AUDIENCE - settled}

    with schema_context(alpha.schema_name):
        now = timezone.now()
        campaigns_sweep(schema=alpha.schema_name, now=now, stale_before=now)
        done = Campaign.objects.get(pk=first["id"])
        assert (done.status, done.recipients) == ("completed", AUDIENCE)
        assert Campaign.objects.get(pk=second["id"]).status == "canceled"
    stats = api.get(f"campaigns/{first['id']}").json()["stats"]
    assert stats["delivered"] == AUDIENCE and stats["queued"] == 0
