"""The operator's messaging commands: add_provider_connection, review_sender and
create_api_key. Each exits non-zero with a clear message on bad input and changes nothing
then; on success it prints what an operator needs, and never a secret in full."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from messaging.models import Message, Sender
from messaging.senders import sender_register
from tenants.models import ProviderConnection, SenderRoute, Tenant
from tests.conftest import host_client
from tests.support.messaging import ALPHA_NUMBER, CUSTOMER, twilio_inbound, twilio_post

AUTH_TOKEN = "twilio-auth-token-that-must-stay-secret"
API_SECRET = "vonage-api-secret-that-must-stay-secret"
SIG_SECRET = "vonage-signature-secret-must-stay-secret"
WH_SECRET = "whsec_c2VjcmV0LXRoYXQtbXVzdC1zdGF5LXNlY3JldA=="


def run(*args: str) -> str:
    """Run a command as ``call_command``; return what it printed on stdout."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(*args: str) -> str:
    """Run a command that must refuse; return its message."""
    with pytest.raises(CommandError) as exc:
        run(*args)
    return str(exc.value)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=120)


# --- add_provider_connection -------------------------------------------------------------


@pytest.mark.parametrize(("kind", "sets", "shown", "secrets"), [
    ("twilio", [f"account_sid=AC{'1' * 32}", f"auth_token={AUTH_TOKEN}",
                "api_base_url=http://127.0.0.1:8123"],
     [f"account_sid=AC{'1' * 32}", f"auth_token=****{AUTH_TOKEN[-4:]}",
      "api_base_url=http://127.0.0.1:8123"], [AUTH_TOKEN]),
    ("vonage", ["api_key=vkey123", f"api_secret={API_SECRET}",
                f"signature_secret={SIG_SECRET}", "signature_method=sha256"],
     ["api_key=vkey123", f"api_secret=****{API_SECRET[-4:]}",
      f"signature_secret=****{SIG_SECRET[-4:]}", "signature_method=sha256"],
     [API_SECRET, SIG_SECRET]),
    ("http", ["url=http://localhost:9000/sms", f"secret={WH_SECRET}"],
     ["url=http://localhost:9000/sms", f"secret=****{WH_SECRET[-4:]}"], [WH_SECRET]),
])
def test_add_provider_connection_creates_it_and_masks_secrets(db, kind, sets, shown, secrets):
    args = [arg for item in sets for arg in ("--set", item)]
    out = run("add_provider_connection", f"cli-{kind}", "--kind", kind, *args)
    assert out.startswith(f"Added connection cli-{kind} ({kind}): ")
    for item in shown:
        assert item in out
    for secret in secrets:
        assert secret not in out
    connection = ProviderConnection.objects.get(name=f"cli-{kind}")
    assert connection.kind == kind and connection.is_active
    # Stored in full: the backends need them.
    assert connection.settings == dict(item.split("=", 1) for item in sets)


def test_a_short_secret_is_masked_entirely(db):
    out = run("add_provider_connection", "cli-short", "--kind", "http",
              "--set", "url=http://127.0.0.1:9/sms", "--set", "secret=abc12345")
    assert "secret=****" in out and "abc12345" not in out and "2345" not in out


VONAGE_OK = ["--set", "api_key=k", "--set", f"api_secret={API_SECRET}"]


