"""The conversations API: filters, activity-ordered pages that hold still while messages
arrive, replies through the normal send path, assignment, status, notes, and isolation."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.models import Conversation, ConversationNote, Message, Sender
from messaging.outbound import message_deliver
from messaging.selectors import simulator_thread
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    SIM_NUMBER_2,
    Api,
    approved_sender,
    customer_texts,
    key_for,
)


def customer(n: int) -> str:
    return f"+1415555{2000 + n:04d}"


def conversation_of(tenant, phone: str = CUSTOMER, sender: str = SIM_NUMBER) -> Conversation:
    with schema_context(tenant.schema_name):
        return Conversation.objects.get(contact__phone=phone, sender__address=sender)


def all_pages(api: Api, path: str, **params) -> list[list[dict]]:
    pages = [api.get(path, **params).json()]
    while pages[-1]["next"]:
        pages.append(api.client.get(pages[-1]["next"], **api.headers).json())
    return [page["results"] for page in pages]


@pytest.fixture
def teammate(alpha) -> User:
    with schema_context(alpha.schema_name):
        return User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)


def test_a_conversation_shows_its_contact_sender_and_state(api, alpha, sim_sender):
    customer_texts(alpha, "Hello")
    [listed] = api.get("conversations").json()["results"]
    assert {k: listed[k] for k in ("sender", "status", "assignee", "unread_count",
                                   "opted_out")} == {
        "sender": SIM_NUMBER, "status": "open", "assignee": None, "unread_count": 1,
        "opted_out": False}
    assert listed["contact"]["phone"] == CUSTOMER
    assert api.get(f"conversations/{listed['id']}").json() == listed
    assert api.get("conversations/999999").json()["code"] == "not_found"


def test_conversation_filters(api, alpha, sim_sender, teammate):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    for n in range(3):
        customer_texts(alpha, "hi", from_=customer(n))
    customer_texts(alpha, "hi", from_=customer(0), to=SIM_NUMBER_2)
    first, second = conversation_of(alpha, customer(0)), conversation_of(alpha, customer(1))
    api.post(f"conversations/{first.pk}/assign", {"assignee": "agent@alpha.example"})
    api.post(f"conversations/{second.pk}/resolve", {})

    def ids(**params) -> list[int]:
        response = api.get("conversations", **params)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert ids(status="resolved") == [second.pk]
    assert second.pk not in ids(status="open") and len(ids(status="open")) == 3
    assert ids(assignee="Agent@alpha.example") == [first.pk]
    assert first.pk not in ids(assignee="none") and len(ids(assignee="none")) == 3
    assert ids(assignee="nobody@alpha.example") == []
    assert set(ids(contact="+1 415 555 2000")) == {
        first.pk, conversation_of(alpha, customer(0), SIM_NUMBER_2).pk}
    assert ids(sender=SIM_NUMBER_2) == [conversation_of(alpha, customer(0), SIM_NUMBER_2).pk]
    assert ids(status="open", sender=SIM_NUMBER, assignee="none") == [
        conversation_of(alpha, customer(2)).pk]
    bad = api.get("conversations", status="archived")
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")
    assert "status" in bad.json()["fields"]
    # "me" is a signed-in teammate; a key is nobody.
    me = api.get("conversations", assignee="me")
    assert (me.status_code, me.json()["fields"]["assignee"][0]["code"]) == (400, "unknown_user")
    session = host_client("alpha.localhost")
    login(session, "agent@alpha.example")
    mine = session.get("/api/v1/conversations", {"assignee": "me"}).json()["results"]
    assert [c["id"] for c in mine] == [first.pk]


def test_most_recent_activity_first_and_newest_first(api, alpha, sim_sender):
    for n in range(3):
        customer_texts(alpha, "hi", from_=customer(n))
    customer_texts(alpha, "again", from_=customer(0))
    by_activity = [c["contact"]["phone"] for c in api.get("conversations").json()["results"]]
    assert by_activity == [customer(0), customer(2), customer(1)]
    by_id = [c["contact"]["phone"]
             for c in api.get("conversations", ordering="-id").json()["results"]]
    assert by_id == [customer(2), customer(1), customer(0)]
    bad = api.get("conversations", ordering="status")
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


@pytest.mark.parametrize("ordering", ["-last_activity_at", "-id"])
def test_pages_hold_still_while_messages_arrive(api, alpha, sim_sender, ordering):
    for n in range(7):
        customer_texts(alpha, "hi", from_=customer(n))
    before = [c["id"] for c in api.get("conversations", ordering=ordering).json()["results"]]
    first = api.get("conversations", ordering=ordering, limit=2).json()
    seen = [c["id"] for c in first["results"]]
    # Between pages: a conversation already read moves to the top, one not read yet moves
    # to the top, a new one starts, and a reply goes out in another.
    customer_texts(alpha, "more", from_=customer(6))
    customer_texts(alpha, "more", from_=customer(1))
    customer_texts(alpha, "new here", from_=customer(9))
    reply_to = conversation_of(alpha, customer(3)).pk
    assert api.post(f"conversations/{reply_to}/messages", {"body": "ok"}).status_code == 202
    page = first
    while page["next"]:
        page = api.client.get(page["next"], **api.headers).json()
        seen += [c["id"] for c in page["results"]]
    assert seen == before  # each exactly once, in the order of the first page's moment
    top = [c["contact"]["phone"] for c in
           api.get("conversations", ordering=ordering, limit=3).json()["results"]]
    if ordering == "-id":
        assert top[0] == customer(9)
    else:
        assert top == [customer(3), customer(9), customer(1)]


def test_a_bad_cursor_is_refused(api, alpha, sim_sender):
    response = api.get("conversations", cursor="not-a-cursor")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_reply_goes_from_the_conversations_sender_and_is_delivered(api, alpha, sim_sender):
    customer_texts(alpha, "Is my order ready?")
    conversation = conversation_of(alpha)
    response = api.post(f"conversations/{conversation.pk}/messages", {"body": "Yes, at 5."})
    assert response.status_code == 202
    reply = response.json()
    assert {k: reply[k] for k in ("direction", "from", "to", "body", "status",
                                  "conversation")} == {
        "direction": "outbound", "from": SIM_NUMBER, "to": CUSTOMER, "body": "Yes, at 5.",
        "status": "queued", "conversation": conversation.pk}
    with schema_context(alpha.schema_name):
        assert Message.objects.get(pk=reply["id"]).origin == "api"
        assert message_deliver(message_id=reply["id"]) is None  # as the send task runs it
        thread = simulator_thread(sender=Sender.objects.get(address=SIM_NUMBER), phone=CUSTOMER)
    assert [(m.direction, m.body, m.status) for m in thread] == [
        ("inbound", "Is my order ready?", "processed"), ("outbound", "Yes, at 5.", "delivered")]
    listed = api.get(f"conversations/{conversation.pk}/messages").json()
    assert [(m["body"], m["status"]) for m in listed["results"]] == [
        ("Yes, at 5.", "delivered"), ("Is my order ready?", "processed")]
    assert listed["next"] is None


def test_a_signed_in_teammates_reply_is_theirs(alpha, sim_sender, teammate):
    customer_texts(alpha, "hi")
    session = host_client("alpha.localhost")
    login(session, "agent@alpha.example")
    response = session.post(f"/api/v1/conversations/{conversation_of(alpha).pk}/messages",
                            {"body": "Hello from Ann"}, content_type="application/json")
    assert response.status_code == 202
    with schema_context(alpha.schema_name):
        message = Message.objects.get(pk=response.json()["id"])
    assert (message.origin, message.author_id) == ("user", teammate.pk)


def test_conversation_messages_are_paged_newest_first(api, alpha, sim_sender):
    for n in range(3):
        customer_texts(alpha, f"m{n}")
    conversation = conversation_of(alpha)
    pages = all_pages(api, f"conversations/{conversation.pk}/messages", limit=2)
    assert [[m["body"] for m in page] for page in pages] == [["m2", "m1"], ["m0"]]


def test_no_reply_reaches_an_opted_out_contact(api, alpha, sim_sender):
    customer_texts(alpha, "STOP")
    conversation = conversation_of(alpha)
    assert api.get(f"conversations/{conversation.pk}").json()["opted_out"] is True
    with schema_context(alpha.schema_name):
        stored = Message.objects.count()
    response = api.post(f"conversations/{conversation.pk}/messages", {"body": "Sale!"})
    assert response.status_code == 400
    assert response.json()["code"] == "recipient_opted_out"
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == stored


@pytest.mark.parametrize(("body", "code"), [("  ", "empty_body"), ("😀" * 400, "body_too_long")])
def test_replies_are_validated_like_every_send(api, alpha, sim_sender, body, code):
    customer_texts(alpha, "hi")
    conversation = conversation_of(alpha)
    response = api.post(f"conversations/{conversation.pk}/messages", {"body": body})
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert response.json()["fields"]["body"][0]["code"] == code


def test_no_reply_from_a_suspended_sender(api, alpha, sim_sender):
    customer_texts(alpha, "hi")
    with schema_context(alpha.schema_name):
        Sender.objects.filter(address=SIM_NUMBER).update(status=Sender.Status.SUSPENDED)
    response = api.post(f"conversations/{conversation_of(alpha).pk}/messages", {"body": "x"})
    assert (response.status_code, response.json()["code"]) == (400, "sender_not_approved")


def test_assign_resolve_reopen_and_read(api, alpha, sim_sender, teammate):
    customer_texts(alpha, "one")
    customer_texts(alpha, "two")
    path = f"conversations/{conversation_of(alpha).pk}"
    assigned = api.post(f"{path}/assign", {"assignee": "AGENT@alpha.example"})
    assert (assigned.status_code, assigned.json()["assignee"]) == (200, "agent@alpha.example")
    unknown = api.post(f"{path}/assign", {"assignee": "stranger@example.com"})
    assert unknown.status_code == 400
    assert unknown.json()["fields"]["assignee"][0]["code"] == "unknown_user"
    with schema_context(alpha.schema_name):
        User.objects.filter(pk=teammate.pk).update(is_active=False)
    inactive = api.post(f"{path}/assign", {"assignee": "agent@alpha.example"})
    assert inactive.json()["fields"]["assignee"][0]["code"] == "unknown_user"
    missing = api.post(f"{path}/assign", {})
    assert missing.json()["fields"]["assignee"][0]["code"] == "required"
    assert api.post(f"{path}/assign", {"assignee": None}).json()["assignee"] is None

    assert api.post(f"{path}/resolve", {}).json()["status"] == "resolved"
    assert api.post(f"{path}/resolve", {}).json()["status"] == "resolved"  # idempotent
    assert api.post(f"{path}/reopen", {}).json()["status"] == "open"
    api.post(f"{path}/resolve", {})
    customer_texts(alpha, "three")  # the contact writing again reopens it
    assert api.get(path).json()["status"] == "open"
    assert api.get(path).json()["unread_count"] == 3
    assert api.post(f"{path}/read", {}).json()["unread_count"] == 0


def test_notes_are_private_and_never_sent(api, alpha, sim_sender, teammate):
    customer_texts(alpha, "hi")
    conversation = conversation_of(alpha)
    path = f"conversations/{conversation.pk}/notes"
    with schema_context(alpha.schema_name):
        messages_before = Message.objects.count()
    created = api.post(path, {"body": "VIP, answer before noon"})
    assert created.status_code == 201
    assert created.json()["author"].startswith("api key ")
    session = host_client("alpha.localhost")
    login(session, "agent@alpha.example")
    session.post(f"/api/v1/{path}", {"body": "Called them"}, content_type="application/json")
    notes = api.get(path).json()["results"]
    assert [(n["body"], n["author"]) for n in notes] == [
        ("Called them", "agent@alpha.example"), ("VIP, answer before noon",
                                                 created.json()["author"])]
    empty = api.post(path, {"body": "   "})
    assert (empty.status_code, empty.json()["code"]) == (400, "empty_body")
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == messages_before
        assert ConversationNote.objects.count() == 2
        assert Conversation.objects.get(pk=conversation.pk).last_activity_at == (
            conversation.last_activity_at)
    assert all(m["direction"] == "inbound" for m in
               api.get(f"conversations/{conversation.pk}/messages").json()["results"])


def test_another_tenants_conversations_are_not_found(alpha, beta, sim_sender):
    customer_texts(alpha, "hi")
    conversation = conversation_of(alpha)
    stranger = Api(beta, key_for(beta))
    path = f"conversations/{conversation.pk}"
    assert stranger.get("conversations").json()["results"] == []
    for response in (stranger.get(path), stranger.get(f"{path}/messages"),
                     stranger.get(f"{path}/notes"),
                     stranger.post(f"{path}/messages", {"body": "x"}),
                     stranger.post(f"{path}/assign", {"assignee": None}),
                     stranger.post(f"{path}/resolve", {}), stranger.post(f"{path}/reopen", {}),
                     stranger.post(f"{path}/read", {}),
                     stranger.post(f"{path}/notes", {"body": "x"})):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == 1
        assert not ConversationNote.objects.exists()


def test_reading_and_acting_need_their_scopes(alpha, sim_sender):
    customer_texts(alpha, "hi")
    path = f"conversations/{conversation_of(alpha).pk}"
    reader = Api(alpha, key_for(alpha, scopes=["messages:read"]))
    assert reader.get("conversations").status_code == 200
    assert reader.get(f"{path}/notes").status_code == 200
    for response in (reader.post(f"{path}/messages", {"body": "x"}),
                     reader.post(f"{path}/resolve", {}),
                     reader.post(f"{path}/notes", {"body": "x"}),
                     reader.post(f"{path}/assign", {"assignee": None})):
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    sender_only = Api(alpha, key_for(alpha, scopes=["messages:send"]))
    assert sender_only.get("conversations").status_code == 403
    assert sender_only.post(f"{path}/resolve", {}).status_code == 200


def test_message_list_filters_and_ordering(api, alpha, sim_sender):
    customer_texts(alpha, "first")
    conversation = conversation_of(alpha)
    api.post(f"conversations/{conversation.pk}/messages", {"body": "second"})
    api.post("messages", {"from": SIM_NUMBER, "to": customer(5), "body": "elsewhere"})
    with schema_context(alpha.schema_name):
        middle = Message.objects.get(body="second").created_at

    def bodies(**params) -> list[str]:
        response = api.get("messages", **params)
        assert response.status_code == 200, response.json()
        return [m["body"] for m in response.json()["results"]]

    assert bodies(conversation=conversation.pk) == ["second", "first"]
    assert bodies(conversation=conversation.pk, ordering="id") == ["first", "second"]
    assert bodies(since=middle.isoformat()) == ["elsewhere", "second"]
    assert bodies(until=middle.isoformat()) == ["first"]
    assert bodies(contact=CUSTOMER, direction="outbound") == ["second"]
    assert bodies(status="processed") == ["first"]
    pages = all_pages(api, "messages", ordering="id", limit=2)
    assert [[m["body"] for m in page] for page in pages] == [["first", "second"], ["elsewhere"]]
