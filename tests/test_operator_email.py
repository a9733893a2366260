"""Operator staff are emailed by a real Celery worker when a tenant registers a sender
that awaits their review (docs/ARCHITECTURE.md#operator-console)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from messaging.models import Sender
from messaging.senders import sender_register
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow

STAFF = "reviewer@operator.example"
ADDRESS = "+14155550178"


@pytest.fixture
def mail_dir(process_env, tmp_path):
    mail = tmp_path / "mail"
    env = {**process_env, "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
           "EMAIL_FILE_PATH": str(mail)}
    with celery_worker(env):
        yield mail


def test_registering_a_sender_emails_the_operator_staff(committed_db, mail_dir):
    alpha = Tenant.objects.get(slug="alpha")
    User.objects.create_user(STAFF, PASSWORD, is_staff=True)
    try:
        with schema_context(alpha.schema_name):
            sender_register(address=ADDRESS, kind="long_code", connection="simulator")
        deadline, mails = time.monotonic() + 60, []
        while time.monotonic() < deadline and not mails:
            mails = [path.read_text() for path in mail_dir.glob("*")
                     if ADDRESS in path.read_text()] if mail_dir.exists() else []
            time.sleep(0.2)
        assert len(mails) == 1, "the worker sent no email about the sender"
        assert f"To: {STAFF}" in mails[0]
        assert "Subject: Sender to review: +14155550178 (alpha)" in mails[0]
        assert "http://localhost:8000/operator/senders/?status=pending" in mails[0]
    finally:
        with schema_context(alpha.schema_name):
            Sender.objects.filter(address=ADDRESS).delete()
        # The ORM's cascade would visit tenant-only tables, absent from the public schema.
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE email = %s", [STAFF])
