"""Campaigns: the audience (lists and tags, each phone once, opt-outs out), personalised
bodies, quiet hours on a controllable clock, pause/resume/cancel, completion, the API's
refusals and the messages' ``campaign``. The ``campaign_send`` task's service runs in the
test thread, as the worker would run it; tests/test_campaigns_worker.py runs campaigns
through a real worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import sending
from campaigns.models import Campaign
from campaigns.sending import campaign_complete_if_done, campaign_send, campaign_withdraw
from campaigns.sweep import campaigns_sweep
from core import statistics
from cpaas.celery import app
from events.actions import subscription_create
from events.models import Event
from events.selectors import subscribed_types_forget
from messaging import outbound
from messaging.models import Conversation, Message
from messaging.outbound import messages_deliver, messages_release_due
from tenants.models import Tenant
from tests.conftest import login
from tests.support.db import measured_rows
from tests.support.messaging import SIM_NUMBER, Api, key_for

ANN, BO, CY, DEE = "+14155550131", "+14155550132", "+14155550133", "+14155550134"
SYDNEY = "+61291234567"
BODY = 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. STOP to opt out.'


@pytest.fixture
def api(alpha, sim_sender) -> Api:
    return Api(alpha, key_for(alpha))


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def vip_audience(api: Api) -> dict:
    """A list of three subscribers (Ann, Bo with no name, Cy) and the tag ``vip`` on Cy
    and on Dee, who opted out."""
    vip = ok(api.post("lists", {"name": "VIP club", "double_opt_in": False}), 201)
    for phone, name in ((ANN, "Ann"), (BO, ""), (CY, "Cy")):
        ok(api.post(f"lists/{vip['id']}/subscribers", {
            "phone": phone, "name": name, "source": "staff",
            "evidence": "Signed up at the counter"}), 201)
    for phone, name in ((CY, "Cy"), (DEE, "Dee")):
        contact = ok(api.get("contacts", phone=phone))["results"]
        if contact:
            ok(api.patch(f"contacts/{contact[0]['id']}", {"tags": ["vip"]}))
        else:
            ok(api.post("contacts", {"phone": phone, "name": name, "tags": ["vip"]}), 201)
    ok(api.post("optouts", {"phone": DEE, "reason": "asked"}), 201)
    return {"lists": [vip["id"]], "tags": ["vip"]}


def create(api: Api, **values) -> dict:
    return ok(api.post("campaigns", {"name": "Spring sale", "sender": SIM_NUMBER,
                                     "body": BODY, "audience": {"tags": ["vip"]},
                                     **values}), 201)


def run(tenant, campaign_id: int, now: datetime | None = None) -> None:
    """What the ``campaign_send`` task does."""
    with schema_context(tenant.schema_name):
        campaign_send(campaign_id=campaign_id, now=now)


def campaign_messages(tenant, campaign_id: int) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(campaign_id=campaign_id, direction="outbound")
                    .order_by("to_address"))


def test_lists_and_tags_each_phone_once_opted_out_left_out_names_or_default(alpha, api):
    audience = vip_audience(api)
    campaign = create(api, audience=audience, quiet_hours=None)
    assert campaign["status"] == "draft" and campaign["audience"] == audience
    started = ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    assert started["status"] == "sending"
    run(alpha, campaign["id"])

    messages = campaign_messages(alpha, campaign["id"])
    assert [(m.to_address, m.body) for m in messages] == [
        (ANN, "Hi Ann, 20% off this weekend. STOP to opt out."),
        (BO, "Hi there, 20% off this weekend. STOP to opt out."),
        (CY, "Hi Cy, 20% off this weekend. STOP to opt out."),
    ]
    assert {(m.status, m.origin, m.from_address) for m in messages} == {
        ("queued", "campaign", SIM_NUMBER)}
    stats = ok(api.get(f"campaigns/{campaign['id']}"))["stats"]
    assert stats["recipients"] == 3 and stats["queued"] == 3
    assert stats["skipped"] == {"opted_out": 1, "body_too_long": 0, "frequency_cap": 0,
                                "quota_exceeded": 0}

    # The task delivered twice (a redelivery, the sweep) sends nobody a second message.
    run(alpha, campaign["id"])
    assert len(campaign_messages(alpha, campaign["id"])) == 3

    # The messages carry the campaign, and filter by it; others carry null.
    lone = ok(api.post("messages", {"from": SIM_NUMBER, "to": ANN, "body": "Hello"}), 202)
    assert lone["campaign"] is None
    listed = ok(api.get("messages", campaign=campaign["id"]))["results"]
    assert sorted(m["to"] for m in listed) == [ANN, BO, CY]
    assert {m["campaign"] for m in listed} == {campaign["id"]}


def test_frequency_cap_and_too_long_bodies_are_skipped(alpha, api):
    audience = vip_audience(api)
    ok(api.post("messages", {"from": SIM_NUMBER, "to": CY, "body": "Earlier today"}), 202)
    contact = ok(api.get("contacts", phone=ANN))["results"][0]
    notes = {f"note{n}": "x" * 450 for n in range(4)}  # 1,800 characters: 12 segments
    ok(api.patch(f"contacts/{contact['id']}", {"fields": notes}))
    campaign = create(api, audience=audience, frequency_cap_hours=24, quiet_hours=None,
                      body="Hi {{ contact.name }} " + "".join(
                          f"{{{{ contact.fields.{name} }}}}" for name in notes))
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    run(alpha, campaign["id"])
    assert [m.to_address for m in campaign_messages(alpha, campaign["id"])] == [BO]
    stats = ok(api.get(f"campaigns/{campaign['id']}"))["stats"]
    assert stats["recipients"] == 1
    assert stats["skipped"] == {"opted_out": 1, "body_too_long": 1, "frequency_cap": 1,
                                "quota_exceeded": 0}


def test_quiet_hours_one_recipient_waits_for_her_morning_the_other_gets_it(alpha, api):
    for phone, name in ((ANN, "Ann"), (SYDNEY, "Sam")):
        ok(api.post("contacts", {"phone": phone, "name": name, "tags": ["q"]}), 201)
    campaign = create(api, audience={"tags": ["q"]})
    assert campaign["quiet_hours"] == {"start": "08:00", "end": "21:00"}
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    # 18:00 UTC: 10:00 in San Francisco, 05:00 the next morning in Sydney (UTC+11).
    now = (timezone.now() + timedelta(days=2)).replace(hour=18, minute=0, second=0,
                                                         microsecond=0)
    run(alpha, campaign["id"], now=now)

    ann, sam = campaign_messages(alpha, campaign["id"])
    assert (ann.to_address, ann.status, ann.scheduled_for) == (ANN, "queued", None)
    sydney_eight = now.replace(hour=21)  # 08:00 in Sydney
    assert (sam.to_address, sam.status, sam.scheduled_for) == (SYDNEY, "scheduled",
                                                                sydney_eight)
    stats = ok(api.get(f"campaigns/{campaign['id']}"))["stats"]
    assert stats["waiting_quiet_hours"] == 1 and stats["queued"] == 1
    assert stats["waiting_until"] == sydney_eight.isoformat().replace("+00:00", "Z")

    with schema_context(alpha.schema_name):
        assert messages_release_due(now=sydney_eight - timedelta(minutes=1)) == []
        assert messages_release_due(now=sydney_eight) == [sam.pk]


def test_expiry_cancels_what_still_waits(alpha, api):
    ok(api.post("contacts", {"phone": SYDNEY, "name": "Sam", "tags": ["q"]}), 201)
    now = (timezone.now() + timedelta(days=2)).replace(hour=18, minute=0, second=0,
                                                         microsecond=0)
    campaign = create(api, audience={"tags": ["q"]},
                      expires_at=(now + timedelta(hours=1)).isoformat())
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    run(alpha, campaign["id"], now=now)
    [sam] = campaign_messages(alpha, campaign["id"])
    assert sam.status == "scheduled"
    with schema_context(alpha.schema_name):
        campaigns_sweep(schema=alpha.schema_name, now=now + timedelta(hours=2),
                        stale_before=now)
        assert Message.objects.get(pk=sam.pk).status == "canceled"
        assert Campaign.objects.get(pk=campaign["id"]).status == "completed"


def test_pause_holds_resume_sends_cancel_withdraws_and_completion_is_announced(alpha, api):
    vip_audience(api)
    with schema_context(alpha.schema_name):
        subscription_create(url="http://127.0.0.1:9/events", events=["campaign.completed"])
        subscribed_types_forget()
    campaign = create(api, quiet_hours=None, audience={"tags": ["vip"]})
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    run(alpha, campaign["id"])
    paused = ok(api.post(f"campaigns/{campaign['id']}/pause", {}), 202)
    assert paused["status"] == "paused" and paused["stats"]["queued"] == 1
    [cy] = campaign_messages(alpha, campaign["id"])
    assert (cy.status, cy.scheduled_for) == ("scheduled", None)
    with schema_context(alpha.schema_name):
        # Held: the send task leaves it, the sweep does not queue it.
        messages_deliver(message_ids=[cy.pk])
        assert messages_release_due(now=timezone.now() + timedelta(days=365)) == []
    assert campaign_messages(alpha, campaign["id"])[0].status == "scheduled"
    assert ok(api.post(f"campaigns/{campaign['id']}/pause", {}), 409)[
        "code"] == "invalid_state"

    ok(api.post(f"campaigns/{campaign['id']}/resume", {}), 202)
    run(alpha, campaign["id"])
    assert campaign_messages(alpha, campaign["id"])[0].status == "queued"
    with schema_context(alpha.schema_name):
        messages_deliver(message_ids=[cy.pk])
        assert campaign_complete_if_done(campaign_id=campaign["id"])
        [event] = Event.objects.filter(type="campaign.completed")
    done = ok(api.get(f"campaigns/{campaign['id']}"))
    assert done["status"] == "completed" and done["stats"]["delivered"] == 1
    assert json.loads(event.payload)["data"]["campaign"]["stats"]["delivered"] == 1

    second = create(api, quiet_hours=None, audience={"tags": ["vip"]})
    ok(api.post(f"campaigns/{second['id']}/start", {}), 202)
    run(alpha, second["id"])
    canceled = ok(api.post(f"campaigns/{second['id']}/cancel", {}), 202)
    assert canceled["status"] == "canceled" and canceled["stats"]["canceled"] == 1
    assert [m.status for m in campaign_messages(alpha, second["id"])] == ["canceled"]
    assert ok(api.post(f"campaigns/{second['id']}/resume", {}), 409)["code"] == "invalid_state"


def test_a_campaign_has_the_tables_it_outgrew_measured_again(alpha, api, monkeypatch):
    """A new tenant's tables are measured empty, and a campaign grows them many times over
    within a minute: the plans PostgreSQL keeps for them (each message's foreign-key
    checks) are made again from a new measure, instead of scanning the whole table once
    per message (each chunk was slower than the last, and the sends waited for it)."""
    monkeypatch.setattr(statistics, "MIN_PAGES", 0)  # three messages fill one page
    with schema_context(alpha.schema_name), connection.cursor() as cursor:
        # As new: earlier tests left dead rows, which a table's size on disk counts.
        cursor.execute("TRUNCATE messaging_message, messaging_conversation CASCADE")
    campaign = create(api, quiet_hours=None, audience=vip_audience(api))
    with schema_context(alpha.schema_name), connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message, messaging_conversation")
        before = [measured_rows(table)
                  for table in ("messaging_message", "messaging_conversation")]
    assert before == [0, 0]
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    run(alpha, campaign["id"])
    assert len(campaign_messages(alpha, campaign["id"])) == 3
    with schema_context(alpha.schema_name):
        assert measured_rows("messaging_message") == 3
        assert measured_rows("messaging_conversation") == 3
        # Measured at its size, a table is left alone.
        assert statistics.statistics_refresh(models=(Message, Conversation)) == []


def withdrawals_queued(campaign_id: int) -> int:
    """``campaign_withdraw`` tasks for ``campaign_id`` waiting in the broker's queue."""
    with app.connection_for_write() as broker:
        queued = broker.default_channel.client.lrange("default", 0, -1)
    headers = [json.loads(raw)["headers"] for raw in queued]
    return sum(1 for h in headers if h["task"] == "campaigns.tasks.campaign_withdraw"
               and h["argsrepr"] == f"[{campaign_id}]")