@pytest.mark.parametrize(("args", "message"), [
    (["cli-bad", "--kind", "pigeon", "--set", "x=y"],
     "kind: Unknown kind 'pigeon'; kinds are simulator, twilio, vonage, http, smpp."),
    (["cli-bad", "--kind", "vonage", "--set", "api_key=k"],
     "settings: 'api_secret' is required for vonage."),
    # A blank credential, e.g. from an unset shell variable, is a missing one.
    (["cli-bad", "--kind", "vonage", "--set", "api_key=k", "--set", "api_secret="],
     "settings: 'api_secret' is required for vonage."),
    (["cli-bad", "--kind", "twilio", "--set", f"account_sid=AC{'1' * 32}",
      "--set", "auth_token=  "],
     "settings: 'auth_token' is required for twilio."),
    (["cli-bad", "--kind", "vonage", *VONAGE_OK, "--set", "api_base_url"],
     "--set 'api_base_url': write KEY=VALUE."),
    (["cli-bad", "--kind", "vonage", *VONAGE_OK, "--set", "=https://x"],
     "--set '=https://x': write KEY=VALUE."),
    (["cli-bad", "--kind", "vonage", *VONAGE_OK, "--set", "region=eu"],
     "settings: 'region' is not a vonage setting (use api_base_url, api_key, api_secret, "
     "signature_method, signature_secret)."),
    (["cli-bad", "--kind", "vonage", *VONAGE_OK, "--set", "api_base_url=http://203.0.113.7"],
     "settings: api_base_url: 203.0.113.7 is not on this machine; outside production only "
     "loopback URLs are called"),
    (["cli-bad", "--kind", "http", "--set", "url=http://10.1.2.3/sms",
      "--set", f"secret={WH_SECRET}"],
     "settings: url: 10.1.2.3 is not on this machine"),
    (["cli-bad", "--kind", "http", "--set", "url=file:///etc/passwd",
      "--set", f"secret={WH_SECRET}"],
     "settings: url: 'file:///etc/passwd' is not an http(s) URL."),
    (["simulator", "--kind", "vonage", *VONAGE_OK],
     "name: A connection named 'simulator' exists."),
    (["Bad Name", "--kind", "vonage", *VONAGE_OK],
     "name: Use 1-50 lowercase letters, digits, hyphens and underscores"),
])
def test_add_provider_connection_refuses_bad_input_and_changes_nothing(db, args, message):
    before = list(ProviderConnection.objects.values_list("name", "kind", "settings"))
    error = refused("add_provider_connection", *args)
    assert error.startswith("connection not added:") or error.startswith("--set ")
    assert message in error
    assert API_SECRET not in error and WH_SECRET not in error
    assert list(ProviderConnection.objects.values_list("name", "kind", "settings")) == before
    assert ProviderConnection.objects.get(name="simulator").kind == "simulator"


def test_add_provider_connection_refuses_a_duplicate_name(db):
    run("add_provider_connection", "cli-dup", "--kind", "vonage", *VONAGE_OK)
    count = ProviderConnection.objects.count()
    error = refused("add_provider_connection", "cli-dup", "--kind", "http",
                    "--set", "url=http://127.0.0.1:9/sms", "--set", f"secret={WH_SECRET}")
    assert "name: A connection named 'cli-dup' exists." in error
    assert ProviderConnection.objects.count() == count
    assert ProviderConnection.objects.get(name="cli-dup").kind == "vonage"


def test_add_provider_connection_missing_kind_is_a_usage_error(db):
    count = ProviderConnection.objects.count()
    assert "the following arguments are required: --kind" in refused(
        "add_provider_connection", "cli-nokind")
    assert ProviderConnection.objects.count() == count


def test_add_provider_connection_as_an_operator_types_it(committed_db, process_env):
    args = ["add_provider_connection", "cli-process", "--kind", "vonage", "--set", "api_key=k",
            "--set", f"api_secret={API_SECRET}"]
    try:
        added = manage(process_env, *args)
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == (
            f"Added connection cli-process (vonage): api_key=k, api_secret=****"
            f"{API_SECRET[-4:]}")
        assert API_SECRET not in added.stdout + added.stderr
        assert ProviderConnection.objects.get(name="cli-process").settings["api_secret"] == (
            API_SECRET)
        again = manage(process_env, *args)
        assert again.returncode == 1
        assert "connection not added" in again.stderr
        assert "name: A connection named 'cli-process' exists." in again.stderr
        assert "Traceback" not in again.stderr
        assert API_SECRET not in again.stdout + again.stderr
        assert ProviderConnection.objects.filter(name="cli-process").count() == 1
    finally:
        ProviderConnection.objects.filter(name="cli-process").delete()


# --- review_sender -----------------------------------------------------------------------


def register(tenant: Tenant, address: str = ALPHA_NUMBER, connection: str = "simulator"):
    with schema_context(tenant.schema_name):
        return sender_register(address=address, kind="long_code", connection=connection)


def sender_in(tenant: Tenant, address: str = ALPHA_NUMBER) -> Sender:
    with schema_context(tenant.schema_name):
        return Sender.objects.get(address=address)


def routes() -> list[tuple[str, str, int, str]]:
    return list(SenderRoute.objects.order_by("address").values_list(
        "address", "tenant__slug", "sender_id", "connection__name"))


