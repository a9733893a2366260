"""The contacts API: create, read, update and delete with validation in the error format,
filters and pages, opt-out state, the ``contacts`` scope and tenant isolation."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from messaging.models import Contact, Conversation, Message
from optout.actions import optout_settings_update
from optout.models import ConsentEvent, OptOut
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER_2,
    Api,
    approved_sender,
    customer_texts,
    key_for,
)


def create(api: Api, **fields) -> dict:
    response = api.post("contacts", {"phone": "+1 (415) 555-0142", **fields})
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_contact_is_created_with_its_number_in_e164(api, alpha):
    body = create(api, name="  Ada Lovelace ", fields={"plan": "gold", "visits": 3,
                                                       "vip": True, "balance": 12.5},
                  tags=["vip", " vip", "london", "vip"])
    assert {k: body[k] for k in ("phone", "name", "fields", "tags", "opted_out",
                                 "opted_out_senders")} == {
        "phone": "+14155550142", "name": "Ada Lovelace",
        "fields": {"plan": "gold", "visits": 3, "vip": True, "balance": 12.5},
        "tags": ["vip", "london"], "opted_out": False, "opted_out_senders": []}
    assert api.get(f"contacts/{body['id']}").json() == body
    minimal = api.post("contacts", {"phone": "+442079460958"})
    assert minimal.status_code == 201
    assert (minimal.json()["name"], minimal.json()["fields"], minimal.json()["tags"]) == (
        "", {}, [])
    missing = api.post("contacts", {"name": "No number"})
    assert missing.json()["fields"]["phone"][0]["code"] == "required"


def test_a_number_is_one_contact(api, alpha, sim_sender):
    first = create(api)
    again = api.post("contacts", {"phone": "+14155550142", "name": "Other"})
    assert again.status_code == 400
    assert again.json()["code"] == "contact_exists"
    assert again.json()["fields"]["phone"][0]["code"] == "contact_exists"
    assert str(first["id"]) in again.json()["detail"]
    customer_texts(alpha, "hi")  # a message creates its contact on its own
    texted = api.post("contacts", {"phone": CUSTOMER})
    assert texted.json()["code"] == "contact_exists"


@pytest.mark.parametrize(("payload", "code", "field"), [
    ({"phone": "12345"}, "invalid_phone_number", "phone"),
    ({"phone": "call me"}, "invalid_phone_number", "phone"),
    ({"phone": None}, "null", "phone"),
    ({"fields": {"bad key!": "x"}}, "invalid_fields", "fields"),
    ({"fields": {"k" * 65: "x"}}, "invalid_fields", "fields"),
    ({"fields": {f"f{i}": i for i in range(51)}}, "invalid_fields", "fields"),
    ({"fields": {"address": {"city": "Paris"}}}, "invalid_fields", "fields.address"),
    ({"fields": {"kids": [1, 2]}}, "invalid_fields", "fields.kids"),
    ({"fields": {"none": None}}, "invalid_fields", "fields.none"),
    ({"fields": {"bio": "x" * 501}}, "invalid_fields", "fields.bio"),
    ({"fields": ["plan"]}, "not_a_dict", "fields"),
    ({"tags": ["x" * 51]}, "invalid_tags", "tags"),
    ({"tags": ["  "]}, "invalid_tags", "tags"),
    ({"tags": [f"t{i}" for i in range(51)]}, "invalid_tags", "tags"),
    ({"tags": "vip"}, "not_a_list", "tags"),
    ({"name": "n" * 201}, "max_length", "name"),
])
def test_invalid_contacts_are_refused_field_by_field(api, alpha, payload, code, field):
    response = api.post("contacts", {"phone": "+14155550142", **payload})
    assert response.status_code == 400
    body = response.json()
    assert body["fields"][field][0]["code"] == code, body
    assert body["code"] in (code, "validation_error") and body["detail"]
    with schema_context(alpha.schema_name):
        assert not Contact.objects.exists()


def test_contacts_are_listed_newest_first_and_filtered(api, alpha):
    ada = create(api, name="Ada Lovelace", tags=["vip"])
    grace = api.post("contacts", {"phone": "+14155550177", "name": "Grace Hopper",
                                  "tags": ["vip", "navy"]}).json()
    alan = api.post("contacts", {"phone": "+442079460958", "name": "Alan"}).json()

    def ids(**params) -> list[int]:
        response = api.get("contacts", **params)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert ids() == [alan["id"], grace["id"], ada["id"]]
    assert ids(tag="vip") == [grace["id"], ada["id"]]
    assert ids(tag="navy") == [grace["id"]]
    assert ids(phone="+1 415 555 0177") == [grace["id"]]
    assert ids(q="hopper") == [grace["id"]]
    assert ids(q="415 555") == [grace["id"], ada["id"]]
    assert ids(q="20 7946") == [alan["id"]]
    assert ids(q="nobody") == []
    page = api.get("contacts", limit=2).json()
    assert [c["id"] for c in page["results"]] == [alan["id"], grace["id"]]
    rest = api.client.get(page["next"], **api.headers).json()
    assert [c["id"] for c in rest["results"]] == [ada["id"]] and rest["next"] is None


def test_patch_changes_what_is_given_and_put_replaces_everything(api, alpha):
    contact = create(api, name="Ada", fields={"plan": "gold"}, tags=["vip"])
    path = f"contacts/{contact['id']}"
    patched = api.patch(path, {"tags": ["vip", "churn-risk", "vip"]})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["fields"], patched.json()["tags"]) == (
        "Ada", {"plan": "gold"}, ["vip", "churn-risk"])
    replaced = api.put(path, {"phone": "+14155550142", "name": "Ada L."})
    assert replaced.status_code == 200
    assert (replaced.json()["name"], replaced.json()["fields"], replaced.json()["tags"]) == (
        "Ada L.", {}, [])
    assert api.put(path, {"name": "no phone"}).json()["fields"]["phone"][0]["code"] == (
        "required")
    moved = api.patch(path, {"phone": "+14155550143"})
    assert (moved.status_code, moved.json()["code"]) == (400, "phone_immutable")
    bad = api.patch(path, {"fields": {"x": {"y": 1}}})
    assert bad.json()["fields"]["fields.x"][0]["code"] == "invalid_fields"
    assert api.get(path).json()["name"] == "Ada L."


def test_deleting_a_contact_erases_its_threads_but_keeps_its_consent(api, alpha, sim_sender):
    customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        contact = Contact.objects.get(phone=CUSTOMER)
    assert api.delete(f"contacts/{contact.pk}").status_code == 204
    assert api.get(f"contacts/{contact.pk}").json()["code"] == "not_found"
    assert api.delete(f"contacts/{contact.pk}").status_code == 404
    with schema_context(alpha.schema_name):
        assert not Conversation.objects.exists()
        assert not Message.objects.filter(from_address=CUSTOMER).exists()
        assert OptOut.objects.filter(phone=CUSTOMER).exists()
        assert ConsentEvent.objects.filter(phone=CUSTOMER).exists()


def test_each_contact_shows_its_opt_out_state(api, alpha, sim_sender):
    approved_sender(alpha, SIM_NUMBER_2, "simulator")
    customer_texts(alpha, "STOP")
    with schema_context(alpha.schema_name):
        optout_settings_update(scope="sender")
    customer_texts(alpha, "STOP", from_="+14155550166", to=SIM_NUMBER_2)
    customer_texts(alpha, "hello", from_="+14155550167")
    states = {c["phone"]: (c["opted_out"], c["opted_out_senders"])
              for c in api.get("contacts").json()["results"]}
    assert states == {CUSTOMER: (True, []), "+14155550166": (False, [SIM_NUMBER_2]),
                      "+14155550167": (False, [])}


def test_contacts_need_the_contacts_scope(alpha):
    contact = create(Api(alpha, key_for(alpha)))
    limited = Api(alpha, key_for(alpha, scopes=["messages:send", "messages:read"]))
    for response in (limited.get("contacts"), limited.get(f"contacts/{contact['id']}"),
                     limited.post("contacts", {"phone": "+14155550143"}),
                     limited.patch(f"contacts/{contact['id']}", {"name": "x"}),
                     limited.delete(f"contacts/{contact['id']}")):
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Api(alpha, key_for(alpha, scopes=["contacts"])).get("contacts").status_code == 200


def test_another_tenants_contacts_are_not_found(alpha, beta):
    contact = create(Api(alpha, key_for(alpha)))
    stranger = Api(beta, key_for(beta))
    path = f"contacts/{contact['id']}"
    assert stranger.get("contacts").json()["results"] == []
    for response in (stranger.get(path), stranger.patch(path, {"name": "x"}),
                     stranger.put(path, {"phone": "+14155550142"}), stranger.delete(path)):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    with schema_context(alpha.schema_name):
        assert Contact.objects.get(pk=contact["id"]).name == ""
