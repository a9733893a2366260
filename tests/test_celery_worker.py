"""A real Celery worker runs a tenant's task in that tenant's schema."""

import re
import time

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Invitation, Role, User
from accounts.services import invitation_create
from tenants.models import Tenant
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
