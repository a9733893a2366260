"""The operator console (/operator/ on the public host): tenants (never the internal
schemas), provider connections without secrets on the page, the review of tenants'
senders, routes, and the audit log of what operators did."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django_tenants.utils import schema_context

from accounts.models import User
from messaging.models import Sender
from messaging.outbound import messages_deliver, messages_send_bulk
from messaging.senders import do_sender_review_notify, sender_register
from tenants.connections import connection_add
from tenants.models import OperatorAuditEntry, ProviderConnection, Route, SenderRoute, Tenant
from tenants.routes import entries_text, route_save
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import ALPHA_NUMBER, approved_sender

TOKEN = "supersecrettoken1234"
CONNECTIONS = "/operator/connections/"
REVIEW = "/operator/senders/"
ROUTES = "/operator/routes/"


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
    data = {"is_active": "on"}
    data.update({f"setting_{key}": value for key, value in settings.items()})
    return client.post(f"{CONNECTIONS}{connection.pk}/", data)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Provider connections -------------------------------------------------------------------


def test_the_connection_list_shows_name_kind_and_state(operator, twilio):
    page = operator.get(CONNECTIONS).content.decode()
    assert "twilio-main" in page and "simulator" in page
    assert TOKEN not in page


def test_the_change_form_never_shows_a_secret_in_full(operator, twilio):
    response = operator.get(f"{CONNECTIONS}{twilio.pk}/")
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
    page = operator.get(f"{CONNECTIONS}{twilio.pk}/").content.decode()
    assert "****5678" in page and "anothersecret5678" not in page
    audit = operator.get("/operator/audit/").content.decode()
    assert "connection:twilio-main" in audit and "settings changed: auth_token" in audit
    assert "anothersecret5678" not in audit and TOKEN not in audit


def test_settings_follow_the_rules_of_connection_add(operator, twilio):
    response = _change(operator, twilio, account_sid="", auth_token="",
                       api_base_url="http://203.0.113.5")
    assert response.status_code == 400
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
    assert missing.status_code == 400
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
    assert response.status_code == 400
    assert b"lowercase letters" in response.content
    assert not ProviderConnection.objects.filter(kind="http").exists()


def test_the_simulator_connection_cannot_be_deleted(operator):
    simulator = ProviderConnection.objects.get(name=ProviderConnection.SIMULATOR_NAME)
    assert operator.post(f"{CONNECTIONS}{simulator.pk}/delete/").status_code == 403
    assert ProviderConnection.objects.filter(pk=simulator.pk).exists()
    page = operator.get(f"{CONNECTIONS}{simulator.pk}/").content.decode()
    assert "/delete/" not in page


def test_other_connections_can_be_deleted(operator, twilio):
    response = operator.post(f"{CONNECTIONS}{twilio.pk}/delete/")
    assert response.status_code == 302
    assert not ProviderConnection.objects.filter(pk=twilio.pk).exists()
    assert OperatorAuditEntry.objects.filter(action="connection.delete",
                                             target="connection:twilio-main").exists()


def test_a_connection_a_route_uses_is_not_deleted(operator, twilio):
    route_save(name="main", cheapest_first=False, entries="+1 twilio-main", actor="t")
    response = operator.post(f"{CONNECTIONS}{twilio.pk}/delete/", follow=True)
    assert "in use by senders or routes" in response.content.decode()
    assert ProviderConnection.objects.filter(pk=twilio.pk).exists()


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
    assert b'href="/operator/senders/?status=pending"' in operator.get(
        "/operator/", follow=True).content


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
    entry = OperatorAuditEntry.objects.get(action="sender.approve")
    assert (entry.actor, entry.target, entry.tenant) == (
        "ops@operator.example", "sender:+14155550164", alpha)


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
    route_save(name="main", cheapest_first=True, entries="+1 twilio-main 0.01", actor="t")
    for path in ("/operator/tenants/", "/operator/tenants/alpha/", CONNECTIONS,
                 f"{CONNECTIONS}{twilio.pk}/", f"{CONNECTIONS}add/?kind=smpp", REVIEW, ROUTES,
                 f"{ROUTES}add/", f"{ROUTES}main/", "/operator/audit/", "/operator/admin/",
                 f"/operator/admin/tenants/tenant/{alpha.pk}/change/",
                 "/operator/admin/django_celery_beat/periodictask/add/"):
        response = operator.get(path)
        assert response.status_code == 200, path
        assert "unsafe-inline" not in response["Content-Security-Policy"], path
        page = response.content.decode()
        assert not re.search(r"<style|\sstyle=", page), path
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert all(" src=" in tag or 'type="application/json"' in tag for tag in scripts), path


# --- Tenants --------------------------------------------------------------------------------


def test_the_tenant_list_never_shows_the_internal_schemas(operator, alpha, beta):
    _register(alpha, "+14155550170")
    page = operator.get("/operator/tenants/").content.decode()
    assert 'href="/operator/tenants/alpha/"' in page and 'href="/operator/tenants/beta/"' in page
    for internal in Tenant.objects.filter(is_template=True) | Tenant.objects.filter(
            schema_name="public"):
        assert f"/operator/tenants/{internal.slug}/" not in page
        assert operator.get(f"/operator/tenants/{internal.slug}/").status_code == 404
    assert re.search(r"alpha</a></td>.*?<td>1</td>\s*<td><a [^>]*><strong>1</strong>", page,
                     re.S)


def test_the_tenant_page_shows_its_senders_connections_and_audit_log(operator, alpha, twilio):
    approved_sender(alpha, "+14155550171", "twilio-main")
    _register(alpha, "+14155550172")
    _review(operator, alpha, "+14155550172", "reject", "Not yours")
    page = operator.get("/operator/tenants/alpha/").content.decode()
    assert "+14155550171" in page and "+14155550172" in page
    assert 'href="/operator/connections/' in page and "twilio-main" in page
    assert "sender.reject" in page and "Not yours" in page
    assert 'href="/operator/tenants/alpha/status"' in page  # the status box, wired at merge


def test_a_sender_reviewed_from_the_tenant_page_comes_back_to_it(operator, alpha):
    _register(alpha, "+14155550173")
    response = operator.post(REVIEW, {"tenant": alpha.pk, "address": "+14155550173",
                                      "decision": "approve", "next": "/operator/tenants/alpha/"})
    assert response.status_code == 302 and response["Location"] == "/operator/tenants/alpha/"
    assert _status(alpha, "+14155550173") == Sender.Status.APPROVED


def test_a_slug_is_never_editable(operator, alpha):
    page = operator.get("/operator/tenants/alpha/").content.decode()
    assert 'name="slug"' not in page
    admin = operator.get(f"/operator/admin/tenants/tenant/{alpha.pk}/change/").content.decode()
    assert 'name="slug"' not in admin and "alpha" in admin
    operator.post(f"/operator/admin/tenants/tenant/{alpha.pk}/change/",
                  {"slug": "renamed", "name": "Alpha", "timezone": "UTC",
                   "domains-TOTAL_FORMS": "0", "domains-INITIAL_FORMS": "0"})
    alpha.refresh_from_db()
    assert alpha.slug == "alpha"


def test_non_operators_are_sent_to_the_sign_in(public_client, alpha):
    User.objects.create_user("member@operator.example", PASSWORD)
    refused = public_client.post("/operator/login/", {"username": "member@operator.example",
                                                      "password": PASSWORD})
    assert refused.status_code == 200 and b"correct" in refused.content
    for path in ("/operator/tenants/", "/operator/tenants/alpha/", CONNECTIONS, ROUTES,
                 "/operator/audit/"):
        response = public_client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(
            "/operator/login/"), path
    public_client.force_login(User.objects.get(email="member@operator.example"))
    assert public_client.get("/operator/tenants/").status_code == 302
    assert public_client.get("/operator/admin/").status_code == 302


def test_staff_who_are_not_superusers_stay_out_of_django_admin(public_client):
    User.objects.create_user("viewer@operator.example", PASSWORD, is_staff=True)
    public_client.post("/operator/login/", {"username": "viewer@operator.example",
                                            "password": PASSWORD})
    assert public_client.get("/operator/tenants/").status_code == 200
    assert public_client.get("/operator/admin/").status_code == 302
    assert b"Django admin" not in public_client.get("/operator/tenants/").content


# --- Routes ---------------------------------------------------------------------------------


def test_an_operator_writes_a_route_and_it_is_audited(operator, twilio):
    response = operator.post(f"{ROUTES}add/", {
        "name": "world", "cheapest_first": "on",
        "entries": "+ simulator\n+1 twilio-main,simulator 0.0079"})
    assert response.status_code == 302
    route = Route.objects.get(name="world")
    assert route.cheapest_first
    assert entries_text(route) == "+ simulator\n+1 twilio-main,simulator 0.0079"
    page = operator.get(ROUTES).content.decode()
    assert "twilio-main → simulator" in page and "0.0079" in page
    edited = operator.post(f"{ROUTES}world/", {"name": "ignored", "entries": "+44 simulator"})
    assert edited.status_code == 302
    route.refresh_from_db()
    assert (route.name, route.cheapest_first, entries_text(route)) == (
        "world", False, "+44 simulator")
    assert list(OperatorAuditEntry.objects.filter(target="route:world")
                .values_list("action", flat=True)) == ["route.update", "route.create"]
    assert operator.post(f"{ROUTES}world/delete/").status_code == 302
    assert not Route.objects.exists()


@pytest.mark.parametrize(("entries", "words"), [
    ("+1 twilio-main\n+44 nowhere", "Line 2: there is no connection named &#x27;nowhere&#x27;"),
    ("1-800 twilio-main", "is not a destination prefix"),
])
def test_a_route_with_a_bad_entry_is_refused_beside_the_field(operator, twilio, entries, words):
    response = operator.post(f"{ROUTES}add/", {"name": "bad", "entries": entries})
    assert response.status_code == 400
    page = response.content.decode()
    assert words in page
    assert re.search(r'name="entries".*?class="error"', page, re.S)
    assert not Route.objects.exists()
    assert not OperatorAuditEntry.objects.exists()


def test_a_route_senders_use_is_not_deleted(operator, alpha):
    route_save(name="main", cheapest_first=False, entries="+ simulator", actor="t")
    approved_sender(alpha, "+14155550174", "route:main")
    response = operator.post(f"{ROUTES}main/delete/", follow=True)
    assert "route_in_use" in response.content.decode()
    assert Route.objects.filter(name="main").exists()


def test_staff_without_the_route_permission_cannot_write_routes(public_client):
    User.objects.create_user("viewer@operator.example", PASSWORD, is_staff=True)
    public_client.post("/operator/login/", {"username": "viewer@operator.example",
                                            "password": PASSWORD})
    assert public_client.get(ROUTES).status_code == 200
    assert public_client.post(f"{ROUTES}add/", {"name": "x", "entries": "+ simulator"}
                              ).status_code == 403
    assert not Route.objects.exists()


# --- The operators' email -------------------------------------------------------------------


def test_operator_staff_are_emailed_when_a_sender_awaits_review(alpha, mailoutbox):
    User.objects.create_user("ops@operator.example", PASSWORD, is_staff=True)
    User.objects.create_user("member@operator.example", PASSWORD)
    _register(alpha, "+14155550175")
    with schema_context(alpha.schema_name):
        assert do_sender_review_notify(address="+14155550175") == 1
    [email] = mailoutbox
    assert email.to == ["ops@operator.example"]
    assert "+14155550175" in email.subject and "alpha" in email.subject
    assert "http://localhost:8000/operator/senders/?status=pending" in email.body
    approved_sender(alpha, "+14155550176", "simulator")
    with schema_context(alpha.schema_name):
        assert do_sender_review_notify(address="+14155550176") == 0  # reviewed already



# --- Connection health ----------------------------------------------------------------------


def _health_reset(name: str) -> None:
    """Breakers and figures live in Redis, which outlives a test."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    for pattern in (f"breaker:{name}:*", f"connstats:{name}:*"):
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)


