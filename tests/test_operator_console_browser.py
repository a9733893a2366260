"""The operator console in a real browser (Debian's Chromium through Playwright) under the
portal's Content-Security-Policy: no inline style or script on any of its pages (nor on
the superusers' Django admin), and none refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import Page, expect

from accounts.models import User
from tenants.models import OperatorAuditEntry, ProviderConnection, Route, Tenant
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import portal_server

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

OPERATOR = "ops@operator.example"
# docs/PORTAL.md shows it.
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "operator_routes.png"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes
    # for async code; close the ORM's connection after (see test_inbox_browser.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


@pytest.fixture
def console(committed_db) -> Iterator[str]:
    """The public host served over HTTP, with an operator and a crontab schedule,
    committed for real and removed afterwards."""
    User.objects.create_superuser(OPERATOR, PASSWORD)
    crontab = CrontabSchedule.objects.create(minute="30", hour="4")
    try:
        with portal_server() as port:
            yield f"http://localhost:{port}"
    finally:
        crontab.delete()
        Route.objects.filter(name="browser-route").delete()
        OperatorAuditEntry.objects.filter(actor=OPERATOR).delete()
        # The ORM's cascade would visit tenant-only tables, absent from the public schema.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE email = %s", [OPERATOR])


def _signed_in(console: str, page: Page) -> None:
    page.goto(f"{console}/operator/login/")
    page.get_by_label("Email").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Review senders")).to_be_visible()


def test_the_console_needs_no_inline_style_or_script(console):
    alpha = Tenant.objects.get(slug="alpha")
    simulator = ProviderConnection.objects.get(name="simulator")
    with chromium() as browser:
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        _signed_in(console, page)
        for path in ("/operator/tenants/", "/operator/tenants/alpha/", "/operator/senders/",
                     "/operator/connections/", "/operator/connections/add/?kind=twilio",
                     f"/operator/connections/{simulator.pk}/", "/operator/routes/",
                     "/operator/routes/add/", "/operator/audit/", "/operator/admin/",
                     f"/operator/admin/tenants/tenant/{alpha.pk}/change/",
                     "/operator/admin/accounts/user/",
                     "/operator/admin/django_celery_beat/periodictask/"):
            response = page.goto(console + path)
            assert response.status == 200, path
            policy = response.headers["content-security-policy"]
            assert "style-src 'self';" in policy and "unsafe-inline" not in policy, path
        assert refused == []

        # A route written in the console, and refused first for a connection that is not.
        page.goto(f"{console}/operator/routes/add/")
        page.get_by_label("Name").fill("browser-route")
        page.get_by_label("Entries").fill("+ simulator\n+44 nowhere")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "Line 2: there is no connection named 'nowhere'")
        page.get_by_label("Entries").fill("+ simulator\n+1 simulator 0.0079\n"
                                          "+44 simulator 0.035")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("link", name="browser-route")).to_be_visible()
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.goto(f"{console}/operator/audit/")
        expect(page.get_by_role("cell", name="route:browser-route")).to_be_visible()

        page.goto(f"{console}/operator/admin/tenants/tenant/{alpha.pk}/change/")
        page.get_by_role("button", name="Add another Domain").click()
        expect(page.locator("#domains-group tr.form-row:not(.empty-form)")).to_have_count(2)

        # django-celery-beat's inline script, now a file: the crontab's help in words.
        page.goto(f"{console}/operator/admin/django_celery_beat/periodictask/add/")
        page.locator("#id_crontab").select_option(label="30 4 * * * (m/h/dM/MY/d) UTC")
        expect(page.locator(".field-crontab .help")).to_contain_text(
            "Translation: At 04:30 AM")
        page.close()
    assert refused == []
