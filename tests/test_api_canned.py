"""The canned responses API: create, list, read, update and delete through
``messaging.canned`` (the page's service) with its codes, the scopes (``messages:read`` to
read, ``settings`` to write) and tenant isolation."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.models import CannedResponse
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import Api, key_for

THANKS = 'Thanks {{ contact.name | default: "there" }}, {{ sender }} will call you back.'


def create(api: Api, shortcode: str = "thanks", body: str = THANKS) -> dict:
    response = api.post("canned-responses", {"shortcode": shortcode, "body": body})
    assert response.status_code == 201, response.json()
    return response.json()


def stored(tenant) -> list[tuple[str, str]]:
    with schema_context(tenant.schema_name):
        return sorted(CannedResponse.objects.values_list("shortcode", "body"))


def test_a_canned_response_is_created_as_the_composer_matches_it(api, alpha):
    body = create(api, shortcode=" /Thanks ", body=f"  {THANKS}\n")
    assert {k: body[k] for k in ("shortcode", "body")} == {"shortcode": "thanks",
                                                            "body": THANKS}
    assert body["id"] and body["created_at"] and body["updated_at"]
    assert api.get(f"canned-responses/{body['id']}").json() == body
    assert stored(alpha) == [("thanks", THANKS)]


def test_canned_responses_are_listed_newest_first_in_pages(api):
    ids = [create(api, shortcode=name, body=name.title())["id"]
           for name in ("hours", "address", "thanks")]
    listing = api.get("canned-responses").json()
    assert [c["id"] for c in listing["results"]] == ids[::-1] and listing["next"] is None
    page = api.get("canned-responses", limit=2).json()
    assert [c["shortcode"] for c in page["results"]] == ["thanks", "address"]
    rest = api.client.get(page["next"], **api.headers).json()
    assert [c["shortcode"] for c in rest["results"]] == ["hours"] and rest["next"] is None


def test_patch_changes_what_is_given_and_put_needs_both_fields(api, alpha):
    canned = create(api)
    path = f"canned-responses/{canned['id']}"
    patched = api.patch(path, {"body": "  Back soon.  "})
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["shortcode"], patched.json()["body"]) == ("thanks", "Back soon.")
    renamed = api.patch(path, {"shortcode": "/TY"})
    assert (renamed.json()["shortcode"], renamed.json()["body"]) == ("ty", "Back soon.")
    replaced = api.put(path, {"shortcode": "ty", "body": "Ta!"})
    assert replaced.status_code == 200
    assert (replaced.json()["shortcode"], replaced.json()["body"]) == ("ty", "Ta!")
    incomplete = api.put(path, {"body": "No shortcode"})
    assert (incomplete.status_code, incomplete.json()["fields"]["shortcode"][0]["code"]) == (
        400, "required")
    assert stored(alpha) == [("ty", "Ta!")]


def test_a_deleted_canned_response_is_gone(api, alpha):
    keep = create(api, shortcode="hours", body="9 to 5")
    canned = create(api)
    path = f"canned-responses/{canned['id']}"
    assert api.delete(path).status_code == 204
    assert (api.get(path).status_code, api.get(path).json()["code"]) == (404, "not_found")
    assert api.delete(path).status_code == 404
    assert [c["id"] for c in api.get("canned-responses").json()["results"]] == [keep["id"]]
    assert stored(alpha) == [("hours", "9 to 5")]


def test_a_shortcode_is_one_canned_response(api, alpha):
    create(api, shortcode="hours", body="9 to 5")
    address = create(api, shortcode="address", body="12 Long Street")
    again = api.post("canned-responses", {"shortcode": "/Hours", "body": "Always open"})
    assert again.status_code == 400
    assert again.json()["code"] == "shortcode_exists"
    assert again.json()["fields"]["shortcode"][0] == {
        "code": "shortcode_exists", "detail": "/hours is already a canned response."}
    renamed = api.patch(f"canned-responses/{address['id']}", {"shortcode": "hours"})
    assert (renamed.status_code, renamed.json()["code"]) == (400, "shortcode_exists")
    assert stored(alpha) == [("address", "12 Long Street"), ("hours", "9 to 5")]


@pytest.mark.parametrize(("payload", "code", "field"), [
    ({"shortcode": "thank you"}, "invalid_shortcode", "shortcode"),
    ({"shortcode": "merci-é"}, "invalid_shortcode", "shortcode"),
    ({"shortcode": "a.b"}, "invalid_shortcode", "shortcode"),
    ({"shortcode": "/"}, "invalid_shortcode", "shortcode"),
    ({"shortcode": ""}, "invalid_shortcode", "shortcode"),
    ({"shortcode": "x" * 31}, "invalid_shortcode", "shortcode"),
    ({"shortcode": None}, "null", "shortcode"),
    ({"shortcode": ["hi"]}, "invalid", "shortcode"),
    ({"body": ""}, "empty_body", "body"),
    ({"body": " \n "}, "empty_body", "body"),
    ({"body": "ж" * 671}, "body_too_long", "body"),
    ({"body": "x" * 1531}, "body_too_long", "body"),
    ({"body": "Hi {{ contact.secret }}"}, "invalid_template", "body"),
])
def test_invalid_canned_responses_are_refused_with_the_pages_codes(api, alpha, payload, code,
                                                                   field):
    response = api.post("canned-responses", {"shortcode": "hi", "body": "Hello", **payload})
    assert response.status_code == 400
    body = response.json()
    assert body["fields"][field][0]["code"] == code, body
    assert body["code"] in (code, "validation_error") and body["detail"]
    assert stored(alpha) == []


def test_another_tenants_canned_responses_are_not_found(api, alpha, beta):
    canned = create(api)
    stranger = Api(beta, key_for(beta))
    path = f"canned-responses/{canned['id']}"
    assert stranger.get("canned-responses").json()["results"] == []
    for response in (stranger.get(path), stranger.patch(path, {"body": "x"}),
                     stranger.put(path, {"shortcode": "x", "body": "x"}),
                     stranger.delete(path)):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert stored(alpha) == [("thanks", THANKS)]
    # Shortcodes are unique per tenant: beta may have its own /thanks.
    assert create(stranger, body="Cheers")["shortcode"] == "thanks"
    assert stored(alpha) == [("thanks", THANKS)]


def test_reading_needs_messages_read_and_writing_needs_settings(alpha):
    canned = create(Api(alpha, key_for(alpha)))
    path = f"canned-responses/{canned['id']}"

    def writes(api: Api) -> list:
        return [api.post("canned-responses", {"shortcode": "new", "body": "x"}),
                api.patch(path, {"body": "x"}), api.put(path, {"shortcode": "x", "body": "x"}),
                api.delete(path)]

    sender_only = Api(alpha, key_for(alpha, scopes=["messages:send"]))
    for response in [sender_only.get("canned-responses"), sender_only.get(path),
                     *writes(sender_only)]:
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    reader = Api(alpha, key_for(alpha, scopes=["messages:read"]))
    assert reader.get("canned-responses").status_code == 200
    assert reader.get(path).json() == canned
    for response in writes(reader):
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert stored(alpha) == [("thanks", THANKS)]
    admin = Api(alpha, key_for(alpha, scopes=["settings"]))
    assert admin.patch(path, {"body": "Ta!"}).status_code == 200


def test_a_signed_in_agent_reads_them_but_only_owners_and_admins_write(alpha):
    """As on the pages: every role uses canned responses, owners and admins write them."""
    canned = create(Api(alpha, key_for(alpha)))
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    assert agent.get("/api/v1/canned-responses").json()["results"] == [canned]
    refused = agent.post("/api/v1/canned-responses", {"shortcode": "mine", "body": "x"},
                         content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert agent.delete(f"/api/v1/canned-responses/{canned['id']}").status_code == 403
    assert stored(alpha) == [("thanks", THANKS)]
