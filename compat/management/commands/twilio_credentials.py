from django.core.management.base import BaseCommand, CommandError, CommandParser

from compat.twilio.credentials import (
    twilio_account_ensure,
    twilio_token_promote,
    twilio_token_rotate,
)
from core.errors import DomainError
from tenants.models import Tenant


class Command(BaseCommand):
    help = ("Print a tenant's Twilio-dialect credentials, '<AccountSid> <AuthToken>', as the "
            "last line (the same pair on every call). --rotate makes a new secondary token "
            "and prints it instead: it works beside the old one until --promote makes it the "
            "auth token.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the tenant")
        change = parser.add_mutually_exclusive_group()
        change.add_argument("--rotate", action="store_true",
                            help="make a new secondary token and print it")
        change.add_argument("--promote", action="store_true",
                            help="make the secondary token the auth token (the old one "
                                 "stops working)")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"], is_template=False).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No tenant {options['slug']!r}.")
        account = twilio_account_ensure(tenant=tenant)
        token = account.auth_token
        if options["rotate"]:
            token = twilio_token_rotate(account=account)
            self.stdout.write("A secondary token: it works beside the auth token until "
                              "promoted (--promote).")
        elif options["promote"]:
            try:
                twilio_token_promote(account=account)
            except DomainError as exc:
                raise CommandError(f"{exc.code}: {exc.detail}") from None
            token = account.auth_token
            self.stdout.write("The secondary token is now the auth token.")
        self.stdout.write(f"{account.sid} {token}")
