"""A real Celery worker runs a tenant's task in that tenant's schema, on a connection it
keeps from one task to the next."""

import re
import time

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from accounts.models import Invitation, Role, User
from accounts.services import invitation_create
from messaging.inbound import message_receive_simulated
from tenants.models import Tenant
from tests.support.messaging import SIM_NUMBER
from tests.support.workers import celery_worker

pytestmark = pytest.mark.slow


@pytest.fixture
def worker(process_env, tmp_path):
    mail_dir = tmp_path / "mail"
    env = {
        **process_env,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    with celery_worker(env):
        yield mail_dir


def test_worker_sends_the_invitation_from_the_right_tenant(committed_db, worker):
    alpha = Tenant.objects.get(slug="alpha")
    try:
        with tenant_context(alpha):
            owner = User.objects.get(email="owner@alpha.example")
            invitation = invitation_create(
                email="teammate@alpha.example", role=Role.AGENT, invited_by=owner
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with tenant_context(alpha):
                invitation.refresh_from_db()
            if invitation.sent_at is not None:
                break
            time.sleep(0.2)
        assert invitation.sent_at is not None, "the worker did not send the invitation"
        messages = [path.read_text() for path in worker.iterdir()]
        assert len(messages) == 1
        assert "To: teammate@alpha.example" in messages[0]
        assert "join Alpha" in messages[0]
        assert re.search(rf"http://alpha\.localhost:8000/invitations/{invitation.pk}/\w+/",
                         messages[0])
    finally:
        with tenant_context(alpha):
            Invitation.objects.filter(email="teammate@alpha.example").delete()


def _worker_backends(since) -> set[int]:
    """The PostgreSQL backends opened since ``since`` by another process than this one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND backend_start > %s AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'", [since])
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.skipif(settings.DATABASE_POOLED, reason="behind PgBouncer the server's "
                    "backends are the pooler's, whatever the worker's connections do")
def test_a_worker_keeps_its_database_connection_from_one_task_to_the_next(
        committed_alpha, process_env, tmp_path):
    """Celery's Django fixup closes the connection around every task unless told not to;
    a new backend per task cost each customer's text 20 ms before its processing began."""
    alpha = committed_alpha
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        since = cursor.fetchone()[0]
    with celery_worker(process_env, log=(tmp_path / "worker.log").open("w")):
        backends = []
        for index in range(3):
            with schema_context(alpha.schema_name):
                text = message_receive_simulated(from_address=f"+1415555{index:04d}",
                                                 to=SIM_NUMBER, body="Hello")
            deadline = time.monotonic() + 60
            while True:
                with schema_context(alpha.schema_name):
                    text.refresh_from_db()
                if text.status == "processed" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert text.status == "processed"
            time.sleep(0.3)  # the task has ended
            backends.append(_worker_backends(since))
    # The worker's process holds one connection, still open after each task, the same.
    assert len(backends[0]) == 1
    assert backends[0] == backends[1] == backends[2]
