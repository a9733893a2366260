"""The operator console (/operator/ on the public host): provider connections without
secrets on the page, and the review of tenants' senders."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django_tenants.utils import schema_context

from accounts.models import User
from messaging.models import Sender
from messaging.senders import sender_register
from tenants.connections import connection_add
from tenants.models import ProviderConnection, SenderRoute
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import approved_sender

TOKEN = "supersecrettoken1234"
CONNECTIONS = "/operator/tenants/providerconnection/"
REVIEW = "/operator/senders/"


@pytest.fixture
def operator(public_client):
    User.objects.create_superuser("ops@operator.example", PASSWORD)
    response = public_client.post("/operator/login/", {"username": "ops@operator.example",
                                                       "password": PASSWORD})
    assert response.status_code == 302
    return public_client


@pytest.fixture
def twilio(db) -> ProviderConnection:
    return connection_add(name="twilio-main", kind="twilio",
                          settings={"account_sid": "AC0123456789", "auth_token": TOKEN})


def _change(client, connection: ProviderConnection, **settings: str):
    data = {"is_active": "on", "_save": "Save"}
    data.update({f"setting_{key}": value for key, value in settings.items()})
    return client.post(f"{CONNECTIONS}{connection.pk}/change/", data)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Provider connections -------------------------------------------------------------------


def test_the_connection_list_shows_name_kind_and_state(operator, twilio):
    page = operator.get(CONNECTIONS).content.decode()
    assert "twilio-main" in page and "simulator" in page
    assert TOKEN not in page


def test_the_change_form_never_shows_a_secret_in_full(operator, twilio):
    response = operator.get(f"{CONNECTIONS}{twilio.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "****1234" in page
    assert TOKEN not in page
    assert "AC0123456789" in page  # not a secret
    assert 'type="password" name="setting_auth_token"' in page


def test_a_secret_left_blank_is_kept(operator, twilio):
    response = _change(operator, twilio, account_sid="AC9999999999", auth_token="",
                       api_base_url="")
    assert response.status_code == 302, response.content.decode()
    twilio.refresh_from_db()
    assert twilio.settings == {"account_sid": "AC9999999999", "auth_token": TOKEN}


def test_a_secret_typed_in_replaces_the_old_one(operator, twilio):
    response = _change(operator, twilio, account_sid="AC0123456789",
                       auth_token="anothersecret5678")
    assert response.status_code == 302
    twilio.refresh_from_db()
    assert twilio.settings["auth_token"] == "anothersecret5678"
    page = operator.get(f"{CONNECTIONS}{twilio.pk}/change/").content.decode()
    assert "****5678" in page and "anothersecret5678" not in page
    history = operator.get(f"{CONNECTIONS}{twilio.pk}/history/").content.decode()
    assert "anothersecret5678" not in history and TOKEN not in history


def test_settings_follow_the_rules_of_connection_add(operator, twilio):
    response = _change(operator, twilio, account_sid="", auth_token="",
                       api_base_url="http://203.0.113.5")
    assert response.status_code == 200
    page = response.content.decode()
    assert "&#x27;account_sid&#x27; is required for twilio." in page
    assert "only loopback URLs are called" in page
    assert TOKEN not in page
    twilio.refresh_from_db()
    assert twilio.settings == {"account_sid": "AC0123456789", "auth_token": TOKEN}


def test_a_new_connection_gets_the_fields_of_its_kind(operator):
    page = operator.get(f"{CONNECTIONS}add/?kind=vonage").content.decode()
    assert 'name="setting_api_secret"' in page and 'name="setting_auth_token"' not in page

    missing = operator.post(f"{CONNECTIONS}add/", {"name": "vonage-eu", "kind": "vonage",
                                                  "is_active": "on"})
    assert missing.status_code == 200
    assert b"is required for vonage" in missing.content
    assert not ProviderConnection.objects.filter(name="vonage-eu").exists()

    response = operator.post(f"{CONNECTIONS}add/", {
        "name": "vonage-eu", "kind": "vonage", "is_active": "on",
        "setting_api_key": "key1", "setting_api_secret": "vonagesecret9876",
    })
    assert response.status_code == 302
    created = ProviderConnection.objects.get(name="vonage-eu")
    assert created.settings == {"api_key": "key1", "api_secret": "vonagesecret9876"}


def test_a_new_connection_name_follows_the_naming_rule(operator):
    response = operator.post(f"{CONNECTIONS}add/", {
        "name": "Bad-Name", "kind": "http", "is_active": "on",
        "setting_url": "http://127.0.0.1:9/hook", "setting_secret": "x" * 20,
    })
    assert response.status_code == 200
    assert b"lowercase letters" in response.content
    assert not ProviderConnection.objects.filter(kind="http").exists()


def test_the_simulator_connection_cannot_be_deleted(operator):
    simulator = ProviderConnection.objects.get(name=ProviderConnection.SIMULATOR_NAME)
    assert operator.get(f"{CONNECTIONS}{simulator.pk}/delete/").status_code == 403
    assert operator.post(f"{CONNECTIONS}{simulator.pk}/delete/",
                         {"post": "yes"}).status_code == 403
    # Nor through the bulk action, which is not offered.
    operator.post(CONNECTIONS, {"action": "delete_selected", "_selected_action": [simulator.pk],
                                "post": "yes"})
    assert ProviderConnection.objects.filter(pk=simulator.pk).exists()
    page = operator.get(f"{CONNECTIONS}{simulator.pk}/change/").content.decode()
    assert "/delete/" not in page


def test_other_connections_can_be_deleted(operator, twilio):
    response = operator.post(f"{CONNECTIONS}{twilio.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ProviderConnection.objects.filter(pk=twilio.pk).exists()


# --- Sender review --------------------------------------------------------------------------


def _register(tenant, address: str) -> Sender:
    with schema_context(tenant.schema_name):
        return sender_register(address=address, kind="long_code", connection="simulator")


def _status(tenant, address: str) -> str:
    with schema_context(tenant.schema_name):
        return Sender.objects.get(address=address).status


def _review(client, tenant, address: str, decision: str, reason: str = ""):
    return client.post(REVIEW, {"tenant": tenant.pk, "address": address,
                                "decision": decision, "reason": reason})


def test_the_index_links_to_the_sender_review(operator):
    assert b'href="/operator/senders/?status=pending"' in operator.get("/operator/").content


def test_pending_senders_of_every_tenant_are_listed_first(operator, alpha, beta):
    approved_sender(alpha, "+14155550161", "simulator")
    _register(alpha, "+14155550162")
    _register(beta, "+14155550163")
    page = operator.get(REVIEW).content.decode()
    assert "+14155550162" in page and "+14155550163" in page and "+14155550161" in page
    assert page.index("+14155550161") > max(page.index("+14155550162"),
                                            page.index("+14155550163"))
    pending = operator.get(REVIEW, {"status": "pending"}).content.decode()
    assert "+14155550161" not in pending


def test_approving_a_pending_sender_routes_it(operator, alpha):
    _register(alpha, "+14155550164")
    response = _review(operator, alpha, "+14155550164", "approve")
    assert response.status_code == 302
    assert _status(alpha, "+14155550164") == Sender.Status.APPROVED
    route = SenderRoute.objects.get(address="+14155550164")
    assert route.tenant == alpha
    assert route.connection.name == "simulator"
    assert any("approved" in message for message in _messages(response))


def test_rejecting_needs_a_reason_and_touches_nothing_else(operator, alpha):
    approved_sender(alpha, "+14155550165", "simulator")
    _register(alpha, "+14155550166")

    refused = _review(operator, alpha, "+14155550166", "reject")
    assert refused.status_code == 302
    assert _status(alpha, "+14155550166") == Sender.Status.PENDING
    assert any("reason" in message for message in _messages(refused))

    _review(operator, alpha, "+14155550166", "reject", "Not a number you own")
    with schema_context(alpha.schema_name):
        rejected = Sender.objects.get(address="+14155550166")
    assert (rejected.status, rejected.review_reason) == ("rejected", "Not a number you own")
    assert _status(alpha, "+14155550165") == Sender.Status.APPROVED
    assert SenderRoute.objects.filter(address="+14155550165", tenant=alpha).exists()


def test_suspending_an_approved_sender_removes_its_route(operator, alpha):
    approved_sender(alpha, "+14155550167", "simulator")
    _review(operator, alpha, "+14155550167", "suspend", "Complaints")
    assert _status(alpha, "+14155550167") == Sender.Status.SUSPENDED
    assert not SenderRoute.objects.filter(address="+14155550167").exists()


def test_an_address_approved_for_another_tenant_is_refused(operator, alpha, beta):
    approved_sender(alpha, "+14155550168", "simulator")
    _register(beta, "+14155550168")
    response = _review(operator, beta, "+14155550168", "approve")
    assert response.status_code == 302
    assert any("address_taken" in message for message in _messages(response))
    assert _status(beta, "+14155550168") == Sender.Status.PENDING
    assert SenderRoute.objects.get(address="+14155550168").tenant == alpha


def test_tenant_users_cannot_review_senders(alpha):
    client = host_client("alpha.localhost")
    login(client, "owner@alpha.example")
    assert client.get(REVIEW).status_code == 404  # the console is not on tenant hosts
    public = host_client("localhost")
    public.post("/operator/login/", {"username": "owner@alpha.example", "password": PASSWORD})
    assert public.get(REVIEW).status_code == 302


def test_staff_without_the_permission_cannot_review_senders(public_client, alpha):
    User.objects.create_user("viewer@operator.example", PASSWORD, is_staff=True)
    public_client.post("/operator/login/", {"username": "viewer@operator.example",
                                            "password": PASSWORD})
    _register(alpha, "+14155550169")
    assert public_client.get(REVIEW).status_code == 403
    assert _review(public_client, alpha, "+14155550169", "approve").status_code == 403
    assert _status(alpha, "+14155550169") == Sender.Status.PENDING


def test_console_pages_carry_no_inline_style_or_script(operator, alpha, twilio):
    """The Content-Security-Policy allows styles and scripts from our static files only
    (the browser test, test_operator_console_browser.py, sees nothing refused)."""
    for path in ("/operator/", "/operator/tenants/", "/operator/tenants/tenant/",
                 f"/operator/tenants/tenant/{alpha.pk}/change/", CONNECTIONS,
                 f"{CONNECTIONS}{twilio.pk}/change/", REVIEW,
                 "/operator/django_celery_beat/periodictask/add/"):
        response = operator.get(path)
        assert response.status_code == 200, path
        assert "unsafe-inline" not in response["Content-Security-Policy"], path
        page = response.content.decode()
        assert not re.search(r"<style|\sstyle=", page), path
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert all(" src=" in tag or 'type="application/json"' in tag for tag in scripts), path
