"""A campaign's reply actions page in a real browser (Debian's Chromium through Playwright)
against the portal served over HTTP from this process, on committed data the test removes:
an owner adds an action, uploads a CSV of codes with a repeat, and a recipient's YES then
gets one of them. The screenshot goes to docs/screenshots/reply_actions.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from campaigns.models import Campaign, ReplyCode
from messaging.models import Sender
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import portal_server
from tests.support.messaging import SIM_NUMBER, customer_texts
from tests.test_campaign_replies import campaign_texts

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "reply_actions.png"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # As in test_inbox_browser: Playwright's event loop makes the ORM think it runs async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


def test_an_owner_sets_up_a_code_offer_and_a_recipient_gets_a_code(committed_alpha, tmp_path):
    with schema_context(committed_alpha.schema_name):
        campaign = Campaign.objects.create(
            name="Spring sale", sender=Sender.objects.get(address=SIM_NUMBER),
            body="Spring sale! Reply YES for 20% off.")
    campaign_texts(committed_alpha, campaign)
    codes = tmp_path / "codes.csv"
    codes.write_text("code\nSPRING-7KQ2\nSPRING-9XD4\nSPRING-7KQ2\n")
    violations: list[str] = []
    with chromium() as browser, portal_server() as port:
        site = f"http://alpha.localhost:{port}"
        page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", "owner@alpha.example")
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(f"{site}/")
        page.goto(f"{site}/campaigns/{campaign.pk}/reply-actions/")
        page.get_by_label("Keyword").fill("STOP")
        page.get_by_label("Reply", exact=True).fill("Your code: {{ code }}")
        page.get_by_role("button", name="Add the action").click()
        expect(page.locator(".field-keyword .error")).to_contain_text("opt-out keyword")
        page.get_by_label("Keyword").fill("yes")
        page.get_by_label("When the codes run out").fill("Sorry, all gone!")
        page.get_by_role("button", name="Add the action").click()
        expect(page.get_by_role("status")).to_contain_text("text YES within 72 hours")
        page.get_by_label("Add codes (CSV)").set_input_files(str(codes))
        page.get_by_role("button", name="Upload codes").click()
        expect(page.get_by_role("status")).to_contain_text(
            "Added 2 codes to YES; 2 available, 0 given. 1 duplicate dropped: SPRING-7KQ2.")
        [reply] = customer_texts(committed_alpha, "Yes!")
        assert reply.body == "Your code: SPRING-7KQ2"
        # Opened under Playwright's event loop, where the fixture's close cannot reach it.
        connections.close_all()
        page.reload()
        expect(page.locator(".code-counts")).to_have_text("1 available · 1 given")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert violations == []
    with schema_context(committed_alpha.schema_name):
        assert ReplyCode.objects.exclude(phone="").count() == 1
