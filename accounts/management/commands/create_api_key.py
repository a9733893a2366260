from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from accounts.services import api_key_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant; the key is printed once, as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the tenant")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                            help=f"repeatable; one of {', '.join(ApiKey.SCOPES)} "
                                 "(default: all)")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"], is_template=False).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No tenant {options['slug']!r}.")
        try:
            with schema_context(tenant.schema_name):
                api_key, secret = api_key_create(name=options["name"], scopes=options["scopes"])
        except ValidationError as exc:
            lines = [message for messages in exc.message_dict.values() for message in messages]
            raise CommandError("key not created:\n  " + "\n  ".join(lines)) from None
        self.stdout.write(f"Created key {api_key.prefix} for {tenant.slug} "
                          f"({', '.join(api_key.scopes)}). It is shown only now:")
        self.stdout.write(secret)
