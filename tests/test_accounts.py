import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Invitation, Role, User
from accounts.services import invitation_send
from tests.conftest import PASSWORD, host_client, login


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
    assert public_client.get("/operator/").status_code == 302


def test_operator_console_is_not_served_on_tenant_hosts(alpha_client):
    assert alpha_client.get("/operator/").status_code == 404


def test_operator_staff_sign_in_on_the_public_host(public_client):
    User.objects.create_superuser("ops@operator.example", PASSWORD)
    public_client.post("/operator/login/", {"username": "ops@operator.example",
                                            "password": PASSWORD})
    response = public_client.get("/operator/tenants/tenant/")
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
    assert host_client("alpha.localhost").get(path[:-3] + "00/").status_code == 404
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


def test_password_reset_mails_a_link_on_the_tenants_host(alpha_client):
    response = alpha_client.post("/accounts/password/reset/", {"email": "owner@alpha.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "http://alpha.localhost/accounts/password/reset/key/" in mail.outbox[0].body


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