def test_a_large_cancel_answers_at_once_and_the_rest_is_withdrawn_after(
        alpha, api, monkeypatch, django_capture_on_commit_callbacks):
    """Past a chunk, the cancel ends the first messages itself and leaves the rest to its
    task (a cancel of 100,000 outlasted the web's request timeout); meanwhile no send task
    takes them, and the sweep hands a lost withdrawal to a new task."""
    monkeypatch.setattr(sending, "WITHDRAW_CHUNK", 1)
    campaign = create(api, quiet_hours=None, audience=vip_audience(api))
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    run(alpha, campaign["id"])
    assert [m.status for m in campaign_messages(alpha, campaign["id"])] == ["queued"] * 3
    before = withdrawals_queued(campaign["id"])
    in_hand = campaign_messages(alpha, campaign["id"])  # read by a send task before the cancel

    with django_capture_on_commit_callbacks(execute=True):
        canceled = ok(api.post(f"campaigns/{campaign['id']}/cancel", {}), 202)
    assert canceled["status"] == "canceled"
    assert (canceled["stats"]["canceled"], canceled["stats"]["queued"]) == (1, 2)
    assert withdrawals_queued(campaign["id"]) == before + 1
    waiting = [m.pk for m in campaign_messages(alpha, campaign["id"]) if m.status == "queued"]
    with schema_context(alpha.schema_name):
        # A send task still queued for them drops them with its first query: a canceled
        # campaign's tasks do not hold other sends behind them.
        with CaptureQueriesContext(connection) as queries:
            messages_deliver(message_ids=waiting)
        assert len([q for q in queries if not q["sql"].startswith("SET search_path")]) == 1
        # One that read them before the cancel committed is refused at the claim.
        assert outbound._claim([m for m in in_hand if m.pk in waiting]) == []
    assert sorted(m.status for m in campaign_messages(alpha, campaign["id"])) == [
        "canceled", "queued", "queued"]

    with schema_context(alpha.schema_name):
        now = timezone.now()
        campaigns_sweep(schema=alpha.schema_name, now=now, stale_before=now)
        assert withdrawals_queued(campaign["id"]) == before + 2
        assert campaign_withdraw(campaign_id=campaign["id"]) == 2
        campaigns_sweep(schema=alpha.schema_name, now=now, stale_before=now)
    assert withdrawals_queued(campaign["id"]) == before + 2  # nothing left to withdraw
    assert [m.status for m in campaign_messages(alpha, campaign["id"])] == ["canceled"] * 3
    assert ok(api.get(f"campaigns/{campaign['id']}"))["stats"]["canceled"] == 3


