from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import site_url
from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Create a tenant (schema cloned from the template), its host and its owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="3-30 lowercase letters, digits and hyphens")
        parser.add_argument("--name", required=True, help="company name")
        parser.add_argument("--domain", help="host name (default: <slug>.BASE_DOMAIN)")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)

    def handle(self, *args, **options) -> None:
        try:
            tenant = tenant_provision(
                slug=options["slug"],
                name=options["name"],
                domain=options["domain"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
            )
        except ValidationError as exc:
            lines = [
                f"--{field.replace('_', '-')}: {message}" if field != "slug"
                else f"SLUG: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
            raise CommandError("tenant not created:\n  " + "\n  ".join(lines)) from None
        self.stdout.write(
            f"Created tenant {tenant.slug} (schema {tenant.schema_name}); "
            f"sign in at {site_url(tenant.primary_host, '/accounts/login/')}"
        )
