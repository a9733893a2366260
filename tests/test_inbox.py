"""The staff inbox at `/` through Django's test client: folders, search, the thread, the
actions, roles, tenant isolation and the live-update version."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiKey, Role, User
from core.encoding import analyse, unencodable_in_gsm7
from core.live import inbox_version
from messaging.contacts import contact_update
from messaging.conversations import conversation_assign, conversation_resolve
from messaging.models import (
    Conversation,
    ConversationActivity,
    ConversationNote,
    Message,
)
from messaging.rules import keyword_rule_save
from messaging.surveys import survey_save
from optout.actions import do_opt_out
from tests.conftest import PASSWORD, host_client, login
from tests.support.factories import (
    ConversationFactory,
    ConversationNoteFactory,
    MessageFactory,
)
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    Api,
    approved_sender,
    customer_texts,
    key_for,
)

OTHER = "+14155550188"
THIRD = "+14155550177"


def conversation_of(tenant, phone: str = CUSTOMER) -> Conversation:
    with schema_context(tenant.schema_name):
        return Conversation.objects.select_related("contact").get(contact__phone=phone)


@pytest.fixture
def owner(alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


@pytest.fixture
def agent(alpha) -> User:
    with schema_context(alpha.schema_name):
        return User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)


def listed(response) -> list[str]:
    """The conversations of the list, in order, by the contact's name or number."""
    html = response.content.decode()
    return re.findall(r'<span class="who">([^<]*)</span>', html)


def test_anonymous_visitors_are_sent_to_sign_in(alpha_client):
    for path in ("/", "/inbox/version", "/inbox/fragments"):
        response = alpha_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_all_open_conversations_by_default_most_recent_activity_first(owner, alpha,
                                                                         sim_sender):
    customer_texts(alpha, "First", from_=CUSTOMER)
    customer_texts(alpha, "Second", from_=OTHER)
    customer_texts(alpha, "Third", from_=THIRD)
    with schema_context(alpha.schema_name):
        Conversation.objects.filter(contact__phone=THIRD).update(status="resolved")
    response = owner.get("/")
    assert response.status_code == 200
    assert listed(response) == [OTHER, CUSTOMER]
    html = response.content.decode()
    assert "Second" in html and "First" in html  # last-message previews
    assert 'aria-current="page">All open' in html
    # Unread badges: one unread message in each open conversation, two conversations.
    assert '<span class="badge">1<span class="visually-hidden"> unread</span>' in html
    assert "2<span class=\"visually-hidden\"> with unread messages" in html


def test_folders_mine_unassigned_resolved(owner, alpha, sim_sender, agent):
    customer_texts(alpha, "Mine", from_=CUSTOMER)
    customer_texts(alpha, "Theirs", from_=OTHER)
    customer_texts(alpha, "Nobody's", from_=THIRD)
    with schema_context(alpha.schema_name):
        me = User.objects.get(email="owner@alpha.example")
        Conversation.objects.filter(contact__phone=CUSTOMER).update(assignee=me)
        Conversation.objects.filter(contact__phone=OTHER).update(assignee=agent)
    assert listed(owner.get("/", {"folder": "mine"})) == [CUSTOMER]
    assert listed(owner.get("/", {"folder": "unassigned"})) == [THIRD]
    assert listed(owner.get("/", {"folder": "resolved"})) == []
    conversation = conversation_of(alpha, OTHER)
    owner.post(f"/conversations/{conversation.pk}/resolve")
    assert listed(owner.get("/", {"folder": "resolved"})) == [OTHER]
    assert OTHER not in listed(owner.get("/"))
    # An unknown folder is the default one.
    assert listed(owner.get("/", {"folder": "nonsense"})) == [THIRD, CUSTOMER]