def test_a_scheduled_campaign_starts_when_its_time_comes(alpha, api):
    vip_audience(api)
    send_at = timezone.now() + timedelta(hours=3)
    campaign = create(api, quiet_hours=None, send_at=send_at.isoformat())
    assert ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)["status"] == "scheduled"
    with schema_context(alpha.schema_name):
        campaigns_sweep(schema=alpha.schema_name, now=timezone.now(),
                        stale_before=timezone.now())
        assert Campaign.objects.get(pk=campaign["id"]).status == "scheduled"
        campaigns_sweep(schema=alpha.schema_name, now=send_at, stale_before=send_at)
        assert Campaign.objects.get(pk=campaign["id"]).status == "sending"
    run(alpha, campaign["id"])
    assert [m.to_address for m in campaign_messages(alpha, campaign["id"])] == [CY]


def test_preview_shows_real_recipients_texts_and_the_total(alpha, api):
    audience = vip_audience(api)
    campaign = create(api, audience=audience, quiet_hours=None,
                      body='Hi {{ contact.name | default: "there" }} ☀ ' + "x" * 70)
    preview = ok(api.get(f"campaigns/{campaign['id']}/preview", samples=2))
    assert ok(api.get(f"campaigns/{campaign['id']}/preview", samples="many"), 400)[
        "code"] == "validation_error"
    assert preview["recipients"] == 3 and preview["skipped"] == {"opted_out": 1}
    assert [s["phone"] for s in preview["samples"]] == [ANN, BO]
    assert preview["samples"][1]["body"].startswith("Hi there ☀")
    assert {(s["encoding"], s["segments"]) for s in preview["samples"]} == {("UCS-2", 2)}
    assert preview["total_segments"] == 6
    assert campaign_messages(alpha, campaign["id"]) == []


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"sender": "+14155559999"}, "unknown_sender", "sender"),
    ({"sender": "+14155550126"}, "sender_not_approved", "sender"),
    ({"body": "Hi {{ contact.nam }}"}, "invalid_template", "body"),
    ({"body": "Hi {{ contact.name }"}, "invalid_template", "body"),
    ({"body": "  "}, "empty_body", "body"),
    ({"send_at": "2020-01-01T00:00:00Z"}, "send_at_in_past", "send_at"),
    ({"quiet_hours": {"start": "8am", "end": "21:00"}}, "invalid_quiet_hours", "quiet_hours"),
    ({"audience": {"lists": [987654]}}, "unknown_list", "audience"),
    ({"frequency_cap_hours": 0}, "validation_error", "frequency_cap_hours"),
])
def test_bad_input_is_refused_with_its_code(alpha, api, change, code, field):
    with schema_context(alpha.schema_name):
        from messaging.senders import sender_register

        sender_register(address="+14155550126", kind="long_code", connection="simulator")
    refused = ok(api.post("campaigns", {"name": "Sale", "sender": SIM_NUMBER, "body": BODY,
                                        "audience": {"tags": ["vip"]}, **change}), 400)
    assert refused["code"] == code and field in refused["fields"]
    with schema_context(alpha.schema_name):
        assert not Campaign.objects.exists()


