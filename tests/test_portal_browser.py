"""The admin pages in a real browser (Debian's Chromium through Playwright) at 1280 and
375 px, against the portal served over HTTP from this process, on committed data the test
removes: the team's whole round (invite, accept, change a role, remove; revoke an
invitation), a key shown once after Post/Redirect/Get, a deletion that asks first, pages
no wider than a phone, error pages with the navigation, and axe-core's accessibility
rules. The phone screenshot goes to docs/screenshots/admin_phone.png (docs/PORTAL.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from accounts.models import ApiKey, Role, User
from accounts.services import api_key_create
from campaigns.lists import list_create
from campaigns.models import Campaign, SubscriberList
from campaigns.sending import campaign_create
from events.actions import subscription_create
from events.models import WebhookSubscription
from messaging.canned import canned_response_save
from messaging.models import CannedResponse, KeywordRule
from messaging.onboarding import DONE_KEY
from messaging.rules import keyword_rule_save
from optout.actions import do_opt_out
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server
from tests.support.messaging import SIM_NUMBER, approved_sender, customer_texts

pytestmark = pytest.mark.slow  # a real browser (README: the fast inner loop)

SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "admin_phone.png"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
# The pages an owner or admin opens from the top bar, and the ones they lead to.
ADMIN_PAGES = ["/senders/", "/rules/", "/canned-responses/", "/surveys/", "/hours/",
               "/lists/", "/optouts/", "/optouts/settings/", "/forwarding/", "/webhooks/",
               "/settings/api-keys/", "/team/", "/settings/", "/simulator/", "/dashboard/",
               "/campaigns/", "/campaigns/new/"]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # As in test_inbox_browser: Playwright's event loop makes the ORM think it runs async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def alpha_live(committed_db) -> Iterator[Tenant]:
    alpha = Tenant.objects.get(slug="alpha")
    try:
        yield alpha
    finally:
        tenant_data_reset(alpha)
        with schema_context(alpha.schema_name):
            # The users table is one provisioning filled: only the owner stays.
            User.objects.exclude(email="owner@alpha.example").delete()
            User.objects.filter(email="owner@alpha.example").update(role=Role.OWNER,
                                                                     is_active=True)
            cache.delete(DONE_KEY)


@pytest.fixture
def site(alpha_live) -> Iterator[str]:
    with portal_server() as port:
        yield f"http://alpha.localhost:{port}"


def sign_in(browser: Browser, site: str, email: str = "owner@alpha.example",
            password: str = PASSWORD, viewport: dict = WIDE) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{site}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/")
    return page


def seed(tenant: Tenant) -> None:
    """A row in every admin table, long enough to test the phone layout."""
    approved_sender(tenant, SIM_NUMBER, "simulator")
    customer_texts(tenant, "Hello, what are your opening hours this weekend?")
    with schema_context(tenant.schema_name):
        keyword_rule_save(keyword="hours", match="exact",
                          reply="We are open from nine to five, Monday to Saturday.")
        canned_response_save(shortcode="thanks", body="Thanks {{ contact.name }}!")
        subscription_create(url="http://127.0.0.1:9/a-rather-long/path/for-events",
                            events=["message.received", "optout.changed"], description="")
        do_opt_out(phone="+14155550102", source="admin", reason="Asked by phone")
        weekend = list_create(name="Weekend offers", keyword="WEEKEND")
        api_key_create(name="CRM synchronisation")
        campaign_create(name="Weekend sale", sender=SIM_NUMBER, audience={
            "lists": [weekend.pk], "tags": []},
            body="Hi {{ contact.name | default: \"there\" }}, 20% off this weekend only.")


def test_invite_accept_change_role_and_remove_then_revoke_an_invitation(browser, site,
                                                                       alpha_live):
    owner = sign_in(browser, site)
    owner.goto(f"{site}/team/")
    owner.get_by_label("Email").fill("nia@alpha.example")
    owner.get_by_role("button", name="Invite").click()
    expect(owner.get_by_role("status").first).to_contain_text(
        "Invitation for nia@alpha.example created")
    link = owner.get_by_label("Invitation link for nia@alpha.example")
    expect(owner.get_by_role("button", name="Copy link for nia@alpha.example")).to_be_visible()
    url = link.input_value()
    assert "/invitations/" in url

    invitee = browser.new_context(viewport=WIDE).new_page()
    invitee.goto(url.replace("http://alpha.localhost:8000", site))
    invitee.get_by_label("Your name").fill("Nia")
    invitee.get_by_label("Password").fill("a-long-new-password")
    invitee.get_by_role("button", name="Join").click()
    invitee.wait_for_url(f"{site}/")
    expect(invitee.get_by_role("navigation", name="Main")).to_contain_text("nia@alpha.example")

    owner.goto(f"{site}/team/")
    owner.get_by_label("Role of nia@alpha.example").select_option("admin")
    owner.get_by_role("button", name="Change role of nia@alpha.example").click()
    expect(owner.get_by_role("status").first).to_contain_text("nia@alpha.example is now admin.")
    expect(owner.get_by_label("Role of nia@alpha.example")).to_have_value("admin")

    owner.get_by_role("link", name="Remove nia@alpha.example").click()
    expect(owner.get_by_role("heading", name="Remove nia@alpha.example from the team?")
           ).to_be_visible()
    owner.get_by_role("button", name="Remove member").click()
    expect(owner.get_by_role("status").first).to_contain_text("was removed from the team")
    expect(owner.get_by_role("table").first).not_to_contain_text("nia@alpha.example")
    invitee.reload()
    expect(invitee.get_by_role("heading", name="Sign in to Alpha")).to_be_visible()

    owner.get_by_label("Email").fill("zed@alpha.example")
    owner.get_by_role("button", name="Invite").click()
    owner.get_by_role("link", name="Revoke the invitation for zed@alpha.example").click()
    owner.get_by_role("button", name="Revoke invitation").click()
    expect(owner.get_by_role("status").first).to_contain_text("its link no longer works")
    expect(owner.get_by_label("Invitation link for zed@alpha.example")).to_have_count(0)


def test_a_new_key_is_shown_by_a_get_once_and_a_reload_makes_no_second_key(browser, site,
                                                                           alpha_live):
    for viewport in (WIDE, PHONE):
        page = sign_in(browser, site, viewport=viewport)
        page.goto(f"{site}/settings/api-keys/")
        page.get_by_label("Name", exact=True).fill(f"Key at {viewport['width']}")
        with page.expect_response(lambda r: r.url.endswith("/settings/api-keys/created/")
                                  ) as shown:
            page.get_by_role("button", name="Create key").click()
        assert shown.value.request.method == "GET" and shown.value.status == 200
        key = page.get_by_label("Key", exact=True).input_value()
        assert key.startswith("sk_")
        expect(page.get_by_role("button", name="Copy key")).to_be_visible()
        expect(page.locator("#api-example")).to_contain_text(key)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.reload()
        page.wait_for_url(f"{site}/settings/api-keys/")
        expect(page.get_by_role("status").first).to_contain_text("shown only once")
        assert key not in page.content()
        page.context.close()
    with schema_context(alpha_live.schema_name):
        assert ApiKey.objects.count() == 2  # one per viewport: none from the reloads


def test_deleting_a_rule_asks_first_and_cancel_keeps_it(browser, site, alpha_live):
    with schema_context(alpha_live.schema_name):
        rule = keyword_rule_save(keyword="hours", match="exact", reply="9-5")
    page = sign_in(browser, site)
    page.goto(f"{site}/rules/{rule.pk}/")
    delete = page.get_by_role("link", name="Delete rule")
    assert "danger" in delete.get_attribute("class")
    delete.click()
    expect(page.get_by_role("heading", name="Delete the rule hours?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"{site}/rules/{rule.pk}/")
    with schema_context(alpha_live.schema_name):
        assert KeywordRule.objects.filter(pk=rule.pk).exists()
    page.get_by_role("link", name="Delete rule").click()
    page.get_by_role("button", name="Delete rule").click()
    expect(page.get_by_role("status").first).to_contain_text("Rule hours deleted.")
    with schema_context(alpha_live.schema_name):
        assert not KeywordRule.objects.exists()


def detail_pages(tenant: Tenant) -> list[str]:
    """The pages ``seed``'s rows lead to."""
    with schema_context(tenant.schema_name):
        return [f"/rules/{KeywordRule.objects.get().pk}/",
                f"/canned-responses/{CannedResponse.objects.get().pk}/",
                f"/webhooks/{WebhookSubscription.objects.get().pk}/",
                f"/lists/{SubscriberList.objects.get().pk}/",
                f"/settings/api-keys/{ApiKey.objects.get().pk}/revoke/",
                "/optouts/history/?phone=%2B14155550102",
                *(f"/campaigns/{Campaign.objects.get().pk}/{page}"
                  for page in ("", "preview/", "recipients/", "reply-actions/"))]


