from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.billing import billing_csv, month_parse


class Command(BaseCommand):
    help = ("Print a month's billing export as CSV: per tenant, priced prefix and "
            "direction, the messages, segments, price per segment and amount.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM")

    def handle(self, *args, **options) -> None:
        try:
            month = month_parse(options["month"])
        except ValidationError as exc:
            raise CommandError(exc.message_dict["month"][0]) from None
        self.stdout.write(billing_csv(month=month), ending="")
