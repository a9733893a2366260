"""The Twilio-compatible API's credentials on the API keys page: owners and admins see the
Account SID and auth token, rotate the token through a secondary one, and create and revoke
Twilio API keys, each shown once; agents see none of it."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from compat.public.models import TwilioAccount, TwilioApiKey
from compat.twilio.credentials import (
    twilio_account_ensure,
    twilio_api_key_create,
    twilio_authenticate,
)
from tests.conftest import PASSWORD, csrf_checked_client, host_client, login


@pytest.fixture
def owner(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_an_owner_sees_the_account_sid_and_auth_token(alpha, owner):
    page = owner.get("/settings/api-keys/").content.decode()
    account = TwilioAccount.objects.get(tenant=alpha)
    assert re.fullmatch(r"AC[0-9a-f]{32}", account.sid)
    assert re.fullmatch(r"[0-9a-f]{32}", account.auth_token)
    assert account.sid in page and account.auth_token in page
    assert "No Twilio API keys yet." in page
    assert owner.get("/settings/api-keys/").content.decode().count(account.sid) == 1
    assert TwilioAccount.objects.filter(tenant=alpha).count() == 1  # the same account


def test_an_agent_sees_no_credentials(alpha):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    assert agent.get("/settings/api-keys/").status_code == 403
    for path in ("/settings/api-keys/twilio/rotate/", "/settings/api-keys/twilio/promote/",
                 "/settings/api-keys/twilio/keys/"):
        assert agent.post(path).status_code == 403
    assert not TwilioAccount.objects.filter(tenant=alpha).exists()


def test_rotating_then_promoting_the_token_from_the_page(alpha):
    owner = csrf_checked_client("alpha.localhost", "owner@alpha.example")
    page = owner.get("/settings/api-keys/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    account = TwilioAccount.objects.get(tenant=alpha)
    first = account.auth_token
    assert owner.post("/settings/api-keys/twilio/rotate/").status_code == 403  # no token
    rotated = owner.post("/settings/api-keys/twilio/rotate/", {"csrfmiddlewaretoken": token})
    assert rotated.status_code == 302
    account.refresh_from_db()
    secondary = account.secondary_token
    assert secondary and secondary != first
    listing = owner.get("/settings/api-keys/").content.decode()
    assert secondary in listing and "Promote the secondary token" in listing
    for password in (first, secondary):
        assert twilio_authenticate(username=account.sid, password=password) is not None
    # The promotion retires the current token: it asks first, and only its form promotes.
    asked = owner.post("/settings/api-keys/twilio/promote/", {"csrfmiddlewaretoken": token})
    assert asked.status_code == 200 and b"Promote the token" in asked.content
    account.refresh_from_db()
    assert account.secondary_token == secondary
    assert owner.post("/settings/api-keys/twilio/promote/",
                      {"csrfmiddlewaretoken": token, "confirm": "yes"}).status_code == 302
    account.refresh_from_db()
    assert (account.auth_token, account.secondary_token) == (secondary, "")
    assert twilio_authenticate(username=account.sid, password=first) is None
    assert twilio_authenticate(username=account.sid, password=secondary) is not None


def test_a_twilio_key_is_shown_once_works_and_is_revoked(alpha, owner):
    created = owner.post("/settings/api-keys/twilio/keys/", {"twilio-name": "Old app"})
    # Post/Redirect/Get: the secret is shown by the GET that follows, once.
    assert created.status_code == 302
    assert created["Location"] == "/settings/api-keys/twilio/keys/created/"
    response = owner.get(created["Location"])
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    content = response.content.decode()
    [sid] = set(re.findall(r"SK[0-9a-f]{32}", content))
    [secret] = set(re.findall(r'value="([A-Za-z0-9]{32})"', content))
    key = TwilioApiKey.objects.get(sid=sid)
    assert (key.name, key.created_by_label) == ("Old app", "owner@alpha.example")
    assert twilio_authenticate(username=sid, password=secret).account.tenant == alpha
    reloaded = owner.get(created["Location"], follow=True)
    assert reloaded.redirect_chain == [("/settings/api-keys/", 302)]
    assert secret not in reloaded.content.decode()
    assert TwilioApiKey.objects.count() == 1
    listing = owner.get("/settings/api-keys/").content.decode()
    assert sid in listing and secret not in listing
    revoke = f"/settings/api-keys/twilio/keys/{key.pk}/revoke/"
    assert owner.get(revoke).status_code == 200  # the question
    assert owner.post(revoke).status_code == 200  # not confirmed: asked again
    assert twilio_authenticate(username=sid, password=secret) is not None
    assert owner.post(revoke, {"confirm": "yes"}).status_code == 302
    assert twilio_authenticate(username=sid, password=secret) is None
    assert owner.post("/settings/api-keys/twilio/keys/", {"twilio-name": ""}).status_code == 302
    assert TwilioApiKey.objects.count() == 1


def test_another_tenants_key_cannot_be_revoked(alpha, beta, owner):
    betas, _ = twilio_api_key_create(account=twilio_account_ensure(tenant=beta), name="B")
    assert owner.post(f"/settings/api-keys/twilio/keys/{betas.pk}/revoke/",
                      {"confirm": "yes"}).status_code == 404
    betas.refresh_from_db()
    assert betas.revoked_at is None
