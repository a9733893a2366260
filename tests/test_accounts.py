import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Invitation, Role, User
from accounts.services import invitation_send
from tests.conftest import PASSWORD, host_client, login
from tests.support.fakes import FakeSMTPServer, closed_port
from tests.support.workers import celery_worker


def test_owner_signs_in_on_own_host(alpha_client):
    response = login(alpha_client, "owner@alpha.example")
    assert response.status_code == 302
    assert alpha_client.get("/").status_code == 200


def test_owner_is_refused_on_another_tenants_host(beta_client):
    response = login(beta_client, "owner@alpha.example")
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert beta_client.get("/").status_code == 302  # still anonymous: sent to the login page


def test_a_session_from_one_tenant_is_worthless_on_another(alpha_client):
    login(alpha_client, "owner@alpha.example")
    # The test client sends every cookie to every host; the session row lives in alpha's
    # schema, so beta cannot find it.
    response = alpha_client.get("/", HTTP_HOST="beta.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_tenant_users_cannot_use_the_operator_console(public_client):
    public_client.post("/operator/login/", {"username": "owner@alpha.example",
                                            "password": PASSWORD})
    response = public_client.get("/operator/tenants/")
    assert response.status_code == 302 and response["Location"].startswith("/operator/login/")


def test_operator_console_is_not_served_on_tenant_hosts(alpha_client):
    assert alpha_client.get("/operator/").status_code == 404
    assert alpha_client.get("/operator/tenants/").status_code == 404


def test_operator_staff_sign_in_on_the_public_host(public_client):
    User.objects.create_superuser("ops@operator.example", PASSWORD)
    public_client.post("/operator/login/", {"username": "ops@operator.example",
                                            "password": PASSWORD})
    response = public_client.get("/operator/tenants/")
    assert response.status_code == 200
    assert b"alpha" in response.content and b"beta" in response.content


def _member(tenant, email: str, role: str) -> User:
    with tenant_context(tenant):
        return User.objects.create_user(email, PASSWORD, role=role)


def test_agents_cannot_open_the_team_page(alpha, alpha_client):
    _member(alpha, "agent@alpha.example", Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    assert alpha_client.get("/team/").status_code == 403


def test_invitation_lets_the_invitee_set_a_password_and_join_with_the_role(
    alpha, alpha_client, django_capture_on_commit_callbacks
):
    login(alpha_client, "owner@alpha.example")
    with django_capture_on_commit_callbacks() as callbacks:
        response = alpha_client.post("/team/", {"email": "New@Alpha.example", "role": "admin"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the email task is enqueued only once the invitation commits

    with tenant_context(alpha):
        invitation = Invitation.objects.get(email="new@alpha.example")
        invitation_send(invitation_id=invitation.pk)
        invitation_send(invitation_id=invitation.pk)  # a redelivered task sends nothing more
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@alpha.example"]
    link = re.search(r"http://alpha\.localhost:8000(/invitations/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    invitee = host_client("alpha.localhost")
    assert invitee.get(link.group(1)).status_code == 200
    response = invitee.post(link.group(1), {"name": "Nia", "password": "x"})
    assert response.status_code == 400  # weak password: form error, no account
    with tenant_context(alpha):
        assert not User.objects.filter(email="new@alpha.example").exists()

    response = invitee.post(link.group(1), {"name": "Nia", "password": "another-long-password"})
    assert response.status_code == 302
    assert invitee.get("/team/").status_code == 200  # signed in, as an admin
    with tenant_context(alpha):
        assert User.objects.get(email="new@alpha.example").role == Role.ADMIN
    # The link works once.
    assert host_client("alpha.localhost").get(link.group(1)).status_code == 404


def test_invitation_links_do_not_work_on_another_tenant_or_when_tampered(alpha, beta):
    with tenant_context(alpha):
        owner = User.objects.get(email="owner@alpha.example")
        from accounts.services import invitation_create, invitation_token

        invitation = invitation_create(email="x@x.example", role=Role.AGENT, invited_by=owner)
        path = f"/invitations/{invitation.pk}/{invitation_token(invitation)}/"
    assert host_client("alpha.localhost").get(path).status_code == 200
    assert host_client("beta.localhost").get(path).status_code == 404
    # The token's last character changed (to one it is not: "00" was once the token's own end).
    tampered = path[:-2] + ("1" if path[-2] == "0" else "0") + "/"
    assert host_client("alpha.localhost").get(tampered).status_code == 404
    with tenant_context(alpha):
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    assert host_client("alpha.localhost").get(path).status_code == 404


def test_inviting_an_existing_member_is_a_form_error(alpha_client):
    login(alpha_client, "owner@alpha.example")
    response = alpha_client.post("/team/", {"email": "owner@alpha.example", "role": "agent"})
    assert response.status_code == 400
    assert b"already a member" in response.content


# --- Emails allauth sends -------------------------------------------------------------------

# The Host header a client chose: any port on a tenant's host name reaches the tenant.
FORGED_HOST = "alpha.localhost:6666"


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def plain_text(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture(scope="module")
def mail_worker(process_env, tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """A Celery worker that mails through SMTP on 127.0.0.1:<port>, where nothing listens
    until a test starts a FakeSMTPServer there (as under `make run` with no mail server);
    yields the port and the worker's log."""
    port = closed_port()
    log = tmp_path_factory.mktemp("mail_worker") / "worker.log"
    env = {**process_env, "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
    with log.open("w") as output, celery_worker(env, log=output):
        yield port, log


@pytest.mark.slow
def test_password_reset_answers_alike_without_a_mail_server_and_mails_the_public_link(
        alpha, mail_worker, settings):
    port, log = mail_worker
    # The web process has no mail server either.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    client = Client(HTTP_HOST=FORGED_HOST, raise_request_exception=False)
    known = client.post("/accounts/password/reset/", {"email": "owner@alpha.example"},
                        follow=True)
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@alpha.example"},
                          follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain == [
        ("/accounts/password/reset/done/", 302)]
    assert known.content == unknown.content

    # The worker found no mail server, logged it, and retries.
    wait_until(lambda: all(f"to {email} not sent" in log.read_text()
                           for email in ("owner@alpha.example", "nobody@alpha.example")),
               60, "the failures in the worker's log")
    with FakeSMTPServer(port) as smtp:
        wait_until(lambda: len(smtp.messages) == 2, 120, "the retried emails")
    mails = {message["To"]: message for message in smtp.messages}

    reset = mails["owner@alpha.example"]
    assert reset["Subject"] == "[Alpha] Password Reset Email"
    body = plain_text(reset)
    link = re.search(r"http://alpha\.localhost:8000(/accounts/password/reset/key/\S+)", body)
    assert link, body
    assert "6666" not in body
    page = host_client("alpha.localhost").get(link.group(1), follow=True)
    assert page.status_code == 200
    assert b'name="password1"' in page.content  # the link opens the new-password form

    nobody = plain_text(mails["nobody@alpha.example"])
    assert "Ask an owner or admin of your team to invite you" in nobody
    assert "6666" not in nobody and "/accounts/signup/" not in nobody


@pytest.mark.slow
def test_an_added_address_gets_a_confirmation_link_on_the_public_port(alpha, mail_worker):
    port, _ = mail_worker
    client = Client(HTTP_HOST=FORGED_HOST)
    login(client, "owner@alpha.example")
    with FakeSMTPServer(port) as smtp:
        response = client.post("/accounts/email/", {"action_add": "",
                                                    "email": "boss@alpha.example"})
        assert response.status_code == 302
        wait_until(lambda: smtp.messages, 60, "the confirmation email")
    body = plain_text(smtp.messages[0])
    assert smtp.messages[0]["To"] == "boss@alpha.example"
    assert re.search(r"http://alpha\.localhost:8000/accounts/confirm-email/\S+/", body), body
    assert "6666" not in body


def test_two_factor_authentication_can_be_set_up(alpha_client):
    login(alpha_client, "owner@alpha.example")
    response = alpha_client.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:  # allauth asks for the password again before MFA changes
        assert response["Location"].startswith("/accounts/reauthenticate/")
        alpha_client.post(response["Location"], {"password": PASSWORD})
        response = alpha_client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert "totp_url" in response.context and "secret=" in response.context["totp_url"]


@pytest.mark.usefixtures("db")
def test_cache_keys_are_per_tenant(alpha, beta):
    with tenant_context(alpha):
        cache.set("greeting", "alpha only")
    with tenant_context(beta):
        assert cache.get("greeting") is None
    with tenant_context(alpha):
        assert cache.get("greeting") == "alpha only"
        cache.delete("greeting")