@pytest.mark.parametrize("candidates", [1000, 0], ids=["from candidates", "walking the folder"])
def test_search_by_name_number_and_message_words(owner, alpha, sim_sender, monkeypatch,
                                                 candidates):
    # Both ways a search runs give the same answers: reading the rows its indexes found
    # (rare words) and testing each conversation in turn (words on more than
    # SEARCH_CANDIDATES rows; 0 forces it here).
    monkeypatch.setattr("messaging.selectors.SEARCH_CANDIDATES", candidates)
    customer_texts(alpha, "Where is my parcel?", from_=CUSTOMER)
    customer_texts(alpha, "Thanks for the delivery", from_=OTHER)
    with schema_context(alpha.schema_name):
        contact_update(contact=conversation_of(alpha, OTHER).contact, name="Ada Lovelace")
    assert listed(owner.get("/", {"q": "lovelace"})) == ["Ada Lovelace"]
    assert listed(owner.get("/", {"q": "0199"})) == [CUSTOMER]
    assert listed(owner.get("/", {"q": "(415) 555-0199"})) == [CUSTOMER]
    assert listed(owner.get("/", {"q": "parcel"})) == [CUSTOMER]
    assert listed(owner.get("/", {"q": "deliv"})) == ["Ada Lovelace"]  # a word's start
    assert listed(owner.get("/", {"q": "THE delivery"})) == ["Ada Lovelace"]
    assert listed(owner.get("/", {"q": "parcel delivery"})) == []  # every word must match
    nothing = owner.get("/", {"q": "zebra"})
    assert listed(nothing) == []
    assert "No conversation matches “zebra”." in nothing.content.decode()
    # tsquery syntax typed by a user is just text.
    assert owner.get("/", {"q": "a & | ! :* ( '"}).status_code == 200


def test_the_search_finds_a_reply_once_it_has_left(owner, alpha, sim_sender):
    # Not while it waits to be sent: the index skips those row versions, which a campaign
    # writes by the hundred thousand (messaging.models.UNSENT).
    customer_texts(alpha, "Hello")
    with schema_context(alpha.schema_name):
        reply = MessageFactory(conversation=conversation_of(alpha), direction="outbound",
                               body="Your parcel ships tomorrow", status="queued")
    for status, found in (("queued", []), ("sending", []), ("canceled", []),
                          ("sent", [CUSTOMER]), ("delivered", [CUSTOMER]),
                          ("failed", [CUSTOMER])):
        with schema_context(alpha.schema_name):
            Message.objects.filter(pk=reply.pk).update(status=status)
        assert listed(owner.get("/", {"q": "parcel ships"})) == found, status


def test_the_text_search_uses_the_gin_index(alpha, sim_sender):
    from django.contrib.postgres.search import SearchVector

    from messaging.selectors import message_text_matches

    customer_texts(alpha, "Where is my order?")
    with schema_context(alpha.schema_name):
        query = (Message.objects.annotate(search_vector=SearchVector("body", config="simple"))
                 .filter(message_text_matches("parcel")).order_by())
        with connection.cursor() as cursor:
            # A few thousand messages of a conversation, so the planner weighs the
            # indexes as on a real inbox rather than on a handful of rows.
            columns = [f.column for f in Message._meta.concrete_fields
                       if f.column not in ("id", "provider_message_id")]
            cursor.execute(
                f"INSERT INTO messaging_message ({', '.join(columns)}) "
                f"SELECT {', '.join(columns)} FROM messaging_message, generate_series(1, 3000) "
                "WHERE conversation_id IS NOT NULL")
            cursor.execute("ANALYZE messaging_message")
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = query.explain()
    assert "message_body_search" in plan