def test_template_errors_say_where(alpha, api):
    refused = ok(api.post("campaigns", {"name": "Sale", "sender": SIM_NUMBER,
                                        "body": "Hello {{ contact.nam }}",
                                        "audience": {"tags": ["vip"]}}), 400)
    assert refused["position"] == 6 and "character 7" in refused["detail"]


def test_states_refuse_what_they_do_not_allow(alpha, api):
    empty = create(api, audience={"tags": ["nobody"]})
    refused = ok(api.post(f"campaigns/{empty['id']}/start", {}), 400)
    assert refused["code"] == "empty_audience"
    assert ok(api.post(f"campaigns/{empty['id']}/pause", {}), 409)["code"] == "invalid_state"

    vip_audience(api)
    campaign = create(api, quiet_hours=None)
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    for call in (lambda: api.post(f"campaigns/{campaign['id']}/start", {}),
                 lambda: api.patch(f"campaigns/{campaign['id']}", {"name": "Renamed"}),
                 lambda: api.delete(f"campaigns/{campaign['id']}")):
        assert ok(call(), 409)["code"] == "invalid_state"
    # A draft is changed and deleted freely.
    assert ok(api.patch(f"campaigns/{empty['id']}", {"name": "Renamed"}))["name"] == "Renamed"
    ok(api.delete(f"campaigns/{empty['id']}"), 204)
    ok(api.get(f"campaigns/{empty['id']}"), 404)


