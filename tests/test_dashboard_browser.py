"""The dashboard in a real browser (Debian's Chromium through Playwright) against the portal
served over HTTP from this process, on a month of committed traffic the test removes.

The charts are drawn by the vendored uPlot under the portal's Content-Security-Policy;
the test checks they were drawn, that nothing was refused or failed, and writes
docs/screenshots/dashboard.png (the README shows it).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from optout.models import ConsentEvent
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chart_drawn, chromium, page_problems
from tests.support.dashboard_data import Text, add_texts, conversation_with
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "dashboard.png"
# Customers text mostly in office hours, most of all after lunch.
HOUR_WEIGHTS = [1, 0, 0, 0, 0, 1, 2, 4, 8, 12, 14, 13, 10, 12, 16, 14, 11, 9, 7, 6, 5, 4, 3, 2]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes
    # for async code; close the ORM's connection after (see test_inbox_browser.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


def _month_of_traffic(now: datetime) -> None:
    """Thirty days of a small business: customers' texts, staff replies minutes later
    (a few never answered), now and then a failed delivery and a STOP."""
    chance = random.Random(6)
    today = now.date()
    for index in range(40):
        conversation = conversation_with(f"+1415555{index:04d}", active_at=now)
        texts = []
        for _ in range(chance.randint(8, 22)):
            day = today - timedelta(days=chance.randrange(30))
            hour = chance.choices(range(24), HOUR_WEIGHTS)[0]
            at = (datetime.combine(day, time(hour), tzinfo=now.tzinfo)
                  + timedelta(minutes=chance.randrange(60)))
            if at > now:
                continue
            texts.append(Text(at))
            if chance.random() < 0.9:
                status = chance.choices(["delivered", "undelivered", "failed", "sent"],
                                        [94, 3, 1, 2])[0]
                texts.append(Text(at + timedelta(minutes=chance.expovariate(1 / 12)),
                                  "outbound", status))
        add_texts(conversation, *sorted(texts))
        if index % 13 == 0:
            ConsentEvent.objects.create(phone=conversation.contact.phone, action="opt_out",
                                        source="keyword")


@pytest.fixture
def site(committed_db) -> Iterator[str]:
    alpha = Tenant.objects.get(slug="alpha")
    with schema_context(alpha.schema_name):
        _month_of_traffic(timezone.now())
    try:
        with portal_server() as port:
            yield f"http://alpha.localhost:{port}"
    finally:
        tenant_data_reset(alpha)


def test_the_charts_are_drawn_under_the_policy(site):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        problems = page_problems(page)
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", "owner@alpha.example")
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(f"{site}/")

        page.get_by_role("link", name="Dashboard").click()
        expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
        expect(page.get_by_role("link", name="Last 30 days")).to_have_attribute(
            "aria-current", "page")
        for chart in ("#chart-daily", "#chart-hours"):
            chart_drawn(page, chart)
        # The legend names the series; the tables hold the same numbers.
        expect(page.locator("#chart-daily .u-legend")).to_contain_text("In")
        expect(page.locator("#chart-daily .u-legend")).to_contain_text("Out")
        page.get_by_text("Messages per day as a table").click()
        expect(page.locator("#table-daily tbody tr")).to_have_count(30)
        page.get_by_text("Messages per day as a table").click()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.get_by_role("link", name="Last 7 days").click()
        expect(page.locator("#table-daily tbody tr")).to_have_count(7)
        expect(page.locator("#chart-daily canvas")).to_have_count(1)
        assert problems == []
        context.close()
