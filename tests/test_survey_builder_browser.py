"""The survey builder in a real browser (Debian's Chromium through Playwright) against the
portal served over HTTP from this process, on committed data the test removes. The page
works without a script of its own: each question shows only its kind's settings (CSS
``:has``), and adding or moving a question is a form submission. The screenshot goes to
docs/screenshots/survey_builder.png (the README shows it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from messaging.models import Survey, SurveyQuestion
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "survey_builder.png"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # As in test_inbox_browser: Playwright's event loop makes the ORM think it runs async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


@pytest.fixture
def alpha_live(committed_db) -> Iterator[Tenant]:
    alpha = Tenant.objects.get(slug="alpha")
    try:
        yield alpha
    finally:
        tenant_data_reset(alpha)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module-scoped, so the ORM connection opened under Playwright's loop is still
    # reachable, and closed, when ``_orm_beside_playwright`` ends.
    with chromium() as browser:
        yield browser


@pytest.fixture
def owner_page(browser: Browser, alpha_live: Tenant) -> Iterator[tuple[Page, str]]:
    with portal_server() as port:
        site = f"http://alpha.localhost:{port}"
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", "owner@alpha.example")
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(f"{site}/")
        try:
            yield page, site
        finally:
            context.close()


def question(page: Page, number: int):
    return page.get_by_role("group", name=f"Question {number}")


def test_an_owner_builds_a_survey_in_the_browser(owner_page, alpha_live):
    page, site = owner_page
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{site}/surveys/")
    page.get_by_role("link", name="New survey").click()
    expect(page.get_by_role("heading", name="New survey")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Store visit")
    page.get_by_label("Intro").fill("Alpha would like your feedback.")
    page.get_by_label("Closing message").fill("Thanks for your answers!")
    first = question(page, 1)
    first.get_by_label("Kind").select_option(label="Choice from a list")
    # Only the settings of the chosen kind show.
    expect(first.get_by_label("Choices")).to_be_visible()
    expect(first.get_by_label("Lowest answer")).to_be_hidden()
    first.get_by_label("Question").fill("Which store did you visit?")
    first.get_by_label("Choices").fill("Downtown\nAirport\nMall")

    page.get_by_role("button", name="Add question").click()
    second = question(page, 2)
    expect(first.get_by_label("Choices")).to_have_value("Downtown\nAirport\nMall")
    second.get_by_label("Kind").select_option(label="Number")
    expect(second.get_by_label("Choices")).to_be_hidden()
    expect(second.get_by_label("Skip ahead")).to_be_hidden()
    second.get_by_label("Question").fill("From 0 to 10, how likely are you to come back?")
    second.get_by_label("Lowest answer").fill("0")
    second.get_by_label("Highest answer").fill("10")

    page.get_by_role("button", name="Add question").click()
    third = question(page, 3)
    third.get_by_label("Kind").select_option(label="Yes or no")
    expect(third.get_by_label("Skip ahead")).to_be_visible()
    third.get_by_label("Question").fill("Did you find what you needed?")
    third.get_by_label("Skip ahead").fill("no: end")
    page.get_by_role("button", name="Move up question 3").click()
    expect(question(page, 2).get_by_label("Question")).to_have_value(
        "Did you find what you needed?")
    expect(question(page, 1).get_by_role("button", name="Move up question 1")).to_be_disabled()
    question(page, 1).get_by_label("Skip ahead").fill("Mall: 3")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # A skip back to an earlier question is refused, next to the field, and kept as typed.
    question(page, 1).get_by_label("Skip ahead").fill("Mall: 1")
    page.get_by_role("button", name="Save survey").click()
    expect(question(page, 1).get_by_role("alert")).to_contain_text(
        "give a later question's position")
    expect(question(page, 1).get_by_label("Skip ahead")).to_have_value("Mall: 1")
    question(page, 1).get_by_label("Skip ahead").fill("Mall: 3")

    page.get_by_label("Name", exact=True).press("Enter")  # Enter saves, as in any form
    page.wait_for_url(f"{site}/surveys/")
    expect(page.get_by_role("status")).to_contain_text("Survey Store visit saved.")
    with schema_context(alpha_live.schema_name):
        survey = Survey.objects.get()
        assert [(q.position, q.kind, q.branching) for q in
                SurveyQuestion.objects.filter(survey=survey)] == [
            (1, "choice", {"Mall": 3}), (2, "yes_no", {"no": "end"}), (3, "number", {})]
    page.get_by_role("link", name="Edit Store visit").click()
    expect(question(page, 3).get_by_label("Highest answer")).to_have_value("10")
    assert violations == []