def test_the_sender_is_checked_again_at_start(alpha, api):
    vip_audience(api)
    campaign = create(api, quiet_hours=None)
    with schema_context(alpha.schema_name):
        from messaging.models import Sender

        Sender.objects.filter(address=SIM_NUMBER).update(status="suspended")
    assert ok(api.post(f"campaigns/{campaign['id']}/start", {}), 400)[
        "code"] == "sender_not_approved"


def test_quiet_hours_fall_back_to_the_tenant_zone_for_unknown_regions():
    from campaigns.quiet_hours import QuietHours

    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    quiet = QuietHours({"start": "08:00", "end": "21:00"}, now=now,
                       fallback_zone="Europe/Paris")
    # +882 (international networks) has no zone: Paris, 06:00, waits until 08:00 there.
    assert quiet.wait_until("+88234567890") == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    # New York at midnight waits for 08:00 New York.
    assert quiet.wait_until("+12125550100") == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def test_a_stale_sending_campaign_task_is_enqueued_again(alpha, api):
    vip_audience(api)
    campaign = create(api, quiet_hours=None)
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)
    later = timezone.now() + timedelta(minutes=5)
    with schema_context(alpha.schema_name):
        assert campaigns_sweep(schema=alpha.schema_name, now=later, stale_before=later) == 1


# --- Pages ----------------------------------------------------------------------------------

@pytest.fixture
def owner(alpha, alpha_client, sim_sender):
    login(alpha_client, "owner@alpha.example")
    with schema_context(alpha.schema_name):
        Tenant.objects.filter(pk=alpha.pk).update(timezone="Europe/Paris")
    return alpha_client