@pytest.fixture
def twilio_health(twilio_connection) -> Iterator[str]:
    _health_reset(twilio_connection.name)
    yield twilio_connection.name
    _health_reset(twilio_connection.name)


def test_the_connections_page_shows_the_breaker_error_rate_and_last_error(
        operator, alpha, alpha_twilio_sender, fake_twilio, twilio_health, settings):
    settings.ROUTE_BREAKER_FAILURES = 2
    fake_twilio.answers = [(503, {"code": 20500, "message": "Twilio is down",
                                  "status": 503})] * 2
    with schema_context(alpha.schema_name):
        sent = messages_send_bulk(items=[
            {"from": ALPHA_NUMBER, "to": f"+1415555018{n}", "body": "Hi"} for n in range(2)],
            origin="api")
        messages_deliver(message_ids=[message.pk for message in sent])
    page = operator.get(CONNECTIONS).content.decode()
    row = re.search(rf'>{twilio_health}</a>.*?</tr>', page, re.S).group(0)
    assert re.search(r"<td>2</td>\s*<td>100%</td>", row), row
    assert "open" in row and "Twilio is down" in row
    assert "Worker queues" in page
    tenant_page = operator.get("/operator/tenants/alpha/").content.decode()
    assert "Twilio is down" in tenant_page
