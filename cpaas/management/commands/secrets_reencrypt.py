"""Encrypt every stored secret again under the first of FIELD_ENCRYPTION_KEYS (rotation)."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context

from compat.public.models import TwilioAccount
from events.models import WebhookSubscription
from messaging.models import ForwardingEndpoint
from tenants.models import ProviderConnection, Tenant


class Command(BaseCommand):
    help = ("Re-encrypt provider credentials, Twilio-dialect auth tokens and every tenant's "
            "signing secrets with the first key of FIELD_ENCRYPTION_KEYS; afterwards the "
            "other keys can be removed.")

    def handle(self, *args, **options) -> None:
        count = 0
        for connection in ProviderConnection.objects.all():
            connection.save(update_fields=["settings"])
            count += 1
        for account in TwilioAccount.objects.all():
            account.save(update_fields=["auth_token", "secondary_token"])
            count += 1
        for schema in (Tenant.objects.exclude(schema_name=get_public_schema_name())
                       .values_list("schema_name", flat=True)):
            with schema_context(schema):
                for model in (ForwardingEndpoint, WebhookSubscription):
                    for row in model.objects.all():
                        row.save(update_fields=["secret"])
                        count += 1
        self.stdout.write(f"{count} secrets re-encrypted with the first key.")
