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
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import Role, User
from core.encoding import analyse, unencodable_in_gsm7
from messaging.canned import canned_response_save
from messaging.contacts import contact_create, contact_update
from messaging.conversations import conversation_resolve
from messaging.models import Conversation, Message
from optout.actions import do_opt_out
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.db import tenant_data_reset
from tests.support.factories import ConversationNoteFactory, MessageFactory
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


def not_wider_than_the_viewport(page: Page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def test_one_pane_at_a_time_at_375_pixels_with_a_way_back(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Can I change my delivery address to 12 Long Street?")
    with schema_context(alpha_inbox.schema_name):
        contact = Conversation.objects.get().contact
        contact_update(contact=contact, name="Bartholomew Featherstonehaugh-Smythe",
                       tags=["wholesale-priority-customer", "vip"])
    page, _ = sign_in(viewport={"width": 375, "height": 812},
                      is_mobile=True, has_touch=True)
    listing, thread = page.locator(".inbox-list"), page.locator(".inbox-thread")
    expect(listing).to_be_visible()
    expect(thread).to_be_hidden()
    not_wider_than_the_viewport(page)
    page.get_by_role("link", name=re.compile("Bartholomew")).click()
    expect(page.get_by_label("Reply")).to_be_visible()
    expect(listing).to_be_hidden()  # the thread alone, the contact panel under it
    assert thread.bounding_box()["width"] > 340
    not_wider_than_the_viewport(page)
    page.screenshot(path=str(SCREENSHOTS / "mobile.png"), full_page=True)
    page.get_by_role("link", name="Back to conversations").click()
    expect(listing).to_be_visible()
    expect(thread).to_be_hidden()
    page.get_by_role("link", name="New message").click()
    expect(page.get_by_label("To", exact=True)).to_be_visible()
    expect(listing).to_be_hidden()
    not_wider_than_the_viewport(page)
    page.get_by_role("link", name="Back to conversations").click()
    expect(listing).to_be_visible()
    for path in ("/contacts/", f"/contacts/{contact.pk}/"):
        page.goto(site + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        not_wider_than_the_viewport(page)


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


def test_a_reply_over_ten_segments_says_by_how_much_and_waits(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Hello")
    page, _ = sign_in()
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    send = page.get_by_role("button", name="Send", exact=True)
    page.locator("#reply-body").fill("a" * 1531)  # 11 segments of GSM-7
    expect(page.locator("#reply-counter")).to_contain_text("over the 10-segment limit by")
    expect(send).to_be_disabled()
    page.locator("#reply-body").fill("a" * 1530)
    expect(send).to_be_enabled()



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


# --- Issue 22: the inbox to Chatwoot's standard ------------------------------------------


def visible_sends(page: Page) -> int:
    return page.get_by_role("button", name="Send", exact=True).count()


def test_a_new_conversation_is_started_from_the_inbox_and_delivered(sign_in, alpha_inbox,
                                                                     site, worker):
    customer_texts(alpha_inbox, "Do you open on Sundays?", from_=OTHER)
    with schema_context(alpha_inbox.schema_name):
        contact_create(phone=CUSTOMER, name="Ada Lovelace", tags=["vip"])
        canned_response_save(shortcode="welcome",
                             body='Hi {{ contact.name | default: "there" }}, thanks for visiting!')
    page, dialogs = sign_in(viewport={"width": 1280, "height": 800})
    page.get_by_role("link", name="New message").click()
    page.wait_for_url(f"{site}/conversations/new/")
    expect(page).to_have_title("(1) New message · Inbox · Alpha")  # one unread
    assert visible_sends(page) == 1
    expect(page.get_by_label("From", exact=True)).to_have_value(SIM_NUMBER)
    to = page.get_by_label("To", exact=True)
    to.press_sequentially("ada lov")
    suggestions = page.get_by_role("listbox", name="Matching contacts")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    expect(suggestions.get_by_role("option")).to_contain_text(CUSTOMER)
    to.press("ArrowDown")
    to.press("Enter")  # picks the contact; sends nothing
    expect(to).to_have_value(CUSTOMER)
    expect(suggestions).to_be_hidden()
    page.get_by_label("Canned response").select_option("welcome")
    page.get_by_role("button", name="Insert").click()
    message = page.get_by_label("Message", exact=True)
    expect(message).to_have_value("Hi Ada Lovelace, thanks for visiting!")
    message.press("End")
    message.press_sequentially(" Your order is ready.")
    expect(page.locator("#message-counter")).to_contain_text("1 segment")
    page.screenshot(path=str(SCREENSHOTS / "new_message.png"))
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"/\?c=\d+$"))
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator(".bubble.outbound .body")).to_have_text(
        "Hi Ada Lovelace, thanks for visiting! Your order is ready.")
    expect(page.locator(".bubble.outbound .msg-status")).to_have_text("delivered",
                                                                      timeout=20_000)
    expect(page.locator(".thread-labels")).to_contain_text("vip")
    assert visible_sends(page) == 1
    page.reload()  # Post/Redirect/Get: a reload sends nothing again
    with schema_context(alpha_inbox.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 1
    assert dialogs == []


def test_an_opted_out_number_is_refused_beside_the_to_field(sign_in, alpha_inbox, site):
    with schema_context(alpha_inbox.schema_name):
        do_opt_out(phone=OTHER, source="admin", reason="asked by phone")
    page, _ = sign_in()
    page.goto(f"{site}/conversations/new/")
    page.get_by_label("To", exact=True).fill(OTHER)
    page.get_by_label("Message", exact=True).fill("We miss you!")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#to-error")).to_have_text(f"{OTHER} has opted out of your messages.")
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Message", exact=True)).to_have_value("We miss you!")
    with schema_context(alpha_inbox.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_the_three_panes_use_the_screen_and_labels_filter_the_list(sign_in, alpha_inbox,
                                                                    site):
    customer_texts(alpha_inbox, "Hi, where is my order #1234?")
    customer_texts(alpha_inbox, "Do you open on Sundays?", from_=OTHER)
    with schema_context(alpha_inbox.schema_name):
        contact_update(contact=Conversation.objects.get(contact__phone=CUSTOMER).contact,
                       name="Ada Lovelace", tags=["vip", "wholesale"],
                       fields={"plan": "gold"})
    page, _ = sign_in(viewport={"width": 1280, "height": 800})
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    panes = [page.locator(selector).bounding_box()
             for selector in (".inbox-list", ".inbox-thread", ".inbox-contact")]
    assert panes[0]["x"] < panes[1]["x"] < panes[2]["x"]  # side by side
    assert panes[0]["x"] < 10 and panes[2]["x"] + panes[2]["width"] > 1270  # edge to edge
    composer = page.get_by_label("Reply").bounding_box()
    assert composer["y"] + composer["height"] <= 800  # the composer in view, no scrolling
    not_wider_than_the_viewport(page)
    page.screenshot(path=str(SCREENSHOTS / "thread.png"))
    page.get_by_role("navigation", name="Labels").get_by_role("link", name="vip").click()
    expect(page.locator("#inbox-list .conversation")).to_have_count(1)
    expect(page.locator("#inbox-list .conversation")).to_contain_text("Ada Lovelace")
    page.get_by_role("link", name=re.compile("Show every label")).click()
    expect(page.locator("#inbox-list .conversation")).to_have_count(2)


def test_the_tab_title_counts_unread_conversations_and_the_alert_is_opt_in(sign_in,
                                                                            alpha_inbox,
                                                                            site):
    page, dialogs = sign_in(viewport={"width": 1280, "height": 800},
                            permissions=["notifications"])
    # What the page asks of the browser's notification API is recorded (nothing leaves
    # the machine); the page is told it is in the background.
    page.add_init_script("""
        window.__notified = [];
        window.Notification = class {
          constructor(title, options) { window.__notified.push([title, options.body]); }
          close() {}
          static get permission() { return "granted"; }
          static requestPermission() { return Promise.resolve("granted"); }
        };
        document.hasFocus = () => false;
    """)
    page.reload()
    expect(page).to_have_title("Inbox · Alpha")
    toggle = page.get_by_label("Sound and desktop alert")
    expect(toggle).not_to_be_checked()
    mark_page(page)
    customer_texts(alpha_inbox, "Hello?")
    expect(page).to_have_title("(1) Inbox · Alpha", timeout=LIVE_WITHIN_MS)
    assert page.evaluate("window.__notified") == []  # off until asked for
    toggle.check()
    customer_texts(alpha_inbox, "Is anyone there?", from_=OTHER)
    expect(page).to_have_title("(2) Inbox · Alpha", timeout=LIVE_WITHIN_MS)
    assert_not_reloaded(page)
    assert page.evaluate("window.__notified") == [
        [f"New message from {OTHER}", "Is anyone there?"]]
    page.reload()
    expect(page.get_by_label("Sound and desktop alert")).to_be_checked()  # remembered
    page.locator(f'a[data-conversation="{conversation_id(alpha_inbox)}"]').click()
    expect(page).to_have_title(f"(1) {CUSTOMER} · Inbox · Alpha")
    assert dialogs == []


def test_assignment_resolve_and_opt_out_show_as_event_lines(sign_in, alpha_inbox, site):
    customer_texts(alpha_inbox, "Hello")
    page, _ = sign_in()
    page.goto(f"{site}/?c={conversation_id(alpha_inbox)}")
    events = page.locator(".bubbles .event")
    page.get_by_role("button", name="Assign to me").click()
    expect(events.last).to_contain_text("Taken by owner@alpha.example")
    page.get_by_role("button", name="Resolve").click()
    expect(events.last).to_contain_text("Resolved by owner@alpha.example")
    expect(page.locator(".status-pill")).to_have_text("Resolved")
    mark_page(page)
    customer_texts(alpha_inbox, "STOP")
    expect(events.last).to_contain_text("Opted out of every number by the contact's keyword",
                                         timeout=LIVE_WITHIN_MS)
    assert_not_reloaded(page)


def test_contacts_are_searched_and_filtered_with_their_opt_out_state(sign_in, alpha_inbox,
                                                                     site):
    customer_texts(alpha_inbox, "Hi")
    with schema_context(alpha_inbox.schema_name):
        contact_update(contact=Conversation.objects.get().contact, name="Ada Lovelace",
                       tags=["vip", "london"], fields={"plan": "gold"})
        contact_create(phone=OTHER, name="Alan Turing", tags=["london"])
        contact_create(phone="+447700900123", name="Grace Hopper", tags=["navy"])
        do_opt_out(phone=OTHER, source="admin", reason="asked")
    page, _ = sign_in(viewport={"width": 1280, "height": 800})
    page.locator(".list-links").get_by_role("link", name="Contacts").click()
    page.wait_for_url(f"{site}/contacts/")
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(4)
    page.screenshot(path=str(SCREENSHOTS / "contacts.png"))
    alan = table.get_by_role("row", name=re.compile("Alan Turing"))
    expect(alan).to_contain_text("Opted out of every number")
    page.get_by_label("Search").fill("ada")
    page.get_by_label("Search").press("Enter")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("Ada Lovelace")
    expect(table).to_contain_text("Not opted out")
    page.get_by_role("link", name="Clear").click()
    table.get_by_role("link", name="london").first.click()
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).not_to_contain_text("Grace Hopper")
    table.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    page.get_by_label("Tags").fill("vip, london, mathematician")
    page.get_by_role("button", name="Save contact").click()
    expect(page.locator(".contact-summary")).to_contain_text("mathematician")
    expect(page.get_by_role("link", name=f"With {SIM_NUMBER}")).to_be_visible()
    page.get_by_role("link", name="New message").click()
    expect(page.get_by_label("To", exact=True)).to_have_value(CUSTOMER)


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands."""
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} at {[node['target'] for node in v['nodes']]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_no_serious_violation_on_the_inbox_thread_and_contacts(
        sign_in, alpha_inbox, site, width):
    customer_texts(alpha_inbox, "Hi, where is my order #1234?")
    customer_texts(alpha_inbox, "STOP", from_=OTHER)
    with schema_context(alpha_inbox.schema_name):
        contact = Conversation.objects.get(contact__phone=CUSTOMER).contact
        contact_update(contact=contact, name="Ada Lovelace", tags=["vip"],
                       fields={"plan": "gold"})
        canned_response_save(shortcode="thanks", body="Thanks!")
        # Every kind of line a thread shows: replies in each state, a note, an event.
        conversation = Conversation.objects.get(contact=contact)
        MessageFactory(conversation=conversation, direction="outbound", body="Shipped.")
        MessageFactory(conversation=conversation, direction="outbound", body="Tracking.",
                       status="failed", error_code="30003", error_message="Unreachable")
        ConversationNoteFactory(conversation=conversation, body="Call after 5")
        conversation_resolve(conversation=conversation,
                             actor=User.objects.get(email="owner@alpha.example"))
    page, _ = sign_in(viewport={"width": width, "height": 800})
    found = {}
    for path in ("/", f"/?c={conversation_id(alpha_inbox)}",
                 f"/?c={conversation_id(alpha_inbox, OTHER)}", "/conversations/new/",
                 "/contacts/", f"/contacts/{contact.pk}/"):
        page.goto(site + path)
        found[path] = serious_violations(page)
    assert found == {path: [] for path in found}
