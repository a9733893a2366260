import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cpaas import embedded
from cpaas.demo import (
    DEMO_OWNER_EMAIL,
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_SLUG,
    OPERATOR_EMAIL,
)
from cpaas.supervisor import Child, Supervisor
from tenants.models import ProviderConnection, site_url, tenant_host

# The worker's niceness under `make run`: the web gets the CPU when both want it.
WORKER_NICENESS = 10


def smpp_connector_child(python: str) -> Child | None:
    """The SMPP connector, when there is an SMSC to bind to (an active smpp connection at
    start; one added later needs a restart, or `manage.py smpp_connector` alongside)."""
    if not ProviderConnection.objects.filter(kind=ProviderConnection.Kind.SMPP,
                                             is_active=True).exists():
        return None
    return Child("smpp", [python, str(settings.BASE_DIR / "manage.py"), "smpp_connector"])


def metrics_dir_reset() -> Path:
    """The directory where every child writes its metrics (Prometheus multiprocess mode),
    emptied: the files of a previous run's processes would add to this run's counts."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or embedded.data_dir() / "metrics")
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def worker_child(bin_dir: str) -> Child:
    """The Celery worker, below the web in CPU priority: on one machine a burst of webhooks
    is answered first and processed right after, instead of both slowing down. `nice`
    executes celery in its place, so the supervisor's SIGTERM reaches the worker's main
    process (a warm shutdown)."""
    return Child("worker", [
        "nice", "-n", str(WORKER_NICENESS),
        os.path.join(bin_dir, "celery"), "-A", "cpaas", "worker",
        "--queues", ",".join(settings.WORKER_QUEUES),
        "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2"),
        "--loglevel", "INFO",
    ])


class Command(BaseCommand):
    help = ("Bootstrap, then serve the portal: gunicorn, a Celery worker, Celery beat and, "
            "with an smpp connection, the SMPP connector.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="do not seed the demo tenant")

    def handle(self, *args, **options) -> None:
        embedded_pg = not os.environ.get("DATABASE_URL")
        embedded_redis = not os.environ.get("REDIS_URL")
        try:
            code = self._serve(options)
        finally:
            # Stop the embedded servers even if another process started them: after a SIGKILL
            # nothing else would (docs/ARCHITECTURE.md#measured-constraints).
            if embedded_pg:
                embedded.stop_postgres()
            if embedded_redis:
                embedded.stop_redis()
        sys.exit(code)

    def _serve(self, options: dict) -> int:
        self.stdout.write("[run] migrating and seeding ...")
        call_command("bootstrap", demo=not options["no_demo"], verbosity=0)

        python = sys.executable
        bin_dir = os.path.dirname(python)
        env = {
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
            "PYTHONUNBUFFERED": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir_reset()),
        }
        bind = f"{options['host']}:{settings.PORT}"
        supervisor = Supervisor(
            [
                Child("web", [
                    os.path.join(bin_dir, "gunicorn"), "cpaas.wsgi:application",
                    "--bind", bind,
                    "--workers", os.environ.get("WEB_CONCURRENCY", "3"),
                    "--access-logfile", "-",
                    "--logger-class", "cpaas.access_log.AccessLogger",
                    "--graceful-timeout", "10",
                ]),
                worker_child(bin_dir),
                Child("beat", [
                    os.path.join(bin_dir, "celery"), "-A", "cpaas", "beat", "--loglevel", "INFO",
                ]),
                *filter(None, [smpp_connector_child(python)]),
            ],
            env,
            stop_grace=settings.STOP_GRACE_SECONDS,
        )
        supervisor.start()
        try:
            ready_url = f"http://127.0.0.1:{settings.PORT}/readyz"
            if not supervisor.wait_ready(ready_url, timeout=60):
                if supervisor.stopping:
                    return 0
                supervisor.write("[run] the portal did not become ready; stopping")
                return 1
            self._print_banner(options)
            return supervisor.wait()
        finally:
            supervisor.stop()

    def _print_banner(self, options: dict) -> None:
        lines = [
            "",
            "  SMS portal is running",
            f"  Public site and signup: {settings.PUBLIC_BASE_URL}/",
            f"  Operator console:       {settings.PUBLIC_BASE_URL}/operator/"
            f"  ({OPERATOR_EMAIL} / {DEMO_PASSWORD})",
        ]
        if not options["no_demo"]:
            lines.append(
                f"  Demo tenant:            {site_url(tenant_host(DEMO_SLUG), '/')}"
                f"  ({DEMO_OWNER_EMAIL} / {DEMO_PASSWORD})"
            )
            lines.append(
                f"  Phone simulator:        {site_url(tenant_host(DEMO_SLUG), '/simulator/')}"
                f"  (text the demo number {DEMO_SENDER} as a customer)"
            )
        lines += ["  Press Ctrl-C to stop.", ""]
        self.stdout.write("\n".join(lines))
