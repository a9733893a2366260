"""The API keys page of owners and admins: a key is created with its scopes and shown once,
works against the API, and stops working the moment it is revoked; agents are refused."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiKey, Role, User
from tests.conftest import PASSWORD, csrf_checked_client, host_client, login
from tests.support.messaging import Api, key_for


@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def created_key(response) -> str:
    [key] = set(re.findall(r"sk_[0-9a-f]{8}_[\w-]{20,}", response.content.decode()))
    return key


def create(client, fields: dict):
    """Create a key as the form does; the answer is the GET it redirects to."""
    response = client.post("/settings/api-keys/", fields)
    assert (response.status_code, response["Location"]) == (302, "/settings/api-keys/created/")
    return client.get(response["Location"])


def test_an_admin_creates_a_key_that_is_shown_once_and_works(alpha, owner):
    page = owner.get("/settings/api-keys/")
    assert page.status_code == 200 and b"No keys yet." in page.content
    assert b'href="/settings/api-keys/"' in page.content  # the nav link
    response = create(owner, {"name": "CRM sync", "scopes": ["messages:read", "contacts"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = created_key(response)
    # A reload shows the key no more, and creates none.
    reloaded = owner.get("/settings/api-keys/created/", follow=True)
    assert reloaded.redirect_chain == [("/settings/api-keys/", 302)]
    assert key not in reloaded.content.decode()
    assert b"shown only once" in reloaded.content
    assert owner.head("/settings/api-keys/created/").status_code == 405
    with schema_context(alpha.schema_name):
        stored = ApiKey.objects.get()
    assert (stored.name, stored.scopes) == ("CRM sync", ["messages:read", "contacts"])
    assert stored.created_by.email == "owner@alpha.example"
    api = Api(alpha, key)
    assert api.get("contacts").status_code == 200
    assert api.post("messages", {"from": "x", "to": "y", "body": "z"}).status_code == 403
    listing = owner.get("/settings/api-keys/").content.decode()
    assert key not in listing  # never again
    assert f"sk_{stored.prefix}_" in listing and "CRM sync" in listing
    assert "messages:read, contacts" in listing and "owner@alpha.example" in listing


def test_no_scope_ticked_means_every_scope(alpha, owner):
    key = created_key(create(owner, {"name": "Everything"}))
    with schema_context(alpha.schema_name):
        assert ApiKey.objects.get().scopes == list(ApiKey.SCOPES)
    assert Api(alpha, key).get("keyword-rules").status_code == 200


def test_bad_input_is_shown_and_creates_nothing(alpha, owner):
    for fields in ({"name": "  "}, {"name": "x" * 101}, {"name": "ok", "scopes": ["root"]}):
        response = owner.post("/settings/api-keys/", fields)
        assert response.status_code == 400
        assert b'class="error"' in response.content
    with schema_context(alpha.schema_name):
        assert not ApiKey.objects.exists()


def test_a_revoked_key_is_refused_at_once(alpha, owner):
    key = created_key(create(owner, {"name": "Leaked"}))
    api = Api(alpha, key)
    assert api.get("messages").status_code == 200
    with schema_context(alpha.schema_name):
        stored = ApiKey.objects.get()
    asked = owner.get(f"/settings/api-keys/{stored.pk}/revoke/")
    assert asked.status_code == 200 and b"Revoke key" in asked.content
    assert owner.post(f"/settings/api-keys/{stored.pk}/revoke/").status_code == 200
    assert api.get("messages").status_code == 200  # asked, not revoked
    revoked = owner.post(f"/settings/api-keys/{stored.pk}/revoke/", {"confirm": "yes"},
                         follow=True)
    assert b"is revoked" in revoked.content and b"Revoked" in revoked.content
    refused = api.get("messages")
    assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")
    with schema_context(alpha.schema_name):
        first = ApiKey.objects.get().revoked_at
    owner.post(f"/settings/api-keys/{stored.pk}/revoke/", {"confirm": "yes"})
    with schema_context(alpha.schema_name):
        assert ApiKey.objects.get().revoked_at == first


def test_revoking_needs_the_csrf_token(alpha):
    key = key_for(alpha)
    with schema_context(alpha.schema_name):
        stored = ApiKey.objects.get()
    browser = csrf_checked_client("alpha.localhost", "owner@alpha.example")
    assert browser.post(f"/settings/api-keys/{stored.pk}/revoke/",
                        {"confirm": "yes"}).status_code == 403
    assert Api(alpha, key).get("messages").status_code == 200
    page = browser.get(f"/settings/api-keys/{stored.pk}/revoke/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    browser.post(f"/settings/api-keys/{stored.pk}/revoke/",
                 {"csrfmiddlewaretoken": token, "confirm": "yes"})
    assert Api(alpha, key).get("messages").status_code == 401


def test_another_tenants_key_cannot_be_revoked_here(alpha, beta, owner):
    key = key_for(beta)
    with schema_context(beta.schema_name):
        stored = ApiKey.objects.get()
    with schema_context(alpha.schema_name):
        assert not ApiKey.objects.filter(pk=stored.pk).exists()
    assert owner.post(f"/settings/api-keys/{stored.pk}/revoke/",
                      {"confirm": "yes"}).status_code == 404
    assert Api(beta, key).get("messages").status_code == 200


def test_agents_are_refused(alpha):
    key = key_for(alpha)
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
        stored = ApiKey.objects.get()
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    assert agent.get("/settings/api-keys/").status_code == 403
    assert agent.post("/settings/api-keys/", {"name": "mine"}).status_code == 403
    assert agent.post(f"/settings/api-keys/{stored.pk}/revoke/",
                      {"confirm": "yes"}).status_code == 403
    assert b"/settings/api-keys/" not in agent.get("/").content
    assert Api(alpha, key).get("messages").status_code == 200
    with schema_context(alpha.schema_name):
        assert ApiKey.objects.count() == 1
    anonymous = host_client("alpha.localhost").get("/settings/api-keys/")
    assert anonymous.status_code == 302
