"""The demo tenant and operator account that `make run` seeds (idempotently)."""

from django_tenants.utils import schema_context

from accounts.models import User
from messaging.models import Sender
from messaging.senders import sender_register, sender_review
from tenants.models import ProviderConnection, Tenant
from tenants.services import tenant_provision

DEMO_SLUG = "demo"
DEMO_OWNER_EMAIL = "owner@demo.example"
OPERATOR_EMAIL = "operator@example.com"
DEMO_PASSWORD = "demo-sms-portal"  # noqa: S105 - printed by `make run`; development data only
# The demo's number on the simulator: the phone simulator page plays its customers.
DEMO_SENDER = "+15555550100"


def demo_ensure() -> Tenant:
    with schema_context("public"):
        if not User.objects.filter(email=OPERATOR_EMAIL).exists():
            User.objects.create_superuser(OPERATOR_EMAIL, DEMO_PASSWORD, name="Operator")
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is None:
        tenant = tenant_provision(
            slug=DEMO_SLUG,
            name="Demo Co",
            owner_email=DEMO_OWNER_EMAIL,
            owner_password=DEMO_PASSWORD,
        )
    with schema_context(tenant.schema_name):
        registered = Sender.objects.filter(address=DEMO_SENDER).exists()
        if not registered:
            sender_register(address=DEMO_SENDER, kind=Sender.Kind.LONG_CODE,
                            connection=ProviderConnection.SIMULATOR_NAME)
    if not registered:
        sender_review(tenant=tenant, address=DEMO_SENDER, decision="approve")
    return tenant