def test_opening_a_conversation_marks_it_read_and_shows_the_thread(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello?")
    conversation = conversation_of(alpha)
    assert conversation.unread_count == 1
    with schema_context(alpha.schema_name):
        ConversationNoteFactory(conversation=conversation, body="VIP customer")
    response = owner.get("/", {"c": conversation.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert conversation_of(alpha).unread_count == 0
    assert '<label for="reply-body">Reply</label>' in html
    assert '<button type="submit" id="send">Send</button>' in html
    assert "Hello?" in html and "VIP customer" in html and "Private note" in html
    assert "Subscribed" in html


def test_a_live_refresh_of_an_open_thread_does_not_mark_new_messages_read(owner, alpha,
                                                                          sim_sender):
    customer_texts(alpha, "Hello?")
    conversation = conversation_of(alpha)
    owner.get("/", {"c": conversation.pk})
    customer_texts(alpha, "Anyone there?")
    refreshed = owner.get("/inbox/fragments", {"c": conversation.pk})
    assert "Anyone there?" in refreshed.content.decode()
    assert conversation_of(alpha).unread_count == 1
    owner.get("/", {"c": conversation.pk})
    assert conversation_of(alpha).unread_count == 0


def test_times_show_in_the_tenants_timezone(owner, alpha, sim_sender):
    alpha.timezone = "Asia/Kolkata"  # UTC+05:30: the minutes differ from UTC's
    alpha.save(update_fields=["timezone"])
    customer_texts(alpha, "Hi")
    conversation = conversation_of(alpha)
    with schema_context(alpha.schema_name):
        created = Message.objects.get().created_at
    html = owner.get("/", {"c": conversation.pk}).content.decode()
    shown = created.astimezone(ZoneInfo("Asia/Kolkata"))
    utc = created.astimezone(ZoneInfo("UTC"))
    assert f">{shown:%b} {shown.day}, {shown:%H:%M}</time>" in html
    assert f"{utc:%H:%M}</time>" not in html


def test_customer_text_is_escaped(owner, alpha, sim_sender):
    customer_texts(alpha, "<img src=x onerror=alert(1)>")
    conversation = conversation_of(alpha)
    for response in (owner.get("/"), owner.get("/", {"c": conversation.pk}),
                     owner.get("/inbox/fragments", {"c": conversation.pk})):
        html = response.content.decode()
        assert "<img" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_reply_is_queued_through_the_send_path(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    response = owner.post(f"/conversations/{conversation.pk}/reply",
                          {"body": "Hi there", "folder": "mine"})
    assert response.status_code == 302
    assert response["Location"] == f"/?folder=mine&c={conversation.pk}"
    with schema_context(alpha.schema_name):
        sent = Message.objects.get(direction="outbound")
    assert (sent.body, sent.status, sent.to_address, sent.from_address, sent.origin,
            sent.author.email) == ("Hi there", "queued", CUSTOMER, SIM_NUMBER, "user",
                                   "owner@alpha.example")
    thread = owner.get("/", {"c": conversation.pk}).content.decode()
    assert '<span class="msg-status queued">queued</span>' in thread


def test_an_empty_or_too_long_reply_is_refused_and_the_text_kept(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    empty = owner.post(f"/conversations/{conversation.pk}/reply", {"body": "  "})
    assert empty.status_code == 400
    assert "The message body is empty." in empty.content.decode()
    long = "Привет " * 100  # Cyrillic: UCS-2, 700 units in 11 segments of 67
    refused = owner.post(f"/conversations/{conversation.pk}/reply", {"body": long})
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "The body needs 11 UCS-2 segments; the limit is 10." in html
    assert long in html  # kept in the composer
    assert "700 · 11 segments · 37 left · UCS-2 because of “П”" in html
    emoji = owner.post(f"/conversations/{conversation.pk}/reply", {"body": "ok 😀 " * 300})
    assert "UCS-2 because of “😀”" in emoji.content.decode()
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_an_opted_out_contact_cannot_be_answered(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    with schema_context(alpha.schema_name):
        do_opt_out(phone=CUSTOMER, source="admin", reason="asked by phone")
    conversation = conversation_of(alpha)
    html = owner.get("/", {"c": conversation.pk}).content.decode()
    assert "has opted out of messages from" in html
    assert '<button type="submit" id="send" disabled>Send</button>' in html
    assert "asked by phone" in html  # the consent history
    refused = owner.post(f"/conversations/{conversation.pk}/reply", {"body": "Hi"})
    assert refused.status_code == 400
    assert f"{CUSTOMER} has opted out of your messages." in refused.content.decode()
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_notes_assignment_resolve_and_reopen(owner, alpha, sim_sender, agent):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    base = f"/conversations/{conversation.pk}"
    owner.post(f"{base}/notes", {"body": "Call back after 5"})
    owner.post(f"{base}/assign", {"assignee": str(agent.pk)})
    assert conversation_of(alpha).assignee_id == agent.pk
    owner.post(f"{base}/assign", {"assignee": "999999"})  # not a teammate: nothing changes
    assert conversation_of(alpha).assignee_id == agent.pk
    owner.post(f"{base}/assign", {"assignee": ""})
    assert conversation_of(alpha).assignee_id is None
    owner.post(f"{base}/resolve")
    assert conversation_of(alpha).status == "resolved"
    owner.post(f"{base}/reopen")
    assert conversation_of(alpha).status == "open"
    with schema_context(alpha.schema_name):
        assert list(ConversationNote.objects.values_list("body", flat=True)) == [
            "Call back after 5"]
    assert owner.get(f"{base}/resolve").status_code == 405


def test_the_contact_panel_edits_name_fields_and_tags(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    with schema_context(alpha.schema_name):
        contact_update(contact=conversation.contact, fields={"plan": "gold", "visits": 3})
    response = owner.post(f"/contacts/{conversation.contact_id}/edit", {
        "name": "Grace Hopper", "field:plan": "platinum", "field:visits": "3",
        "new_field_name": "city", "new_field_value": "Arlington", "tags": "vip, navy,",
        "conversation": str(conversation.pk),
    })
    assert response["Location"] == f"/?c={conversation.pk}"
    contact = conversation_of(alpha).contact
    assert (contact.name, contact.fields, contact.tags) == (
        "Grace Hopper", {"plan": "platinum", "visits": 3, "city": "Arlington"}, ["vip", "navy"])
    owner.post(f"/contacts/{contact.pk}/edit", {"name": "Grace Hopper", "field:plan": "",
                                                "field:visits": "3", "tags": ""})
    contact = conversation_of(alpha).contact
    assert (contact.fields, contact.tags) == ({"visits": 3, "city": "Arlington"}, [])


def test_an_agent_reaches_the_inbox_but_not_admin_pages(alpha, sim_sender, agent):
    client = host_client("alpha.localhost")
    login(client, agent.email)
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    assert client.get("/").status_code == 200
    assert client.get("/", {"c": conversation.pk}).status_code == 200
    assert client.post(f"/conversations/{conversation.pk}/reply",
                       {"body": "Hi"}).status_code == 302
    for page in ("/settings/api-keys/", "/team/", "/rules/", "/optouts/", "/surveys/"):
        assert client.get(page).status_code == 403, page
    assert "API keys" not in client.get("/").content.decode()


def test_another_tenants_conversation_ids_are_not_found(alpha, beta, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    client = host_client("beta.localhost")
    login(client, "owner@beta.example")
    assert client.get("/", {"c": conversation.pk}).status_code == 404
    assert client.get("/inbox/fragments", {"c": conversation.pk}).status_code == 404
    for action in ("reply", "notes", "assign", "resolve", "reopen"):
        response = client.post(f"/conversations/{conversation.pk}/{action}", {"body": "x"})
        assert response.status_code == 404, action
    assert client.post(f"/contacts/{conversation.contact_id}/edit",
                       {"name": "x"}).status_code == 404
    assert conversation_of(alpha).status == "open"
    assert conversation_of(alpha).unread_count == 1


def test_every_visible_change_moves_only_its_tenants_version(
        owner, alpha, beta, sim_sender, django_capture_on_commit_callbacks, monkeypatch):
    # The commit callbacks run for real, but no task may reach the broker: the messages
    # they name are rolled back with the test.
    monkeypatch.setattr("messaging.inbound.inbound_drain_enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr("messaging.outbound.messages_enqueue", lambda *args, **kwargs: None)

    def versions() -> tuple[int, int]:
        return (inbox_version(schema=alpha.schema_name), inbox_version(schema=beta.schema_name))

    before_alpha, before_beta = versions()
    with django_capture_on_commit_callbacks(execute=True):
        customer_texts(alpha, "Hello")
    after_inbound = versions()
    assert after_inbound[0] > before_alpha and after_inbound[1] == before_beta
    conversation = conversation_of(alpha)
    steps = [
        lambda: owner.post(f"/conversations/{conversation.pk}/reply", {"body": "Hi"}),
        lambda: owner.post(f"/conversations/{conversation.pk}/notes", {"body": "n"}),
        lambda: owner.post(f"/conversations/{conversation.pk}/resolve"),
        lambda: owner.post(f"/conversations/{conversation.pk}/reopen"),
        lambda: owner.get("/", {"c": conversation.pk}),  # read: the badges follow
    ]
    for step in steps:
        last = versions()
        with django_capture_on_commit_callbacks(execute=True):
            step()
        now = versions()
        assert now[0] > last[0] and now[1] == before_beta
    version = owner.get("/inbox/version")
    assert version["Content-Type"] == "application/json"
    assert version.json() == {"version": versions()[0]}
    assert "no-store" in version["Cache-Control"] or "no-cache" in version["Cache-Control"]


def test_the_server_counter_matches_the_encoding_rules(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    text = "Price: 10€ {ok} " * 20 + "x" * 1500  # extension characters cost two septets
    html = owner.post(f"/conversations/{conversation.pk}/reply",
                      {"body": text}).content.decode()
    analysis = analyse(text)
    assert unencodable_in_gsm7(text) is None
    assert analysis.segments == 13
    assert f"{analysis.units} · {analysis.segments} segments · {analysis.remaining} left · GSM-7" \
        in html


def test_owners_set_the_business_name_and_timezone(owner, alpha, agent):
    assert owner.get("/settings/").status_code == 200
    refused = owner.post("/settings/", {"name": " ", "timezone": "Mars/Olympus"})
    assert refused.status_code == 400
    saved = owner.post("/settings/", {"name": "Alpha Bikes", "timezone": "Europe/Paris"})
    assert saved.status_code == 302
    alpha.refresh_from_db()
    assert (alpha.name, alpha.timezone) == ("Alpha Bikes", "Europe/Paris")
    client = host_client("alpha.localhost")
    login(client, agent.email)
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", {"name": "X", "timezone": "UTC"}).status_code == 403


def test_long_lists_and_threads_come_in_pages_with_links_for_more(owner, alpha, sim_sender):
    customer_texts(alpha, "Hello", from_=CUSTOMER)
    conversation = conversation_of(alpha)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        for number in range(55):
            ConversationFactory(sender=conversation.sender,
                                last_activity_at=now - timedelta(minutes=number + 1))
        Message.objects.bulk_create([
            MessageFactory.build(conversation=conversation, body=f"Line {index}")
            for index in range(60)])
    first = owner.get("/").content.decode()
    assert first.count('<li class="conversation') == 50
    more = re.search(r'<p class="more"><a href="([^"]+)">Show more', first).group(1)
    assert owner.get(more.replace("&amp;", "&")).content.decode().count(
        '<li class="conversation') == 56
    thread = owner.get(f"/?c={conversation.pk}").content.decode()
    assert thread.count('<li class="bubble ') == 50
    assert "Line 59" in thread and "Hello" not in thread
    earlier = re.search(r'<p class="earlier"><a href="([^"]+)">', thread).group(1)
    whole = owner.get(earlier.replace("&amp;", "&")).content.decode()
    assert whole.count('<li class="bubble ') == 61 and "Hello" in whole


def thread_events(html: str) -> list[str]:
    """The system events of the thread, in order, as their text reads."""
    events = re.findall(r'<li class="event[^"]*">\s*<p>(.*?)</p>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", event)).strip() for event in events]


def test_the_thread_shows_what_happened_among_the_messages(owner, alpha, sim_sender, agent):
    with schema_context(alpha.schema_name):
        survey = survey_save(name="Feedback", questions=[
            {"kind": "text", "text": "How did we do?"}])
        keyword_rule_save(keyword="hours", match="exact", reply="We open at 9.")
        keyword_rule_save(keyword="survey", match="exact", start_survey=survey)
    customer_texts(alpha, "hours")
    conversation = conversation_of(alpha)
    base = f"/conversations/{conversation.pk}"
    owner.post(f"{base}/assign", {"assignee": str(agent.pk)})
    owner.post(f"{base}/resolve")
    customer_texts(alpha, "survey")
    customer_texts(alpha, "STOP")
    Api(alpha, key_for(alpha)).post(f"conversations/{conversation.pk}/assign",
                                    {"assignee": None})
    page = owner.get("/", {"c": conversation.pk}).content.decode()
    html = page[page.index('<ol class="bubbles"'):]
    with schema_context(alpha.schema_name):
        prefix = ApiKey.objects.get().prefix
    events = thread_events(html)
    assert [event.split(" · ")[0] for event in events] == [
        "Assigned to agent@alpha.example by owner@alpha.example",
        "Resolved by owner@alpha.example",
        "Survey “Feedback” started",
        "Opted out of every number by the contact's keyword",
        f"Unassigned by api key {prefix}",
    ]
    # In time among the messages: the auto-reply before the assignment, the survey's
    # question after it started.
    bubbles = html.index("We open at 9.")
    assert html.index("Auto-reply") > bubbles
    assert bubbles < html.index("Assigned to agent") < html.index("How did we do?")
    assert html.index("Survey “Feedback” started") < html.index("How did we do?")


def test_the_contact_panel_links_the_contacts_other_conversations(owner, alpha, sim_sender):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    customer_texts(alpha, "To the first number")
    customer_texts(alpha, "To the second number", to=SIM_NUMBER_2)
    with schema_context(alpha.schema_name):
        first = Conversation.objects.get(sender__address=SIM_NUMBER)
        second = Conversation.objects.get(sender__address=SIM_NUMBER_2)
    html = owner.get("/", {"c": first.pk}).content.decode()
    assert re.search(rf'<a href="/\?c={second.pk}">With {re.escape(SIM_NUMBER_2)}</a> · open',
                     html)
    assert f"With {SIM_NUMBER}<" not in html
    alone = owner.get("/", {"c": second.pk}).content.decode()
    assert f'<a href="/?c={first.pk}">With {SIM_NUMBER}</a>' in alone


@pytest.mark.parametrize("param", ["n", "c", "m"])
def test_numbers_in_the_address_that_are_not_plain_digits_are_ignored(owner, alpha,
                                                                      sim_sender, param):
    # "²" is a digit to str.isdigit() but not a number to int().
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    for value in ("²", "-1", "1e3", "٣", "9" * 5000):
        response = owner.get("/", {"c": conversation.pk, param: value})
        assert response.status_code in (200, 404), (param, value)
    assign = owner.post(f"/conversations/{conversation.pk}/assign", {"assignee": "9" * 5000})
    assert assign.status_code == 302
    assert conversation_of(alpha).assignee_id is None


def test_a_change_made_from_a_stale_page_is_recorded_once(owner, alpha, sim_sender, agent):
    # Two teammates looking at the same open conversation both press Resolve, then Take:
    # each service reads the row under its lock, so the second press changes nothing.
    customer_texts(alpha, "Hello")
    with schema_context(alpha.schema_name):
        first, second = Conversation.objects.get(), Conversation.objects.get()
        me = User.objects.get(email="owner@alpha.example")
        conversation_resolve(conversation=first, actor=me)
        conversation_resolve(conversation=second, actor=agent)
        conversation_assign(conversation=first, assignee=me, actor=me)
        conversation_assign(conversation=second, assignee=me, actor=agent)
        assert list(ConversationActivity.objects.order_by("id").values_list(
            "kind", "actor__email")) == [("resolved", "owner@alpha.example"),
                                         ("assigned", "owner@alpha.example")]


def test_the_thread_still_names_a_teammate_whose_account_was_deleted(owner, alpha,
                                                                     sim_sender, agent):
    customer_texts(alpha, "Hello")
    conversation = conversation_of(alpha)
    with schema_context(alpha.schema_name):
        conversation_resolve(conversation=conversation, actor=agent)
        agent.delete()
    html = owner.get("/", {"c": conversation.pk}).content.decode()
    assert thread_events(html[html.index('<ol class="bubbles"'):])[0].startswith(
        "Resolved by agent@alpha.example")


# --- "New message": starting a conversation from the inbox --------------------------------


def sends(html: str) -> int:
    """How many "Send" buttons the page shows."""
    return len(re.findall(r"<button[^>]*>Send</button>", html))


def test_the_new_message_form_offers_the_approved_senders_and_one_send(owner, alpha,
                                                                      sim_sender):
    with schema_context(alpha.schema_name):
        from messaging.senders import sender_register
        sender_register(address=SIM_NUMBER_2, kind="long_code", connection="simulator")
    page = owner.get("/conversations/new/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<label for="id_to">To</label>' in html
    assert '<label for="id_body">Message</label>' in html
    assert f'<option value="{SIM_NUMBER}" selected>' in html
    assert SIM_NUMBER_2 not in html  # pending review: it cannot send
    assert sends(html) == 1
    # The inbox links to it, and a thread still shows one Send.
    customer_texts(alpha, "Hello")
    thread = owner.get("/", {"c": conversation_of(alpha).pk}).content.decode()
    assert 'href="/conversations/new/">New message</a>' in thread
    assert sends(thread) == 1


def test_a_new_message_to_a_number_lands_in_its_thread(owner, alpha, sim_sender):
    response = owner.post("/conversations/new/?folder=mine", {
        "sender": SIM_NUMBER, "to": "+1 (415) 555-0177", "body": "Your table is ready."})
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        sent = Message.objects.select_related("author").get()
    assert response["Location"] == f"/?folder=mine&c={sent.conversation_id}"
    assert (sent.to_address, sent.from_address, sent.body, sent.origin, sent.status,
            sent.author.email) == (THIRD, SIM_NUMBER, "Your table is ready.", "user", "queued",
                                   "owner@alpha.example")
    thread = owner.get(response["Location"]).content.decode()
    assert "Your table is ready." in thread and f"Sent to {THIRD}." in thread
    # A second message to the same number joins the same conversation.
    owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": THIRD, "body": "Again"})
    with schema_context(alpha.schema_name):
        assert Conversation.objects.filter(contact__phone=THIRD).count() == 1
        assert Message.objects.filter(conversation_id=sent.conversation_id).count() == 2


def test_a_new_message_to_a_contact_by_name(owner, alpha, sim_sender):
    from messaging.contacts import contact_create
    with schema_context(alpha.schema_name):
        contact_create(phone=OTHER, name="Ada Lovelace")
        contact_create(phone=THIRD, name="Sam Smith")
        contact_create(phone="+14155550166", name="Sam Smith")
    sent = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": "ada lovelace",
                                              "body": "Hello Ada"})
    assert sent.status_code == 302
    with schema_context(alpha.schema_name):
        assert Message.objects.get().to_address == OTHER
    twice = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": "Sam Smith",
                                               "body": "Hi"})
    assert twice.status_code == 400
    assert "2 contacts are named “Sam Smith”" in twice.content.decode()
    nobody = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": "Grace",
                                                "body": "Hi"})
    assert "No contact is named “Grace”" in nobody.content.decode()
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == 1


def field_error(html: str, field: str) -> str:
    """The error shown beside a field of the "New message" form."""
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_new_message_refusals_show_beside_their_fields_and_send_nothing(owner, alpha,
                                                                       sim_sender):
    with schema_context(alpha.schema_name):
        do_opt_out(phone=OTHER, source="admin", reason="asked")
    opted_out = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": OTHER,
                                                   "body": "Come back!"})
    html = opted_out.content.decode()
    assert opted_out.status_code == 400
    assert field_error(html, "to") == f"{OTHER} has opted out of your messages."
    assert 'aria-invalid="true"' in html and "Come back!" in html  # the text is kept
    # Every mistake at once, each beside its field.
    both = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": "+1 12",
                                              "body": "  "}).content.decode()
    assert "is not a phone number in international format" in field_error(both, "to")
    assert field_error(both, "body") == "The message body is empty."
    long = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": THIRD,
                                              "body": "ж" * 700}).content.decode()
    assert field_error(long, "body") == "The body needs 11 UCS-2 segments; the limit is 10."
    unknown = owner.post("/conversations/new/", {"sender": "+19999999999", "to": THIRD,
                                                 "body": "Hi"})
    assert unknown.status_code == 400
    assert "Select a valid choice" in field_error(unknown.content.decode(), "sender")
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_a_canned_response_is_inserted_for_the_recipient_and_nothing_sent(owner, alpha,
                                                                          sim_sender):
    from messaging.canned import canned_response_save
    from messaging.contacts import contact_create
    with schema_context(alpha.schema_name):
        contact_create(phone=OTHER, name="Ada")
        canned_response_save(shortcode="hours",
                             body='Hi {{ contact.name | default: "there" }}, {{ sender }} here.')
    page = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": OTHER,
                                              "body": "Hello.", "canned": "hours",
                                              "insert": "1"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f">Hello. Hi Ada, {SIM_NUMBER} here.</textarea>" in html
    unknown = owner.post("/conversations/new/", {"sender": SIM_NUMBER, "to": THIRD,
                                                 "body": "", "canned": "hours", "insert": "1"})
    assert f">Hi there, {SIM_NUMBER} here.</textarea>" in unknown.content.decode()
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_without_an_approved_sender_the_form_says_how_to_get_one(owner, alpha, agent):
    html = owner.get("/conversations/new/").content.decode()
    assert "No sender is approved yet" in html and 'href="/senders/"' in html
    assert '<button type="submit" id="send" disabled>Send</button>' in html
    client = host_client("alpha.localhost")
    login(client, agent.email)
    agent_page = client.get("/conversations/new/").content.decode()
    assert "Ask an admin of your team" in agent_page and 'href="/senders/"' not in agent_page


