"""Tracked links (docs/ARCHITECTURE.md#tracked-links): a campaign's texts rewritten with
per-recipient short links, written set-wise; ``/l/<code>`` on the public host and the
tenant's host redirects and counts a person's click once, never a ``HEAD`` or a link
preview; unknown codes are 404; each click is a ``link.clicked`` event webhook."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook

from campaigns.links import (
    PREVIEW_AGENTS,
    clicks_count,
    links_rewrite_many,
    links_rewrite_preview,
)
from campaigns.models import Campaign, LinkClick, TrackedLink
from events.actions import delivery_attempt, subscription_create
from events.models import LINK_CLICKED, Delivery
from events.selectors import subscribed_types_forget
from messaging.models import Sender
from tenants.models import LinkRoute
from tests.conftest import host_client, login
from tests.support.fakes import FakeHTTPServer, Recorded, Reply
from tests.support.messaging import CUSTOMER, SIM_NUMBER

OTHER = "+14155550177"
SHORT = re.compile(re.escape(settings.PUBLIC_BASE_URL) + r"/l/([A-Za-z0-9]{10})")
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
# Real previewers' user agents, one per word of PREVIEW_AGENTS.
PREVIEWERS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
]


def _campaign(tenant, **fields) -> Campaign:
    with schema_context(tenant.schema_name):
        return Campaign.objects.create(
            name="Spring", sender=Sender.objects.get(address=SIM_NUMBER),
            body="Spring sale", track_links=True, **fields)


def _rewrite(tenant, campaign: Campaign, texts: list[tuple[str, str]]) -> list[str]:
    with schema_context(tenant.schema_name):
        return links_rewrite_many(campaign=campaign, texts=texts)


def _code(body: str) -> str:
    return SHORT.search(body).group(1)


def test_every_url_becomes_a_short_link_per_recipient_and_url(alpha, sim_sender):
    campaign = _campaign(alpha)
    body = ("Hi! 20% off at https://shop.example/spring?src=sms. Again: "
            "https://shop.example/spring?src=sms, map (https://maps.example/Store_(Main)) "
            "and HTTP://OLD.example/x!")
    [mine, theirs] = _rewrite(alpha, campaign, [(CUSTOMER, body), (OTHER, body)])
    codes = SHORT.findall(mine)
    # Three URLs, the first twice: one link each, the same link where it repeats.
    assert len(codes) == 4 and codes[0] == codes[1] and len(set(codes)) == 3
    assert mine == (f"Hi! 20% off at {settings.PUBLIC_BASE_URL}/l/{codes[0]}. Again: "
                    f"{settings.PUBLIC_BASE_URL}/l/{codes[0]}, map "
                    f"({settings.PUBLIC_BASE_URL}/l/{codes[2]}) and "
                    f"{settings.PUBLIC_BASE_URL}/l/{codes[3]}!")
    assert not set(codes) & set(SHORT.findall(theirs))  # another recipient, other links
    with schema_context(alpha.schema_name):
        links = {link.code: link for link in TrackedLink.objects.all()}
    assert len(links) == 6
    assert {(links[c].phone, links[c].url) for c in codes} == {
        (CUSTOMER, "https://shop.example/spring?src=sms"),
        (CUSTOMER, "https://maps.example/Store_(Main)"), (CUSTOMER, "HTTP://OLD.example/x")}
    assert all(link.campaign_id == campaign.pk for link in links.values())
    # The public host finds each code's tenant.
    assert set(LinkRoute.objects.filter(code__in=links).values_list(
        "schema_name", flat=True)) == {alpha.schema_name}


def test_text_without_a_url_and_a_bare_scheme_are_left_alone(alpha, sim_sender):
    campaign = _campaign(alpha)
    texts = [(CUSTOMER, "No link here, see http:// or www.shop.example")]
    assert _rewrite(alpha, campaign, texts) == [texts[0][1]]
    with schema_context(alpha.schema_name):
        assert not TrackedLink.objects.exists()


def test_rewriting_many_texts_takes_a_fixed_number_of_statements(
        alpha, sim_sender, django_assert_max_num_queries):
    campaign = _campaign(alpha)
    texts = [(f"+1415555{n:04d}", f"Hi {n}, shop at https://shop.example/?r={n % 7}")
             for n in range(2000)]
    with schema_context(alpha.schema_name), django_assert_max_num_queries(3):
        rewritten = links_rewrite_many(campaign=campaign, texts=texts)
    assert len({_code(body) for body in rewritten}) == 2000
    with schema_context(alpha.schema_name):
        assert TrackedLink.objects.filter(campaign=campaign).count() == 2000


def test_a_preview_has_the_length_of_the_real_text_and_writes_nothing(alpha, sim_sender):
    campaign = _campaign(alpha)
    body = "Shop at https://shop.example/spring today"
    with schema_context(alpha.schema_name):
        preview = links_rewrite_preview(body=body)
        [real] = links_rewrite_many(campaign=campaign, texts=[(CUSTOMER, body)])
        assert TrackedLink.objects.count() == 1
    assert len(preview) == len(real) and "https://shop.example" not in preview


@pytest.fixture
def link(alpha, sim_sender) -> tuple[Campaign, str]:
    campaign = _campaign(alpha)
    [body] = _rewrite(alpha, campaign, [(CUSTOMER, "Sale: https://shop.example/spring")])
    return campaign, _code(body)


def _clicks(tenant, campaign: Campaign) -> int:
    with schema_context(tenant.schema_name):
        return clicks_count(campaign_id=campaign.pk)


def test_a_click_redirects_to_the_url_and_counts_once(alpha, alpha_client, link):
    campaign, code = link
    response = alpha_client.get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/spring"
    assert response["Cache-Control"] == "no-store"
    assert _clicks(alpha, campaign) == 1
    with schema_context(alpha.schema_name):
        click = LinkClick.objects.get()
    assert click.user_agent == BROWSER and click.link.phone == CUSTOMER
    assert len(click.ip_hash) == 64 and "127.0.0.1" not in click.ip_hash


def test_a_head_and_link_previews_redirect_without_counting(alpha, alpha_client, link):
    campaign, code = link
    head = alpha_client.head(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert (head.status_code, head["Location"]) == (302, "https://shop.example/spring")
    assert len(PREVIEWERS) == len(PREVIEW_AGENTS)
    for agent in PREVIEWERS:
        preview = alpha_client.get(f"/l/{code}", HTTP_USER_AGENT=agent)
        assert (preview.status_code, preview["Location"]) == (302,
                                                              "https://shop.example/spring")
    assert _clicks(alpha, campaign) == 0
    alpha_client.get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert _clicks(alpha, campaign) == 1


def test_the_public_host_finds_the_tenant_of_the_code(alpha, public_client, link):
    campaign, code = link
    response = public_client.get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert (response.status_code, response["Location"]) == (302, "https://shop.example/spring")
    assert _clicks(alpha, campaign) == 1


@pytest.mark.parametrize("path", ["/l/AAAAAAAAAA", "/l/short", "/l/" + "A" * 11])
def test_an_unknown_code_is_a_404_page_on_every_host(alpha, link, path):
    for host in (settings.BASE_DOMAIN, "alpha.localhost"):
        response = host_client(host).get(path)
        assert response.status_code == 404
        assert "Link not found" in response.content.decode()


def test_another_tenants_host_does_not_open_the_code(alpha, beta, link):
    campaign, code = link
    response = host_client("beta.localhost").get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 404
    assert _clicks(alpha, campaign) == 0


def test_a_link_answers_get_and_head_only(alpha_client, link):
    _, code = link
    assert alpha_client.post(f"/l/{code}").status_code == 405


def test_the_campaign_page_charts_people_s_clicks_per_hour(alpha, public_client, link):
    campaign, code = link
    started = timezone.now() - timedelta(hours=2)
    with schema_context(alpha.schema_name):
        Campaign.objects.filter(pk=campaign.pk).update(status="sending", started_at=started)
    for agent in (BROWSER, BROWSER, PREVIEWERS[0]):
        public_client.get(f"/l/{code}", HTTP_USER_AGENT=agent)
    with schema_context(alpha.schema_name):
        # One of the two people clicked in the campaign's first hour.
        LinkClick.objects.filter(pk=LinkClick.objects.first().pk).update(at=started)
    owner = host_client("alpha.localhost")
    login(owner, "owner@alpha.example")
    timeline = owner.get(f"/campaigns/{campaign.pk}/progress.json").json()["timeline"]
    # The start's hour, the next, and this one: the preview is not a click.
    assert timeline["clicks"] == [1, 0, 1] and len(timeline["hours"]) == 3
    page = owner.get(f"/campaigns/{campaign.pk}/").content.decode()
    table = page[page.index('id="table-timeline"'):]
    assert "Replies, opt-outs and clicks per hour" in page
    assert '<th scope="col">Clicks</th>' in table
    assert "<td>0</td><td>0</td><td>1</td></tr>" in table


# --- The link.clicked event ------------------------------------------------------------------

class Receiver:
    """The tenant's system, verifying each delivery's signature."""

    def __init__(self) -> None:
        self.secret = ""
        self.payloads: list[dict] = []
        self.server = FakeHTTPServer(self.respond)

    def respond(self, request: Recorded) -> Reply:
        self.payloads.append(Webhook(self.secret).verify(request.body, request.headers))
        return Reply(200, {"ok": True})


@pytest.fixture
def receiver(alpha) -> Iterator[Receiver]:
    system = Receiver()
    system.server.start()
    with schema_context(alpha.schema_name):
        subscribed_types_forget()
    yield system
    system.server.stop()
    with schema_context(alpha.schema_name):
        subscribed_types_forget()


def _deliver(tenant) -> list[Delivery]:
    with schema_context(tenant.schema_name):
        pending = list(Delivery.objects.filter(status="pending").values_list("pk", flat=True))
        for delivery_id in pending:
            delivery_attempt(delivery_id=delivery_id)
        return list(Delivery.objects.filter(pk__in=pending))


def test_each_click_is_delivered_as_a_link_clicked_event(alpha, public_client, link,
                                                         receiver):
    campaign, code = link
    with schema_context(alpha.schema_name):
        receiver.secret = subscription_create(url=receiver.server.url + "/events",
                                              events=[LINK_CLICKED]).secret
    public_client.get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    public_client.get(f"/l/{code}", HTTP_USER_AGENT=PREVIEWERS[0])
    public_client.head(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    [delivery] = _deliver(alpha)
    assert delivery.status == "succeeded"
    [payload] = receiver.payloads
    assert payload["type"] == "link.clicked"
    data = payload["data"]
    assert {key: data[key] for key in ("campaign", "phone", "url", "code", "user_agent")} == {
        "campaign": campaign.pk, "phone": CUSTOMER, "url": "https://shop.example/spring",
        "code": code, "user_agent": BROWSER}
    assert data["clicked_at"].startswith(str(delivery.created_at.year))
    public_client.get(f"/l/{code}", HTTP_USER_AGENT=BROWSER)
    assert len(_deliver(alpha)) == 1 and len(receiver.payloads) == 2  # one per click


def test_a_route_left_by_a_deleted_tenant_leads_nowhere(public_client, db):
    LinkRoute.objects.create(code="Gone123456", schema_name="t_deleted_long_ago",
                             created_at=timezone.now())
    assert public_client.get("/l/Gone123456").status_code == 404
