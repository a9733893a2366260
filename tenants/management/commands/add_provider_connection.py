from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.connections import connection_add
from tenants.provider_kinds import provider_kind_names


class Command(BaseCommand):
    help = "Add a provider connection (operator level); secrets are never printed in full."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="used in webhook URLs: /webhooks/<name>/inbound")
        parser.add_argument("--kind", required=True, help=", ".join(provider_kind_names()))
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="a setting, e.g. --set account_sid=AC...; repeatable")

    def handle(self, *args, **options) -> None:
        settings: dict[str, str] = {}
        for item in options["set"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--set {item!r}: write KEY=VALUE.")
            settings[key.strip()] = value
        try:
            connection = connection_add(name=options["name"], kind=options["kind"],
                                        settings=settings)
        except ValidationError as exc:
            lines = [f"{field}: {message}" for field, messages in exc.message_dict.items()
                     for message in messages]
            raise CommandError("connection not added:\n  " + "\n  ".join(lines)) from None
        shown = ", ".join(f"{k}={v}" for k, v in connection.masked_settings().items())
        self.stdout.write(f"Added connection {connection.name} ({connection.kind})"
                          + (f": {shown}" if shown else ""))
