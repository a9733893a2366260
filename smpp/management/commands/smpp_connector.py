import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smpp.config import config_from
from smpp.connector import connectors_run
from tenants.models import ProviderConnection


class Command(BaseCommand):
    help = ("Hold the SMPP binds: submit what the smpp backend queued, receive receipts and "
            "customers' messages. Runs until SIGTERM or SIGINT.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", metavar="NAME",
                            help="only this smpp connection (default: every active one)")

    def handle(self, *args, **options) -> None:
        connections = ProviderConnection.objects.filter(kind=ProviderConnection.Kind.SMPP,
                                                        is_active=True)
        if options["connection"]:
            connections = connections.filter(name=options["connection"])
        configs = [config_from(c.name, c.settings) for c in connections]
        if not configs:
            raise CommandError("no active smpp connection"
                               + (f" named {options['connection']!r}"
                                  if options["connection"] else ""))
        self.stdout.write(f"smpp connector: {', '.join(c.name for c in configs)}")
        asyncio.run(self._run(configs))
        self.stdout.write("smpp connector stopped")

    async def _run(self, configs) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        # One database thread: Django's ORM is synchronous, and one connection suffices
        # for batched writes.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="smpp-db") as db:
            await connectors_run(configs, stop=stop, db=db)
