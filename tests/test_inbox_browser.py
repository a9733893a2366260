"""The inbox in a real browser (Debian's Chromium through Playwright) against the portal
served over HTTP from this process, on committed data that each test removes.

Delivery runs in a real Celery worker (the test marked ``slow``), as under ``make run``;
the other tests need none: a customer's text is stored and processed from the test thread
(``message_receive_simulated`` + ``message_process``), which is what the worker would do.
Screenshots of the main screens go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import Role, User
from core.encoding import analyse, unencodable_in_gsm7
from messaging.canned import canned_response_save
from messaging.models import Conversation, Message
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server
from tests.support.messaging import CUSTOMER, SIM_NUMBER, approved_sender, customer_texts
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
OTHER = "+14155550188"
XSS = "<img src=x onerror=alert(1)>"
# Open inboxes poll every 1-2 s (docs/ARCHITECTURE.md#live-updates); the test allows one poll, one
# fetch and some slack.
LIVE_WITHIN_MS = 2_000


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes
    # for async code. The tests' queries are plain sync calls between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    # Under that loop the ORM keeps its connection apart from the thread's usual one
    # (asgiref's context-local storage); close it, or the test database cannot be dropped.
    connections.close_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def alpha_inbox(committed_db) -> Iterator[Tenant]:
    """Tenant alpha with an approved simulator sender and an agent, committed for real;
    everything is removed afterwards."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT,
                                 name="Alex Agent")
    try:
        yield alpha
    finally:
        with schema_context(alpha.schema_name):
            User.objects.filter(email="agent@alpha.example").delete()
        tenant_data_reset(alpha)


@pytest.fixture
def site(alpha_inbox) -> Iterator[str]:
    with portal_server() as port:
        yield f"http://alpha.localhost:{port}"


@pytest.fixture(scope="module")
def worker(process_env) -> Iterator[None]:
    with celery_worker(process_env):
        yield


