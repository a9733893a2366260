"""Subscription lists end to end, on committed data each test removes: a customer's
keyword and YES through the simulator API and a real Celery worker, and the join form in
Debian's Chromium with JavaScript off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connections
from django_tenants.utils import schema_context
from playwright.sync_api import Browser

from campaigns.lists import list_create
from campaigns.models import ListConsentEvent, SubscriberList, Subscription
from core.rate_limit import _client as redis_client
from messaging.models import Contact, Message
from tenants.models import Tenant
from tests.support.browser import chromium
from tests.support.db import tenant_data_reset
from tests.support.live import portal_server
from tests.support.messaging import CUSTOMER, SIM_NUMBER, Api, approved_sender, key_for
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow  # a real worker, a real browser


@pytest.fixture
def alpha_list(committed_db) -> Iterator[tuple[Tenant, SubscriberList]]:
    """Tenant alpha with an approved simulator sender and a double-opt-in list with the
    keyword VIP, committed for real; everything is removed afterwards."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    try:
        with schema_context(alpha.schema_name):
            vip = list_create(name="VIP club", keyword="VIP")
        yield alpha, vip
    finally:
        tenant_data_reset(alpha)
        keys = list(redis_client().scan_iter(match="ratelimit:join:*"))
        if keys:
            redis_client().delete(*keys)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def sent(tenant: Tenant, kind: str) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(direction="outbound",
                                           origin_ref__endswith=f":{kind}").order_by("id"))


def test_keyword_then_yes_through_the_simulator_and_a_worker(alpha_list, process_env,
                                                             tmp_path):
    alpha, vip = alpha_list
    api = Api(alpha, key_for(alpha))
    with (tmp_path / "worker.log").open("w") as log, celery_worker(process_env, log=log):
        assert api.post("simulator/inbound", {"from": CUSTOMER, "to": SIM_NUMBER,
                                              "body": "vip"}).status_code == 202
        assert wait_for(lambda: [m.status for m in sent(alpha, "confirmation")] == [
            "delivered"])
        assert api.post("simulator/inbound", {"from": CUSTOMER, "to": SIM_NUMBER,
                                              "body": "Yes"}).status_code == 202
        assert wait_for(lambda: [m.status for m in sent(alpha, "welcome")] == ["delivered"])
        # Both inbound messages processed, nothing else on its way.
        with schema_context(alpha.schema_name):
            assert wait_for(lambda: not Message.objects.exclude(
                status__in=["processed", "delivered"]).exists())
    [confirmation], [welcome] = sent(alpha, "confirmation"), sent(alpha, "welcome")
    assert confirmation.body == vip.confirmation_text and confirmation.to_address == CUSTOMER
    assert welcome.body == vip.welcome_text
    with schema_context(alpha.schema_name):
        assert Subscription.objects.get(phone=CUSTOMER).status == "subscribed"
        log = list(ListConsentEvent.objects.filter(phone=CUSTOMER).order_by("id")
                   .values_list("action", "source", "confirmation_message_id"))
        assert Message.objects.filter(direction="outbound").count() == 2
    assert log == [("pending", "keyword", confirmation.pk),
                   ("subscribed", "keyword", confirmation.pk)]


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes
    # for async code; the ORM calls between browser steps are plain sync calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield
    connections.close_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_the_join_form_works_in_chromium_without_javascript(alpha_list, browser):
    alpha, vip = alpha_list
    with portal_server() as port:
        context = browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            page.goto(f"http://alpha.localhost:{port}/join/{vip.slug}")
            assert "Alpha" in page.inner_text("body")
            consent = page.get_by_label("I agree to receive recurring automated marketing")
            assert not consent.is_checked()
            page.get_by_label("Mobile number").fill("+1 415 555 0199")
            page.get_by_role("button", name="Join").click()
            assert "Tick the box" in page.inner_text("body")
            with schema_context(alpha.schema_name):
                assert not Contact.objects.exists() and not Subscription.objects.exists()
                assert not Message.objects.exists()
            consent.check()
            page.get_by_role("button", name="Join").click()
            page.wait_for_url(f"http://alpha.localhost:{port}/join/{vip.slug}/done")
            assert "reply YES within 72 hours" in page.inner_text("body")
            page.reload()  # the redirect's page: a reload signs nobody up again
        finally:
            context.close()
    with schema_context(alpha.schema_name):
        member = Subscription.objects.get(phone=CUSTOMER)
        assert (member.status, member.source) == ("pending", "web_form")
        [confirmation] = Message.objects.filter(direction="outbound")
        assert confirmation.body == vip.confirmation_text
        [logged] = ListConsentEvent.objects.all()
        assert logged.evidence.startswith("I agree to receive recurring automated marketing")
