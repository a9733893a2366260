from django.core.management import call_command
from django.core.management.base import BaseCommand

from cpaas import demo
from tenants.services import public_tenant_ensure, template_tenant_ensure


class Command(BaseCommand):
    help = (
        "Bring the installation up to date: migrate every schema, ensure the public tenant "
        "and the template, collect static files and (with --demo) seed the demo tenant. "
        "Idempotent; `make run` calls it on every start."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo", action="store_true", help="seed the demo tenant")
        parser.add_argument("--no-static", action="store_true", help="skip collectstatic")

    def handle(self, *args, **options) -> None:
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        public_tenant_ensure()
        template_tenant_ensure()
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        if not options["no_static"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        if options["demo"]:
            demo.demo_ensure()