@pytest.fixture
def sign_in(browser: Browser, site: str) -> Iterator[Callable[..., tuple[Page, list[str]]]]:
    """Open a fresh browser context signed in as ``email``; answers the page and the list
    of every dialog (alert, confirm) a script opened, which none may. The contexts close
    before the server stops, so no poll is left in flight."""
    contexts: list[BrowserContext] = []

    def open_page(email: str = "owner@alpha.example", **options) -> tuple[Page, list[str]]:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(f"{site}/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(f"{site}/")
        return page, dialogs

    yield open_page
    for context in contexts:
        context.close()


def conversation_id(tenant: Tenant, phone: str = CUSTOMER) -> int:
    with schema_context(tenant.schema_name):
        return Conversation.objects.get(contact__phone=phone).pk


def mark_page(page: Page) -> None:
    """Set a flag that a reload or navigation would lose."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true")


def test_reply_is_delivered_and_a_customer_text_arrives_live(sign_in, alpha_inbox, site,
                                                              worker):
    customer_texts(alpha_inbox, "Hi, where is my order #1234?")
    customer_texts(alpha_inbox, "Do you open on Sundays?", from_=OTHER)
    page, dialogs = sign_in(viewport={"width": 1280, "height": 800})
    expect(page.locator("#inbox-list .conversation")).to_have_count(2)
    expect(page.get_by_role("link", name="All open")).to_have_attribute("aria-current", "page")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "inbox.png"))

    page.locator(f'a[data-conversation="{conversation_id(alpha_inbox)}"]').click()
    expect(page.get_by_role("heading", name=CUSTOMER)).to_be_visible()
    reply = page.get_by_label("Reply")
    reply.fill("Your order shipped today: tracking 1Z999 ")
    expect(page.locator("#reply-counter")).to_have_text(
        "41 · 1 segment · 119 left · GSM-7")
    reply.press_sequentially("✓")
    expect(page.locator("#reply-counter")).to_contain_text("UCS-2 because of “✓”")
    page.get_by_role("button", name="Send", exact=True).click()
    status = page.locator(".bubble.outbound .msg-status")
    # Queued by the page, sent and delivered by the worker; the page follows by itself.
    expect(status).to_have_text("delivered", timeout=20_000)
    mark_page(page)

    started = time.monotonic()
    customer_texts(alpha_inbox, "Great, thanks!")
    expect(page.locator(".bubble.inbound .body", has_text="Great, thanks!")).to_be_visible(
        timeout=LIVE_WITHIN_MS)
    assert time.monotonic() - started < LIVE_WITHIN_MS / 1000 + 0.5
    assert_not_reloaded(page)
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".bubbles .event")).to_contain_text(
        "Taken by owner@alpha.example")
    page.screenshot(path=str(SCREENSHOTS / "thread.png"))
    assert dialogs == []


def test_a_text_to_another_conversation_moves_the_list_and_its_badge_live(
        sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "First")
    customer_texts(alpha_inbox, "Second", from_=OTHER)
    page, _ = sign_in()
    page.locator(f'a[data-conversation="{conversation_id(alpha_inbox, OTHER)}"]').click()
    first = page.locator("#inbox-list .conversation").first
    expect(first).to_contain_text(OTHER)
    mark_page(page)
    customer_texts(alpha_inbox, "Anyone there?")
    expect(first).to_contain_text(CUSTOMER, timeout=LIVE_WITHIN_MS)
    expect(first).to_contain_text("Anyone there?")
    expect(first.locator(".badge")).to_have_text("2 unread")
    assert_not_reloaded(page)


def test_an_opt_out_disables_the_composer(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Hello")
    page, _ = sign_in()
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    reply = page.get_by_label("Reply")
    expect(reply).to_be_enabled()
    mark_page(page)
    customer_texts(alpha_inbox, "STOP")
    expect(reply).to_be_disabled(timeout=LIVE_WITHIN_MS)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    expect(page.locator("#reply-blocked")).to_have_text(
        f"{CUSTOMER} has opted out of messages from {SIM_NUMBER}: replies are blocked "
        "until they text START.")
    expect(page.locator("#contact-consent")).to_contain_text("Opted out of")
    expect(page.locator("#contact-consent")).to_contain_text("Opt Out by keyword")
    assert_not_reloaded(page)
    page.reload()  # and so it stays
    expect(page.get_by_label("Reply")).to_be_disabled()


def test_an_agent_is_refused_an_admin_page(sign_in, alpha_inbox, site):
    page, _ = sign_in(email="agent@alpha.example")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("API keys")
    response = page.goto(f"{site}/settings/api-keys/")
    assert response.status == 403


def test_admin_pages_open_from_the_manage_menu_with_the_keyboard(sign_in, alpha_inbox, site):
    page, _ = sign_in()
    webhooks = page.get_by_role("link", name="Webhooks")
    expect(webhooks).to_be_hidden()
    page.locator("summary", has_text="Manage").focus()
    page.keyboard.press("Enter")
    expect(webhooks).to_be_visible()
    webhooks.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/webhooks/")
    # An agent has no such menu.
    agent, _ = sign_in(email="agent@alpha.example")
    expect(agent.locator("summary", has_text="Manage")).to_have_count(0)


def test_a_customers_markup_is_shown_as_text_and_never_runs(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, XSS)
    page, dialogs = sign_in()
    expect(page.locator("#inbox-list .preview")).to_have_text(XSS)
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    expect(page.locator(".bubble.inbound .body")).to_have_text(XSS)
    # And through a live update, which takes the other road into the page.
    customer_texts(alpha_inbox, XSS + "<script>alert(2)</script>")
    expect(page.locator(".bubble.inbound .body").last).to_have_text(
        XSS + "<script>alert(2)</script>", timeout=LIVE_WITHIN_MS)
    page.wait_for_timeout(500)  # time for an error handler to fire, were there an image
    assert page.locator("#main img, #main script").count() == 0
    assert dialogs == []


def test_keyboard_shortcuts(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "First")
    customer_texts(alpha_inbox, "Second", from_=OTHER)
    page, _ = sign_in()
    first, second = OTHER, CUSTOMER  # most recent activity first
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name=first)).to_be_visible()
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name=second)).to_be_visible()
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name=first)).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.keyboard.press("r")
    expect(page.get_by_label("Reply")).to_be_focused()
    page.keyboard.type("j/e?")  # typed into the reply, not taken as shortcuts
    expect(page.get_by_label("Reply")).to_have_value("j/e?")
    page.get_by_label("Reply").blur()
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()
    page.get_by_label("Search").blur()
    page.keyboard.press("e")
    expect(page.locator(".status-pill")).to_have_text("Resolved")
    with schema_context(alpha_inbox.schema_name):
        assert Conversation.objects.get(contact__phone=first).status == "resolved"


def test_usable_at_375_pixels(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Can I change my delivery address to 12 Long Street?")
    page, _ = sign_in(viewport={"width": 375, "height": 812},
                      is_mobile=True, has_touch=True)
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    expect(page.get_by_label("Reply")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    thread = page.locator(".inbox-thread").bounding_box()
    listing = page.locator(".inbox-list").bounding_box()
    assert thread["y"] < listing["y"]  # stacked, the open conversation first
    assert thread["width"] > 300
    page.screenshot(path=str(SCREENSHOTS / "mobile.png"), full_page=True)


def test_a_canned_response_is_picked_by_shortcode_and_sent(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "When are you open?")
    hours = 'Hi {{ contact.name | default: "there" }}, we are open 9 to 5, Monday to Friday.'
    with schema_context(alpha_inbox.schema_name):
        for shortcode, body in (("hours", hours), ("in-house", "We repair it in house."),
                                ("thanks", "Thanks!")):
            canned_response_save(shortcode=shortcode, body=body)
    page, dialogs = sign_in(email="agent@alpha.example")  # every role uses them
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    reply = page.get_by_label("Reply")
    listbox = page.get_by_role("listbox", name="Canned responses")
    options = listbox.get_by_role("option")
    reply.click()
    reply.press_sequentially("/hou")  # "/" types, it does not jump to the search box
    expect(listbox).to_be_visible()
    # Shortcodes starting with what was typed first, then those containing it.
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("/hours")
    expect(options.first).to_contain_text("Hi there, we are open 9 to 5")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(reply).to_have_attribute("aria-activedescendant", "canned-option-0")
    reply.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(reply).to_have_attribute("aria-activedescendant", "canned-option-1")
    reply.press("ArrowDown")  # round to the first again
    expect(options.first).to_have_attribute("aria-selected", "true")
    reply.press("Escape")
    expect(listbox).to_be_hidden()
    expect(reply).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    reply.press_sequentially("rs")  # typing again opens it again
    expect(options).to_have_count(1)
    expect(reply).to_be_focused()
    reply.press("Enter")
    body = "Hi there, we are open 9 to 5, Monday to Friday."
    expect(reply).to_have_value(body)
    expect(listbox).to_be_hidden()
    expected = analyse(body)
    expect(page.locator("#reply-counter")).to_have_text(
        f"{expected.units} · 1 segment · {expected.remaining} left · GSM-7")

    reply.press("Control+Home")  # only at the start of the reply does "/" call them
    reply.press_sequentially("/t")
    expect(options).to_have_count(1)
    options.first.click()
    expect(reply).to_have_value(f"Thanks! {body}")
    expect(reply).to_be_focused()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".bubble.outbound .body")).to_have_text(f"Thanks! {body}")
    expect(page.get_by_label("Reply")).to_have_value("")
    with schema_context(alpha_inbox.schema_name):
        assert Message.objects.get(direction="outbound").body == f"Thanks! {body}"
    assert violations == [] and dialogs == []


TEXTS = ["", "Hello", "x" * 160, "x" * 161, "€" * 80, "€" * 81, "[" * 77 + "x",
         "é ü ñ Ä", "Привет", "ж" * 70, "ж" * 71, "😀" * 35, "😀" * 36, "a😀" * 30,
         "ok 🚚", "tab\there", "\f", "x" * 152 + "€" + "x" * 10]


def test_the_counter_in_the_browser_counts_as_the_server(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Hello")
    page, _ = sign_in()
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    results = page.evaluate("texts => texts.map(t => window.smsCounter.analyse(t))", TEXTS)
    for text, result in zip(TEXTS, results, strict=True):
        expected = analyse(text)
        assert result == {"encoding": expected.encoding, "segments": expected.segments,
                          "units": expected.units, "per_segment": expected.per_segment,
                          "remaining": expected.remaining,
                          "culprit": unencodable_in_gsm7(text)}, text



def test_the_portal_runs_under_a_policy_with_no_inline_script(alpha_inbox, sign_in, site):
    """Every page is served with a Content-Security-Policy that allows no inline script,
    and none of the main pages trips it: their scripts are all files of our own."""
    customer_texts(alpha_inbox, "Hello there")
    page, dialogs = sign_in()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    page.get_by_label("Reply").fill("Testing the policy €")
    for path in ("/rules/", "/optouts/", "/settings/", "/settings/api-keys/", "/webhooks/",
                 "/canned-responses/", "/senders/"):
        assert page.goto(site + path).status == 200, path
    assert violations == [] and dialogs == []