def test_an_agent_starts_a_conversation_too(alpha, sim_sender, agent):
    client = host_client("alpha.localhost")
    login(client, agent.email)
    response = client.post("/conversations/new/", {"sender": SIM_NUMBER, "to": THIRD,
                                                   "body": "Hi"})
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        assert Message.objects.get().author_id == agent.pk


def test_the_recipient_search_finds_contacts_by_name_and_number(owner, alpha, beta):
    from messaging.contacts import contact_create
    with schema_context(alpha.schema_name):
        contact_create(phone=OTHER, name="Ada Lovelace")
        contact_create(phone=THIRD, name="Alan Turing")
    with schema_context(beta.schema_name):
        contact_create(phone="+14155550166", name="Ada Beta")

    def found(q: str) -> list[str]:
        response = owner.get("/contacts/suggest", {"q": q})
        assert response.status_code == 200
        return [c["phone"] for c in response.json()["results"]]

    assert found("ada") == [OTHER]  # not beta's Ada
    assert found("lovel") == [OTHER]
    assert found("a") == [THIRD, OTHER]  # newest first
    assert found("0177") == [THIRD]  # the number's end
    assert found("(415) 555-0188") == [OTHER]
    assert found("+1 415 555 01") == [THIRD, OTHER]  # its start
    assert found("") == [] and found("&|!") == []