def test_review_sender_approve_routes_the_address_to_the_tenant(alpha, twilio_connection,
                                                                fake_twilio):
    sender = register(alpha, connection=twilio_connection.name)
    client = host_client(settings.BASE_DOMAIN)
    before = twilio_post(client, "/webhooks/twilio-test/inbound",
                         twilio_inbound("SM" + "a" * 32), fake_twilio.token)
    assert (before.status_code, before.json()["code"]) == (404, "unrouted_recipient")

    out = run("review_sender", "alpha", "+1 (415) 555-0100", "--approve")

    assert out.strip() == f"{ALPHA_NUMBER} for alpha: approved"
    assert sender_in(alpha).status == "approved"
    assert routes() == [(ALPHA_NUMBER, "alpha", sender.pk, "twilio-test")]
    # What the approval is for: the customer's messages now reach the tenant.
    after = twilio_post(client, "/webhooks/twilio-test/inbound",
                        twilio_inbound("SM" + "b" * 32, body="hello"), fake_twilio.token)
    assert after.status_code == 200
    with schema_context(alpha.schema_name):
        [message] = Message.objects.filter(direction="inbound")
    assert (message.from_address, message.body) == (CUSTOMER, "hello")


def test_review_sender_reject_unroutes_and_keeps_the_reason(alpha, twilio_connection,
                                                            fake_twilio):
    register(alpha, connection=twilio_connection.name)
    run("review_sender", "alpha", ALPHA_NUMBER, "--approve")

    out = run("review_sender", "alpha", ALPHA_NUMBER, "--reject", "--reason",
              "Not your number")

    assert out.strip() == f"{ALPHA_NUMBER} for alpha: rejected"
    sender = sender_in(alpha)
    assert (sender.status, sender.review_reason) == ("rejected", "Not your number")
    assert routes() == []
    refused_inbound = twilio_post(host_client(settings.BASE_DOMAIN),
                                  "/webhooks/twilio-test/inbound",
                                  twilio_inbound("SM" + "c" * 32), fake_twilio.token)
    assert (refused_inbound.status_code, refused_inbound.json()["code"]) == (
        404, "unrouted_recipient")


def test_review_sender_refuses_an_address_approved_for_another_tenant(alpha, beta):
    register(alpha)
    register(beta)
    run("review_sender", "alpha", ALPHA_NUMBER, "--approve")
    before = routes()

    error = refused("review_sender", "beta", ALPHA_NUMBER, "--approve")

    assert error == f"address_taken: {ALPHA_NUMBER} is already approved for tenant alpha."
    assert routes() == before
    assert sender_in(beta).status == "pending"
    assert sender_in(alpha).status == "approved"
    # Rejecting beta's copy leaves alpha's route alone.
    run("review_sender", "beta", ALPHA_NUMBER, "--reject", "--reason", "Duplicate")
    assert routes() == before


@pytest.mark.parametrize(("args", "message"), [
    (["nope", ALPHA_NUMBER, "--approve"], "No tenant 'nope'."),
    (["public", ALPHA_NUMBER, "--approve"], "No tenant 'public'."),
    (["template", ALPHA_NUMBER, "--approve"], "No tenant 'template'."),
    (["alpha", "+14155550177", "--approve"],
     "unknown_sender: alpha has no sender '+14155550177'."),
    (["alpha", ALPHA_NUMBER], "one of the arguments --approve --reject is required"),
    (["alpha", ALPHA_NUMBER, "--approve", "--reject"],
     "argument --reject: not allowed with argument --approve"),
    (["alpha", ALPHA_NUMBER, "--approve", "--reason", "ok"], "--reason goes with --reject."),
])
def test_review_sender_refuses_bad_input_and_changes_nothing(alpha, args, message):
    register(alpha)
    before = (sender_in(alpha).status, sender_in(alpha).reviewed_at, routes())
    assert message in refused("review_sender", *args)
    assert (sender_in(alpha).status, sender_in(alpha).reviewed_at, routes()) == before
    assert before[0] == "pending"


def test_review_sender_usage_errors_exit_non_zero_from_a_shell(db, process_env):
    neither = manage(process_env, "review_sender", "alpha", ALPHA_NUMBER)
    assert neither.returncode == 2
    assert "one of the arguments --approve --reject is required" in neither.stderr
    unknown = manage(process_env, "review_sender", "nope", ALPHA_NUMBER, "--approve")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "CommandError: No tenant 'nope'."


# --- create_api_key ----------------------------------------------------------------------


class Api:
    def __init__(self, host: str, key: str) -> None:
        self.client = host_client(host)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path: str):
        return self.client.get(f"/api/v1/{path}", **self.headers)

    def post(self, path: str, body: dict):
        return self.client.post(f"/api/v1/{path}", json.dumps(body),
                                content_type="application/json", **self.headers)


