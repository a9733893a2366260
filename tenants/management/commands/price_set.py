from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.billing import price_set


class Command(BaseCommand):
    help = ("Set the price per segment for numbers starting with PREFIX (digits after the "
            "plus); the billing export uses the longest matching prefix.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")
        parser.add_argument("price", help="per segment, e.g. 0.0075")
        parser.add_argument("--currency", default="USD")

    def handle(self, *args, **options) -> None:
        try:
            price = price_set(prefix=options["prefix"], price_per_segment=options["price"],
                              currency=options["currency"])
        except ValidationError as exc:
            lines = [f"{field}: {message}" for field, messages in exc.message_dict.items()
                     for message in messages]
            raise CommandError("price not set:\n  " + "\n  ".join(lines)) from None
        self.stdout.write(f"{price.prefix}: {price.price_per_segment} {price.currency} "
                          "per segment")
