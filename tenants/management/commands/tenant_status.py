from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Tenant
from tenants.status import tenant_customer_get, tenant_status_set


class Command(BaseCommand):
    help = ("Set a tenant's status: active, suspended (reads and inbound only; sends "
            "refused) or closed (no sign-in, senders unrouted).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("status", help=", ".join(Tenant.Status.values))
        parser.add_argument("--reason", default="",
                            help="shown to the tenant's staff on the sign-in page")

    def handle(self, *args, **options) -> None:
        try:
            tenant = tenant_customer_get(options["slug"])
            previous = tenant.status
            tenant_status_set(tenant=tenant, status=options["status"],
                              reason=options["reason"], actor="command")
        except ValidationError as exc:
            lines = [message for messages in exc.message_dict.values() for message in messages]
            raise CommandError("status not changed:\n  " + "\n  ".join(lines)) from None
        self.stdout.write(f"{tenant.slug}: {previous} -> {tenant.status}")