def alpha_keys(alpha) -> list[ApiKey]:
    with schema_context(alpha.schema_name):
        return list(ApiKey.objects.order_by("pk"))


def test_create_api_key_without_scope_has_every_scope_and_works(alpha):
    before = alpha_keys(alpha)
    out = run("create_api_key", "alpha", "--name", "Zapier")
    *_, key = out.strip().splitlines()
    [api_key] = [k for k in alpha_keys(alpha) if k not in before]
    assert key.startswith(f"sk_{api_key.prefix}_")
    assert (api_key.name, api_key.scopes) == ("Zapier", list(ApiKey.SCOPES))
    assert f"Created key {api_key.prefix} for alpha" in out
    api = Api("alpha.localhost", key)
    listed = api.get("messages")
    assert (listed.status_code, listed.json()) == (200, {"results": [], "next": None})
    # Allowed to send: the request gets as far as validating the message.
    sent = api.post("messages", {"from": "+14155550111", "to": CUSTOMER, "body": "hi"})
    assert (sent.status_code, sent.json()["code"]) == (400, "unknown_sender")
    # The key belongs to alpha: beta does not know it.
    other = Api("beta.localhost", key).get("messages")
    assert (other.status_code, other.json()["code"]) == (401, "not_authenticated")


def test_create_api_key_with_a_read_scope_cannot_send(alpha):
    key = run("create_api_key", "alpha", "--name", "Reports", "--scope",
              "messages:read").strip().splitlines()[-1]
    [api_key] = [k for k in alpha_keys(alpha) if k.name == "Reports"]
    assert api_key.scopes == ["messages:read"]
    api = Api("alpha.localhost", key)
    assert api.get("messages").status_code == 200
    sent = api.post("messages", {"from": ALPHA_NUMBER, "to": CUSTOMER, "body": "hi"})
    assert (sent.status_code, sent.json()["code"]) == (403, "permission_denied")


def test_create_api_key_with_repeated_scopes(alpha):
    run("create_api_key", "alpha", "--name", "Two", "--scope", "contacts", "--scope",
        "settings", "--scope", "contacts")
    [api_key] = [k for k in alpha_keys(alpha) if k.name == "Two"]
    assert api_key.scopes == ["contacts", "settings"]


@pytest.mark.parametrize(("args", "message"), [
    (["alpha", "--name", "X", "--scope", "messages:write"],
     "key not created:\n  Unknown scope 'messages:write'; scopes are messages:send, "
     "messages:read, contacts, settings, campaigns."),
    (["alpha", "--name", "X", "--scope", "messages:read", "--scope", "admin"],
     "Unknown scope 'admin'"),
    (["alpha", "--name", "  "], "key not created:\n  A key needs a name."),
    (["alpha", "--name", "x" * 101],
     "key not created:\n  A key's name has at most 100 characters."),
    (["nope", "--name", "X"], "No tenant 'nope'."),
    (["public", "--name", "X"], "No tenant 'public'."),
    (["alpha"], "the following arguments are required: --name"),
])
def test_create_api_key_refuses_bad_input_and_creates_no_key(alpha, beta, args, message):
    before = alpha_keys(alpha)
    with schema_context(beta.schema_name):
        beta_before = ApiKey.objects.count()
    assert message in refused("create_api_key", *args)
    assert alpha_keys(alpha) == before
    with schema_context(beta.schema_name):
        assert ApiKey.objects.count() == beta_before


def test_create_api_key_from_a_shell_prints_a_working_key_last(committed_db, process_env):
    alpha = Tenant.objects.get(slug="alpha")
    result = manage(process_env, "create_api_key", "alpha", "--name", "shell-key")
    try:
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 2 and "It is shown only now" in lines[0]
        response = Api("alpha.localhost", lines[-1]).get("messages")
        assert response.status_code == 200
    finally:
        with schema_context(alpha.schema_name):
            ApiKey.objects.filter(name="shell-key").delete()
    bad = manage(process_env, "create_api_key", "alpha", "--name", "shell-key",
                 "--scope", "everything")
    assert bad.returncode == 1
    assert "Unknown scope 'everything'" in bad.stderr
    assert "Traceback" not in bad.stderr
    with schema_context(alpha.schema_name):
        assert not ApiKey.objects.filter(name="shell-key").exists()
