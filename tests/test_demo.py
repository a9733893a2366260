"""The demo `make run` seeds: an operator, the `demo` tenant, and a number on the simulator
so the phone simulator works at once."""

from django_tenants.utils import schema_context

from accounts.models import User
from cpaas.demo import DEMO_OWNER_EMAIL, DEMO_SENDER, OPERATOR_EMAIL, demo_ensure
from messaging.models import Sender
from tenants.models import SenderRoute


def test_demo_is_seeded_once_with_an_approved_simulator_number(db):
    tenant = demo_ensure()
    assert demo_ensure() == tenant  # idempotent
    assert User.objects.filter(email=OPERATOR_EMAIL, is_staff=True).exists()
    with schema_context(tenant.schema_name):
        assert User.objects.filter(email=DEMO_OWNER_EMAIL).exists()
        sender = Sender.objects.get(address=DEMO_SENDER)
    assert (sender.status, sender.connection) == ("approved", "simulator")
    assert SenderRoute.objects.get(address=DEMO_SENDER).tenant == tenant