def test_no_admin_page_is_wider_than_a_phone_and_the_top_bar_is_one_line(browser, site,
                                                                         alpha_live):
    seed(alpha_live)
    page = sign_in(browser, site, viewport=PHONE)
    too_wide = {}
    for path in [*ADMIN_PAGES, *detail_pages(alpha_live)]:
        assert page.goto(site + path).status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
        bar = page.locator(".topbar").bounding_box()
        assert bar["height"] < 64, (path, bar)  # one line: the links are behind "Menu"
    assert too_wide == {}
    page.goto(f"{site}/settings/api-keys/")
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    # The menu opens without a script of ours, and leads everywhere.
    team = page.get_by_role("link", name="Team")
    expect(team).to_be_hidden()
    page.get_by_text("Menu", exact=True).click()
    team.click()
    page.wait_for_url(f"{site}/team/")


def test_error_pages_keep_the_navigation(browser, site, alpha_live):
    with schema_context(alpha_live.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = sign_in(browser, site, email="agent@alpha.example")
    assert agent.goto(f"{site}/settings/api-keys/").status == 403
    expect(agent.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    expect(agent.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox")
           ).to_be_visible()
    owner = sign_in(browser, site)
    assert owner.goto(f"{site}/rules/999999/").status == 404
    expect(owner.get_by_role("heading", name="This page does not exist")).to_be_visible()
    nav = owner.get_by_role("navigation", name="Main")
    expect(nav.get_by_text("Manage")).to_be_visible()
    owner.get_by_role("link", name="Back to the inbox").click()
    owner.wait_for_url(f"{site}/")


def test_the_sms_counter_holds_back_an_over_long_text_and_drops_a_stale_error(
        browser, site, alpha_live):
    page = sign_in(browser, site)
    page.goto(f"{site}/canned-responses/")
    page.get_by_label("Shortcode").fill("promo")
    body = page.get_by_label("Response")
    body.fill("Hi {{ contact.secret }}")
    page.get_by_role("button", name="Add canned response").click()
    refusal = page.locator(".field-body .error")
    expect(refusal).to_contain_text("Unknown placeholder")
    body.press("End")
    body.press_sequentially("!")
    expect(refusal).to_be_hidden()  # the refusal was about the text before this edit
    save = page.get_by_role("button", name="Add canned response")
    body.fill("x" * 1531)  # 11 segments of 153
    counter = page.locator("#body-counter")
    expect(counter).to_have_text("1531 · 11 segments · over the 10-segment limit by 1 segment"
                                 " · GSM-7")
    expect(save).to_be_disabled()
    expect(body).to_have_attribute("aria-invalid", "true")
    body.fill("x" * 1530)
    expect(counter).to_have_text("1530 · 10 segments · 0 left · GSM-7")
    expect(save).to_be_enabled()
    over = page.evaluate("window.smsCounter.describe(window.smsCounter.analyse('€'.repeat(800)))")
    assert over == "1600 · 11 segments · over the 10-segment limit by 1 segment · GSM-7"


def _serious(page: Page) -> list[str]:
    results = Axe().run(page).response
    return [f"{violation['id']}: {violation['help']} ({len(violation['nodes'])})"
            for violation in results["violations"]
            if violation["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_or_critical_violation_on_the_admin_pages(browser, site,
                                                                        alpha_live):
    seed(alpha_live)
    found: dict[str, list[str]] = {}
    anonymous = browser.new_context(viewport=WIDE).new_page()
    public = site.replace("alpha.localhost", "localhost")
    for url in (f"{site}/accounts/login/", f"{public}/signup/", f"{public}/",
                site.replace("alpha.localhost", "nowhere.localhost") + "/"):
        anonymous.goto(url)
        found[url] = _serious(anonymous)
    for viewport in (WIDE, PHONE):
        page = sign_in(browser, site, viewport=viewport)
        for path in [*ADMIN_PAGES, *detail_pages(alpha_live), "/rules/999999/"]:
            page.goto(site + path)
            found[f"{path} at {viewport['width']}"] = _serious(page)
        page.goto(f"{site}/team/")
        page.get_by_role("button", name="Invite").click()  # a form with its errors
        found["/team/ with errors"] = _serious(page)
    assert {where: problems for where, problems in found.items() if problems} == {}