def test_a_campaign_from_the_form_to_its_results_in_the_pages(alpha, api, owner):
    audience = vip_audience(api)
    page = owner.get("/campaigns/new/")
    assert page.status_code == 200 and b"Lists" in page.content
    refused = owner.post("/campaigns/new/", {
        "name": "Sale", "sender": SIM_NUMBER, "body": "Hi {{ contact.nam }}",
        "lists": [str(audience["lists"][0])], "tags": "vip", "quiet_hours": "on",
        "quiet_start": "08:00", "quiet_end": "21:00"})
    assert refused.status_code == 400
    assert "Unknown placeholder" in refused.content.decode()

    later = timezone.now().astimezone(ZoneInfo("Europe/Paris")) + timedelta(days=1)
    created = owner.post("/campaigns/new/", {
        "name": "Sale", "sender": SIM_NUMBER, "body": BODY,
        "lists": [str(audience["lists"][0])], "tags": "vip, spring",
        "send_at": later.strftime("%Y-%m-%dT%H:%M"), "quiet_start": "08:00",
        "quiet_end": "21:00"})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        campaign = Campaign.objects.get()
    # Entered in the tenant's zone (Paris), stored in UTC; quiet hours unticked: none.
    assert campaign.send_at == later.replace(second=0, microsecond=0)
    assert campaign.quiet_hours is None and campaign.audience["tags"] == ["spring", "vip"]

    preview = owner.get(f"/campaigns/{campaign.pk}/preview/").content.decode()
    assert "Hi Ann, 20% off" in preview and "1 opted out" in preview
    assert owner.post(f"/campaigns/{campaign.pk}/start/").status_code == 302
    with schema_context(alpha.schema_name):
        campaigns_sweep(schema=alpha.schema_name, now=later, stale_before=later)
    run(alpha, campaign.pk)

    detail = owner.get(f"/campaigns/{campaign.pk}/")
    assert detail.status_code == 200 and b'id="chart-funnel"' in detail.content
    progress = owner.get(f"/campaigns/{campaign.pk}/progress.json").json()
    assert progress["status"] == "sending" and progress["stats"]["recipients"] == 3
    assert progress["stats"]["queued"] == 3 and progress["percent"] == 0
    recipients = owner.get(f"/campaigns/{campaign.pk}/recipients/", {"status": "queued"})
    assert recipients.content.decode().count("Queued") >= 3
    export = b"".join(owner.get(f"/campaigns/{campaign.pk}/recipients.csv").streaming_content)
    lines = export.decode().splitlines()
    assert lines[0].startswith("phone,name,status") and len(lines) == 4
    assert owner.post(f"/campaigns/{campaign.pk}/pause/").status_code == 302
    assert owner.get(f"/campaigns/{campaign.pk}/progress.json").json()["status"] == "paused"
    listing = owner.get("/campaigns/").content.decode()
    assert "Sale" in listing and "Paused" in listing


def test_a_task_stores_one_chunk_and_hands_the_next_to_a_fresh_task(alpha, api, monkeypatch):
    """Between chunks the worker process is free for the customers' texts: each task
    stores one chunk and enqueues the next; a doubled task stores nothing twice and
    leaves the next chunk to the copy that stored this one."""
    from campaigns import sending

    monkeypatch.setattr(sending, "CHUNK", 2)
    enqueued: list[int] = []
    monkeypatch.setattr(sending, "campaign_send_enqueue",
                        lambda campaign_id, *, schema: enqueued.append(campaign_id))
    campaign = create(api, audience=vip_audience(api), quiet_hours=None)
    ok(api.post(f"campaigns/{campaign['id']}/start", {}), 202)

    run(alpha, campaign["id"])  # Ann and Bo
    assert len(campaign_messages(alpha, campaign["id"])) == 2
    assert enqueued == [campaign["id"]]
    run(alpha, campaign["id"])  # Cy, and Dee, who opted out
    assert len(campaign_messages(alpha, campaign["id"])) == 3
    assert enqueued == [campaign["id"]] * 2
    run(alpha, campaign["id"])  # nobody left: the audience is done, nothing enqueued
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign["id"]).audience_done_at is not None
    assert enqueued == [campaign["id"]] * 2
    run(alpha, campaign["id"])  # a redelivered copy: nothing more
    assert len(campaign_messages(alpha, campaign["id"])) == 3
    assert enqueued == [campaign["id"]] * 2
