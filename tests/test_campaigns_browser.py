"""A campaign's page in a real browser (Debian's Chromium through Playwright) against the
portal served over HTTP from this process, on committed data the test removes: the funnel
and the per-hour chart (replies, opt-outs, clicks) are drawn under the
Content-Security-Policy, and the figures follow the campaign while it sends, without a
reload. Writes docs/screenshots/campaign.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from campaigns.lists import list_create, subscriber_add
from campaigns.sending import (
    campaign_complete_if_done,
    campaign_create,
    campaign_send,
    campaign_start,
)
from messaging.models import Message
from messaging.outbound import messages_deliver
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chart_drawn, chromium, page_problems
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server
from tests.support.messaging import SIM_NUMBER, approved_sender

pytestmark = pytest.mark.slow  # a real browser

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "campaign.png"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes
    # for async code; the ORM calls between browser steps are plain sync calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


@pytest.fixture
def sending(committed_db) -> Iterator[tuple[Tenant, int, str]]:
    """Alpha with a campaign to three members, started, its messages stored and queued."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    try:
        with schema_context(alpha.schema_name):
            members = list_create(name="VIP club", double_opt_in=False)
            for index, name in enumerate(("Ann", "Bo", "")):
                subscriber_add(subscriber_list=members, phone=f"+1415555014{index}",
                               name=name, source="staff", evidence="Asked at the counter")
            campaign = campaign_create(
                name="Spring sale", sender=SIM_NUMBER, quiet_hours=None,
                body='Hi {{ contact.name | default: "there" }}, 20% off this weekend.',
                audience={"lists": [members.pk], "tags": []})
            campaign_start(campaign_id=campaign.pk)
            campaign_send(campaign_id=campaign.pk)
        with portal_server() as port:
            yield alpha, campaign.pk, f"http://alpha.localhost:{port}"
    finally:
        tenant_data_reset(alpha)


def test_the_campaign_page_draws_its_charts_and_follows_the_sends(sending):
    alpha, campaign_id, site = sending
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        problems = page_problems(page)
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", "owner@alpha.example")
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(f"{site}/")

        page.goto(f"{site}/campaigns/")
        page.get_by_role("link", name="Spring sale").click()
        expect(page.locator("#campaign-status")).to_have_text("Sending")
        figures = page.locator("#campaign-progress")
        expect(figures.locator("[data-figure=recipients]").first).to_have_text("3")
        expect(figures.locator("[data-figure=queued]")).to_have_text("3")
        for chart in ("#chart-funnel", "#chart-timeline"):
            chart_drawn(page, chart)
        # The legend names the per-hour series; the table holds the same numbers.
        for series in ("Replies", "Opt-outs", "Clicks"):
            expect(page.locator("#chart-timeline .u-legend")).to_contain_text(series)
        expect(page.locator("#table-timeline thead")).to_contain_text("Clicks")

        # The worker's part, here: the page follows without a reload.
        with schema_context(alpha.schema_name):
            ids = list(Message.objects.filter(campaign_id=campaign_id)
                       .values_list("pk", flat=True))
            messages_deliver(message_ids=ids)
        # Made while Playwright's loop runs, the connection belongs to that context:
        # closed here, or it outlives the test and the test database cannot be dropped.
        connections.close_all()
        expect(figures.locator("[data-figure=delivered]")).to_have_text("3", timeout=10_000)
        expect(figures.locator("[data-figure=queued]")).to_have_text("0")
        expect(page.locator("#campaign-bar")).to_have_attribute("value", "100")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        with schema_context(alpha.schema_name):
            assert campaign_complete_if_done(campaign_id=campaign_id)
        connections.close_all()
        expect(page.locator("#campaign-status")).to_have_text("Completed", timeout=10_000)
        page.get_by_role("link", name="Recipients and their messages").click()
        expect(page.locator("tbody tr")).to_have_count(3)
        expect(page.get_by_text("Hi there, 20% off this weekend.")).to_be_visible()
        assert problems == []
        context.close()
