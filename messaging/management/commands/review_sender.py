from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from messaging.senders import sender_review
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Approve (and route) or reject a tenant's sender."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the tenant")
        parser.add_argument("address", help="the sender's address, e.g. +14155550123")
        decision = parser.add_mutually_exclusive_group(required=True)
        decision.add_argument("--approve", action="store_true")
        decision.add_argument("--reject", action="store_true")
        parser.add_argument("--reason", default="", help="shown to the tenant")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"], is_template=False).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No tenant {options['slug']!r}.")
        if options["approve"] and options["reason"]:
            raise CommandError("--reason goes with --reject.")
        decision = "approve" if options["approve"] else "reject"
        try:
            sender = sender_review(tenant=tenant, address=options["address"],
                                   decision=decision, reason=options["reason"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None
        self.stdout.write(f"{sender.address} for {tenant.slug}: {sender.status}")
