"""The minimal messaging API: keys, senders, sends (single and bulk), reads, the simulator."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from messaging.models import Message, Sender
from messaging.senders import sender_review
from tests.conftest import host_client
from tests.support.factories import SenderFactory
from tests.support.messaging import CUSTOMER, SIM_NUMBER, Api, key_for


def test_a_registered_sender_is_pending_until_the_operator_approves_it(api, alpha):
    created = api.post("senders", {"address": "+1 415 555 0124", "kind": "long_code",
                                   "connection": "simulator"})
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("address", "kind", "connection", "status")} == {
        "address": "+14155550124", "kind": "long_code", "connection": "simulator",
        "status": "pending"}
    refused = api.post("messages", {"from": "+14155550124", "to": CUSTOMER, "body": "hi"})
    assert (refused.status_code, refused.json()["code"]) == (400, "sender_not_approved")
    sender_review(tenant=alpha, address="+14155550124", decision="approve")
    sent = api.post("messages", {"from": "+14155550124", "to": CUSTOMER, "body": "hi"})
    assert sent.status_code == 202
    assert api.post("senders", {"address": "+14155550124", "kind": "long_code",
                                "connection": "simulator"}).json()["code"] == "sender_exists"
    bad = api.post("senders", {"address": "12", "kind": "short_code", "connection": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_address")
    assert api.get("senders").json()["results"][0]["address"] == "+14155550124"


def test_an_address_is_approved_for_one_tenant_only(alpha, beta, sim_sender):
    with schema_context(beta.schema_name):
        SenderFactory(address=SIM_NUMBER, status=Sender.Status.PENDING)
    with pytest.raises(Exception) as refused:
        sender_review(tenant=beta, address=SIM_NUMBER, decision="approve")
    assert getattr(refused.value, "code", None) == "address_taken"
    with schema_context(beta.schema_name):
        assert Sender.objects.get(address=SIM_NUMBER).status == "pending"


def test_post_message_answers_202_with_the_message(api, sim_sender):
    response = api.post("messages", {"from": SIM_NUMBER, "to": "+44 20 7946 0958",
                                     "body": "Ready at 5 €"})
    assert response.status_code == 202
    body = response.json()
    assert {k: body[k] for k in ("direction", "from", "to", "body", "status", "encoding",
                                 "segments")} == {
        "direction": "outbound", "from": SIM_NUMBER, "to": "+442079460958",
        "body": "Ready at 5 €", "status": "queued", "encoding": "GSM-7", "segments": 1}
    assert isinstance(body["conversation"], int)
    assert api.get(f"messages/{body['id']}").json()["id"] == body["id"]


@pytest.mark.parametrize(("payload", "code", "field"), [
    ({"to": "12345", "body": "x"}, "invalid_phone_number", "to"),
    ({"to": CUSTOMER, "body": "   "}, "empty_body", "body"),
    ({"to": CUSTOMER, "body": "😀" * 400}, "body_too_long", "body"),
    ({"to": CUSTOMER, "body": "x", "from": "+14155550999"}, "unknown_sender", "from"),
])
def test_bad_sends_get_a_stable_code_and_store_nothing(api, alpha, sim_sender, payload, code,
                                                       field):
    response = api.post("messages", {"from": SIM_NUMBER, **payload})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["fields"][field][0]["code"] == code
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_bulk_answers_one_result_per_item(api, alpha, sim_sender):
    items = [{"from": SIM_NUMBER, "to": f"+1415555{i:04d}", "body": f"n{i}"} for i in range(5)]
    items.insert(2, {"from": SIM_NUMBER, "to": "nope", "body": "x"})
    response = api.post("messages/bulk", {"messages": items})
    assert response.status_code == 202
    results = response.json()["results"]
    assert len(results) == 6
    assert results[2]["error"]["code"] == "invalid_phone_number"
    assert [r["message"]["body"] for i, r in enumerate(results) if i != 2] == [
        "n0", "n1", "n2", "n3", "n4"]
    too_many = api.post("messages/bulk", {"messages": [items[0]] * 1001})
    assert (too_many.status_code, too_many.json()["code"]) == (400, "validation_error")


def test_the_message_resource_is_what_drfs_field_walk_makes(api, alpha, sim_sender):
    """MessageSerializer writes its fields out for speed; the walk over its declared
    fields is the reference, key order included."""
    from rest_framework import serializers

    from messaging.api.serializers import MessageSerializer

    api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Hi"})
    with schema_context(alpha.schema_name):
        Message.objects.create(direction="inbound", sender=Sender.objects.get(), body="Yo",
                               from_address=CUSTOMER, to_address=SIM_NUMBER, status="received",
                               encoding="GSM-7", segments=1, connection="simulator",
                               origin="customer", error_message="ünïcode")
        for message in Message.objects.all():
            serializer = MessageSerializer()
            walked = serializers.ModelSerializer.to_representation(serializer, message)
            walked = {"id": walked.pop("id"), "direction": walked.pop("direction"),
                      "from": walked.pop("from"), **walked}
            written = serializer.to_representation(message)
            assert list(written.items()) == list(walked.items())


def test_message_list_filters_and_paginates_newest_first(api, alpha, sim_sender):
    for i in range(3):
        api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": f"m{i}"})
    api.post("simulator/inbound", {"from": CUSTOMER, "to": SIM_NUMBER, "body": "in"})
    page = api.get("messages", limit=2, direction="outbound").json()
    assert [m["body"] for m in page["results"]] == ["m2", "m1"]
    rest = api.client.get(page["next"], **api.headers).json()
    assert [m["body"] for m in rest["results"]] == ["m0"] and rest["next"] is None
    assert [m["body"] for m in api.get("messages", contact=CUSTOMER,
                                       direction="inbound").json()["results"]] == ["in"]
    bad = api.get("messages", status="lost")
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


def test_keys_are_required_scoped_and_revocable(alpha, beta, sim_sender):
    anonymous = host_client("alpha.localhost").get("/api/v1/messages")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    reader = Api(alpha, key_for(alpha, scopes=["messages:read"]))
    assert reader.get("messages").status_code == 200
    refused = reader.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "x"})
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    # A key of beta means nothing on alpha's host.
    stranger = Api(alpha, key_for(beta))
    assert stranger.get("messages").status_code == 401
    with schema_context(alpha.schema_name):
        key = key_for(alpha)
        api_key_revoke(api_key=ApiKey.objects.get(prefix=key.split("_")[1]))
    assert Api(alpha, key).get("messages").status_code == 401


def test_keys_are_stored_as_hmacs_never_in_clear(alpha):
    key = key_for(alpha)
    with schema_context(alpha.schema_name):
        stored = ApiKey.objects.get(prefix=key.split("_")[1])
    assert key not in json.dumps([stored.prefix, stored.digest, stored.name])
    assert len(stored.digest) == 64


def test_simulator_inbound_is_received_on_the_tenants_simulator_sender(api, alpha, sim_sender):
    response = api.post("simulator/inbound", {"from": CUSTOMER, "to": SIM_NUMBER, "body": "hi"})
    assert response.status_code == 202
    assert response.json()["direction"] == "inbound"
    assert response.json()["status"] == "received"
    wrong = api.post("simulator/inbound", {"from": CUSTOMER, "to": "+14155550999", "body": "x"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "unknown_sender")


@pytest.mark.parametrize("sender", ["not a number", "+1", "12345", "ACME", "+1415555019"
                                    "9<script>"])
def test_simulator_inbound_from_must_be_a_phone_number(api, alpha, sim_sender, sender):
    response = api.post("simulator/inbound", {"from": sender, "to": SIM_NUMBER, "body": "hi"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_phone_number")
    assert list(response.json()["fields"]) == ["from"]
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_create_api_key_prints_the_key_last_and_it_works(alpha, capsys):
    call_command("create_api_key", "alpha", "--name", "CI", "--scope", "messages:read")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("sk_")
    assert Api(alpha, key).get("messages").status_code == 200