# --- Labels, the title -------------------------------------------------------------------


def test_conversations_show_their_contacts_tags_as_labels_and_filter_by_them(owner, alpha,
                                                                            sim_sender):
    customer_texts(alpha, "First", from_=CUSTOMER)
    customer_texts(alpha, "Second", from_=OTHER)
    with schema_context(alpha.schema_name):
        contact_update(contact=conversation_of(alpha).contact, tags=["vip", "wholesale"])
        contact_update(contact=conversation_of(alpha, OTHER).contact, tags=["retail"])
    html = owner.get("/").content.decode()
    assert '<span class="label"><span class="visually-hidden">Label </span>vip</span>' in html
    # The list offers the labels of the conversations it shows.
    assert re.findall(r'<a class="label" href="([^"]+)">(\w+)</a>', html) == [
        ("/?label=retail", "retail"), ("/?label=vip", "vip"), ("/?label=wholesale", "wholesale")]
    filtered = owner.get("/", {"label": "vip"})
    assert listed(filtered) == [CUSTOMER]
    assert "Show every label" in filtered.content.decode()
    assert listed(owner.get("/", {"label": "vip", "folder": "resolved"})) == []
    # The thread names its labels; its actions keep the filter.
    conversation = conversation_of(alpha)
    thread = owner.get("/", {"c": conversation.pk, "label": "vip"}).content.decode()
    assert '<ul class="labels thread-labels" aria-label="Labels">' in thread
    assert '<input type="hidden" name="label" value="vip">' in thread
    back = owner.post(f"/conversations/{conversation.pk}/resolve", {"label": "vip"})
    assert back["Location"] == f"/?label=vip&c={conversation.pk}"


def test_the_title_counts_the_open_conversations_with_unread_messages(owner, alpha,
                                                                     sim_sender):
    assert "<title>Inbox · Alpha</title>" in owner.get("/").content.decode()
    customer_texts(alpha, "One", from_=CUSTOMER)
    customer_texts(alpha, "Two", from_=CUSTOMER)
    customer_texts(alpha, "Three", from_=OTHER)
    html = owner.get("/").content.decode()
    assert "<title>(2) Inbox · Alpha</title>" in html
    assert 'data-unread="2" data-unread-messages="3"' in html
    opened = owner.get("/", {"c": conversation_of(alpha).pk}).content.decode()
    assert f"<title>(1) {CUSTOMER} · Inbox · Alpha</title>" in opened
