"""The team page: owners and admins change roles, remove members and revoke invitations,
each removal after a confirmation; the team always keeps an owner; an invitation shows
its link to copy and what became of its email, as the worker recorded it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Invitation, MailStatus, Role, User
from accounts.services import invitation_send_failed, invitation_token
from messaging.conversations import conversation_assign
from messaging.models import Conversation, ConversationActivity
from tenants.models import Tenant
from tests.conftest import PASSWORD, host_client, login
from tests.support.db import tenant_data_reset
from tests.support.fakes import FakeSMTPServer, closed_port
from tests.support.messaging import customer_texts
from tests.support.workers import celery_worker

CONFIRM = {"confirm": "yes"}


def member(tenant: Tenant, email: str, role: str) -> User:
    with schema_context(tenant.schema_name):
        return User.objects.create_user(email, PASSWORD, role=role)


def signed_in(email: str) -> Client:
    client = host_client("alpha.localhost")
    assert login(client, email).status_code == 302
    return client


def role_of(tenant: Tenant, email: str) -> tuple[str, bool]:
    with schema_context(tenant.schema_name):
        user = User.objects.get(email=email)
    return user.role, user.is_active


@pytest.fixture
def owner(alpha) -> Client:
    return signed_in("owner@alpha.example")


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_an_owner_changes_a_role_and_the_page_says_so(alpha, owner):
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    changed = owner.post(f"/team/members/{agent.pk}/role/", {f"m{agent.pk}-role": "admin"},
                         follow=True)
    assert "agent@alpha.example is now admin." in text(changed)
    assert role_of(alpha, "agent@alpha.example") == (Role.ADMIN, True)
    # The new admin opens the admin pages at once.
    assert signed_in("agent@alpha.example").get("/team/").status_code == 200


def test_the_last_owner_cannot_step_down_and_the_error_shows_beside_the_role(alpha, owner):
    with schema_context(alpha.schema_name):
        me = User.objects.get(email="owner@alpha.example")
    refused = owner.post(f"/team/members/{me.pk}/role/", {f"m{me.pk}-role": "admin"})
    assert refused.status_code == 400
    page = refused.content.decode()
    error = re.search(rf'<span class="error" id="role-error-{me.pk}" role="alert">([^<]+)',
                      page)
    assert error and "owner@alpha.example is the only owner: make someone else an owner " \
                     "first." in error.group(1)
    assert f'aria-describedby="role-error-{me.pk}"' in page
    assert role_of(alpha, "owner@alpha.example") == (Role.OWNER, True)

    # With a second owner, the first may step down.
    second = member(alpha, "second@alpha.example", Role.ADMIN)
    owner.post(f"/team/members/{second.pk}/role/", {f"m{second.pk}-role": "owner"})
    assert role_of(alpha, "second@alpha.example") == (Role.OWNER, True)
    stepped = owner.post(f"/team/members/{me.pk}/role/", {f"m{me.pk}-role": "admin"})
    assert stepped.status_code == 302
    assert role_of(alpha, "owner@alpha.example") == (Role.ADMIN, True)


def test_an_admin_neither_makes_owners_nor_touches_them(alpha):
    admin = member(alpha, "admin@alpha.example", Role.ADMIN)
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    with schema_context(alpha.schema_name):
        owner = User.objects.get(email="owner@alpha.example")
    client = signed_in("admin@alpha.example")
    page = client.get("/team/").content.decode()
    assert f'href="/team/members/{owner.pk}/remove/"' not in page
    assert '<option value="owner"' not in page  # an admin is offered admin and agent only
    refused = client.post(f"/team/members/{agent.pk}/role/", {f"m{agent.pk}-role": "owner"})
    assert refused.status_code == 400
    assert "Only an owner can make someone an owner" in text(refused)
    assert client.post(f"/team/members/{owner.pk}/role/",
                       {f"m{owner.pk}-role": "agent"}).status_code == 400
    removal = client.post(f"/team/members/{owner.pk}/remove/", CONFIRM)
    assert removal.status_code == 400 and "Only an owner can remove an owner." in text(removal)
    assert role_of(alpha, "owner@alpha.example") == (Role.OWNER, True)
    assert role_of(alpha, "agent@alpha.example") == (Role.AGENT, True)
    assert client.get(f"/team/members/{admin.pk}/remove/").status_code == 200
    assert "You cannot remove yourself" in text(
        client.post(f"/team/members/{admin.pk}/remove/", CONFIRM))


def test_removing_a_member_asks_first_then_signs_them_out_for_good(alpha, owner):
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    agents_session = signed_in("agent@alpha.example")
    path = f"/team/members/{agent.pk}/remove/"
    assert f'href="{path}"' in owner.get("/team/").content.decode()
    question = owner.get(path)
    assert question.status_code == 200
    assert "Remove agent@alpha.example from the team?" in text(question)
    assert '<button type="submit" class="danger">Remove member</button>' in \
        question.content.decode()
    assert owner.post(path).status_code == 200  # a POST without the confirmation asks again
    assert role_of(alpha, "agent@alpha.example") == (Role.AGENT, True)

    removed = owner.post(path, CONFIRM, follow=True)
    assert "agent@alpha.example was removed from the team." in text(removed)
    assert "agent@alpha.example" not in text(owner.get("/team/"))
    assert role_of(alpha, "agent@alpha.example") == (Role.AGENT, False)
    # Their open session and their password no longer let them in.
    assert agents_session.get("/").status_code == 302
    again = host_client("alpha.localhost")
    login(again, "agent@alpha.example")
    assert again.get("/")["Location"].startswith("/accounts/login/")
    assert owner.get(path).status_code == 404  # gone from the team


def test_a_removed_members_conversations_go_back_to_nobody(alpha, owner, sim_sender):
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    customer_texts(alpha, "Hello")
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get()
        conversation_assign(conversation=conversation, assignee=agent)
    owner.post(f"/team/members/{agent.pk}/remove/", CONFIRM)
    with schema_context(alpha.schema_name):
        conversation.refresh_from_db()
        assert conversation.assignee_id is None
        unassigned = ConversationActivity.objects.filter(
            conversation=conversation, kind=ConversationActivity.Kind.UNASSIGNED).get()
        assert unassigned.actor.email == "owner@alpha.example"  # the thread says who


def test_a_removed_member_invited_again_comes_back_with_the_new_role(alpha, owner):
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    owner.post(f"/team/members/{agent.pk}/remove/", CONFIRM)
    assert owner.post("/team/", {"email": "agent@alpha.example", "role": "admin"}
                      ).status_code == 302
    with schema_context(alpha.schema_name):
        invitation = Invitation.objects.get(email="agent@alpha.example")
        link = f"/invitations/{invitation.pk}/{invitation_token(invitation)}/"
    invitee = host_client("alpha.localhost")
    assert invitee.post(link, {"name": "Ada", "password": "a-new-long-password"}
                        ).status_code == 302
    assert role_of(alpha, "agent@alpha.example") == (Role.ADMIN, True)
    with schema_context(alpha.schema_name):
        assert User.objects.filter(email="agent@alpha.example").count() == 1


def test_an_invitation_shows_its_link_and_the_state_of_its_email(alpha, owner):
    created = owner.post("/team/", {"email": "new@alpha.example", "role": "agent"}, follow=True)
    page = created.content.decode()
    assert "Invitation for new@alpha.example created" in text(created)
    assert "Invitation sent" not in page  # nothing says "sent" before the worker did
    with schema_context(alpha.schema_name):
        invitation = Invitation.objects.get()
        link = f"http://alpha.localhost:8000/invitations/{invitation.pk}/" \
               f"{invitation_token(invitation)}/"
    assert f'value="{link}" readonly' in page
    assert f'data-copy="invite-link-{invitation.pk}" hidden' in page  # shown by copy.js
    assert "Sending…" in text(created)
    with schema_context(alpha.schema_name):
        invitation_send_failed(invitation_id=invitation.pk,
                               reason="the mail server localhost:25 refused the connection",
                               final=True)
    shown = text(owner.get("/team/"))
    assert "Not sent : the mail server localhost:25 refused the connection." in shown
    assert "Copy the link and send it yourself, or resend" in shown


def test_resending_sends_the_same_link_again(alpha, owner, django_capture_on_commit_callbacks):
    owner.post("/team/", {"email": "new@alpha.example", "role": "agent"})
    with schema_context(alpha.schema_name):
        invitation = Invitation.objects.get()
        invitation_send_failed(invitation_id=invitation.pk, reason="no server", final=True)
    with django_capture_on_commit_callbacks() as callbacks:
        resent = owner.post(f"/team/invitations/{invitation.pk}/resend/", follow=True)
    assert "is being sent again" in text(resent)
    assert len(callbacks) == 1  # one email task, after commit
    with schema_context(alpha.schema_name):
        again = Invitation.objects.get()
    assert (again.pk, again.nonce, again.mail_status, again.mail_error) == (
        invitation.pk, invitation.nonce, MailStatus.SENDING, "")
    assert again.expires_at > invitation.expires_at


def test_revoking_an_invitation_asks_first_and_then_its_link_is_dead(alpha, owner):
    owner.post("/team/", {"email": "new@alpha.example", "role": "agent"})
    with schema_context(alpha.schema_name):
        invitation = Invitation.objects.get()
        link = f"/invitations/{invitation.pk}/{invitation_token(invitation)}/"
    path = f"/team/invitations/{invitation.pk}/revoke/"
    assert "Revoke the invitation for new@alpha.example?" in text(owner.get(path))
    owner.post(path)
    assert host_client("alpha.localhost").get(link).status_code == 200  # still valid
    revoked = owner.post(path, CONFIRM, follow=True)
    assert "its link no longer works" in text(revoked)
    assert host_client("alpha.localhost").get(link).status_code == 404
    with schema_context(alpha.schema_name):
        assert not Invitation.objects.exists()


def test_agents_and_other_tenants_manage_nothing(alpha, beta):
    agent = member(alpha, "agent@alpha.example", Role.AGENT)
    client = signed_in("agent@alpha.example")
    with schema_context(alpha.schema_name):
        owner = User.objects.get(email="owner@alpha.example")
    for path in (f"/team/members/{owner.pk}/remove/", f"/team/members/{agent.pk}/role/"):
        assert client.post(path, {**CONFIRM, f"m{owner.pk}-role": "agent"}).status_code == 403
    assert role_of(alpha, "owner@alpha.example") == (Role.OWNER, True)
    betas = host_client("beta.localhost")
    login(betas, "owner@beta.example")
    assert betas.post(f"/team/members/{agent.pk}/remove/", CONFIRM).status_code == 404
    assert role_of(alpha, "agent@alpha.example") == (Role.AGENT, True)


# --- With a real worker and no mail server (make run's default) --------------------------

def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def alpha_committed(committed_db) -> Iterator[Tenant]:
    alpha = Tenant.objects.get(slug="alpha")
    try:
        yield alpha
    finally:
        tenant_data_reset(alpha)


@pytest.mark.slow
def test_the_page_says_when_the_invitation_email_could_not_leave_and_when_it_did(
        alpha_committed, process_env, tmp_path):
    port = closed_port()
    env = {**process_env, "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
    owner = signed_in("owner@alpha.example")
    with (tmp_path / "worker.log").open("w") as log, celery_worker(env, log=log):
        owner.post("/team/", {"email": "new@alpha.example", "role": "agent"})

        def state() -> str:
            with schema_context(alpha_committed.schema_name):
                return Invitation.objects.get().mail_status

        wait_for(lambda: state() == MailStatus.RETRYING)
        page = text(owner.get("/team/"))
        assert (f"Not sent yet, retrying : the mail server 127.0.0.1:{port} refused the "
                "connection (is one running?).") in page
        with FakeSMTPServer(port) as smtp:
            with schema_context(alpha_committed.schema_name):
                invitation = Invitation.objects.get()
            owner.post(f"/team/invitations/{invitation.pk}/resend/")
            wait_for(lambda: state() == MailStatus.SENT)
            assert smtp.messages[-1]["To"] == "new@alpha.example"
        assert "Sent" in text(owner.get("/team/"))
