"""Production hardening that a deployment relies on: Django's deployment checks pass with
production settings, sign-in failures and signups are rate-limited, MFA is there to turn
on, and a refusal says why in the caller's terms."""

from __future__ import annotations

import secrets
import subprocess
import sys

from django.conf import settings
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tests.conftest import PASSWORD, login
from tests.support.messaging import Api, key_for


def test_check_deploy_reports_nothing_with_production_settings(process_env):
    env = {**process_env, "PRODUCTION": "1", "SECRET_KEY": secrets.token_urlsafe(64),
           "FIELD_ENCRYPTION_KEYS": secrets.token_urlsafe(32)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_repeated_failed_sign_ins_are_refused_even_with_the_right_password(alpha_client):
    for _ in range(10):
        login(alpha_client, "owner@alpha.example", "not-the-password")
    answer = login(alpha_client, "owner@alpha.example", PASSWORD)
    assert answer.status_code == 200  # the form again, not the redirect of a sign-in
    assert "Too many failed login attempts" in answer.content.decode()
    assert alpha_client.get("/").status_code == 302  # still signed out


def test_owners_can_turn_on_two_factor_authentication(alpha_client):
    login(alpha_client, "owner@alpha.example")
    page = alpha_client.get("/accounts/2fa/")
    assert page.status_code == 200, page
    assert "Authenticator" in page.content.decode()
    # Turning it on asks for the password again first (allauth's reauthentication).
    activate = alpha_client.get("/accounts/2fa/totp/activate/")
    assert activate["Location"].startswith("/accounts/reauthenticate/")


def test_a_refused_api_call_speaks_of_the_role_to_a_person_and_the_scope_to_a_key(
        alpha, alpha_client):
    with tenant_context(alpha):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    agent = alpha_client.get("/api/v1/keyword-rules")
    assert agent.status_code == 403
    assert agent.json() == {"code": "permission_denied",
                            "detail": "Your role does not allow this; ask an owner or admin."}

    key = Api(alpha, key_for(alpha, scopes=["messages:read"])).get("keyword-rules")
    assert key.status_code == 403
    assert key.json() == {"code": "permission_denied",
                          "detail": "This API key lacks the scope this operation needs."}
