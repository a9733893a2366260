"""`make bench` section `engines`: what the pooled backend costs per statement, and inbound
ingest, `/messages/bulk` and campaign throughput on the embedded defaults (pgserver
PostgreSQL, Redis as broker) and on the production engines (the machine's RabbitMQ, in a
vhost of the bench's own, and the machine's PostgreSQL behind a PgBouncer in transaction
mode that the bench starts), in the same run.

Each side is measured by a child process (`python bench/engines.py measure`) whose
environment chooses the engines, so both run the same code the same way; the Redis cache is
the bench's embedded one on both sides.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INGEST_SECONDS = int(os.environ.get("BENCH_INGEST_SECONDS", "15"))
CAMPAIGN_RECIPIENTS = int(os.environ.get("BENCH_ENGINES_CAMPAIGN_RECIPIENTS", "20000"))
# Each side this many times, alternately; each figure is the median of its side's runs.
ROUNDS = int(os.environ.get("BENCH_ENGINES_ROUNDS", "3"))
MACHINE_POSTGRES = ("127.0.0.1", 5432)
MACHINE_RABBITMQ = "127.0.0.1:5672"
DATABASE = "cpaas_bench_engines"


def measure() -> dict[str, float]:
    """In the child: set up the messaging bench tenant on this side's engines, then
    inbound ingest (gunicorn and a worker, wrk) and the outbound figure; then the campaign
    bench's tenant and lists, and a campaign's delivery figure."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bench import campaigns, messaging
    from tenants.models import Tenant

    call_command("bootstrap", no_static=True, verbosity=0)
    for tenant in Tenant.objects.filter(slug="bench-msg"):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        tenant.delete()
    tenant, key = messaging.setup()
    path = "/webhooks/bench-twilio/inbound"
    port = messaging.free_port()
    public_url = f"http://localhost:{port}"
    file = messaging.signed_requests(path, public_url, 301, INGEST_SECONDS * 5000)
    try:
        with messaging.processes(
                messaging.gunicorn("cpaas.wsgi:application", port),
                messaging.celery_worker(",".join(settings.WORKER_QUEUES), 2, "engines"),
                env=messaging.child_env(PUBLIC_BASE_URL=public_url)):
            messaging.wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(3)  # the worker's start-up
            ingest = messaging.wrk(port, path, f"localhost:{port}", file, INGEST_SECONDS,
                                   messaging.INGEST_CONNECTIONS)
    finally:
        file.unlink()
    outbound = messaging.outbound(tenant, key)
    tenant, key = campaigns.tenant_setup()
    lists = campaigns.lists_import(tenant, {
        "Everyone": (303, CAMPAIGN_RECIPIENTS),
        "Warm-up": (305, campaigns.WARM_UP_RECIPIENTS)})
    # What autovacuum does after imports this size; the machine's server runs without it,
    # and a campaign's audience query planned on empty-table estimates is another query.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    campaign_rate = campaigns.delivery_rate(tenant, key, lists["Everyone"], lists["Warm-up"],
                                            CAMPAIGN_RECIPIENTS)
    return {"ingest_rps": ingest["rps"], "ingest_p99_ms": ingest["p99_us"] / 1000,
            "ingest_errors": ingest["non2xx"] + ingest["errors"],
            "bulk_rate": outbound["rate"], "campaign_rate": campaign_rate}


def _side(env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "measure"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"bench engines side failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _psql(statement: str) -> None:
    subprocess.run(["psql", "-h", MACHINE_POSTGRES[0], "-p", str(MACHINE_POSTGRES[1]), "-U",
                    "postgres", "-qc", statement], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


def compare() -> dict[str, list[dict[str, float]]]:
    """Both sides ``ROUNDS`` times, alternately, embedded first: one run of each swung by
    more than the gap measured (a campaign's ratio went from 65% to 113% between two runs
    of the same code). Each production run has a RabbitMQ vhost of its own, so no run
    consumes tasks another left; the database and the vhosts are removed afterwards."""
    from django.conf import settings

    from tests.support.engines import PgBouncer

    embedded = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "DATABASE_POOLED", "CELERY_BROKER_URL"):
        embedded.pop(name, None)
    runs: dict[str, list[dict[str, float]]] = {"embedded": [], "engines": []}
    _psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _psql(f"CREATE DATABASE {DATABASE}")
    # The embedded server commits without waiting for the disk (cpaas/embedded.py); so does
    # this database, so that the figures compare the broker and the pooler, not fsyncs. Nor
    # does it compile queries (pgserver's build has no JIT): a campaign's audience queries
    # cost enough to be compiled, for tens of milliseconds each, on every chunk
    # (docs/DEPLOY.md#postgresql).
    _psql(f"ALTER DATABASE {DATABASE} SET synchronous_commit = off")
    _psql(f"ALTER DATABASE {DATABASE} SET jit = off")
    bouncer = PgBouncer(server_host=MACHINE_POSTGRES[0], server_port=MACHINE_POSTGRES[1])
    bouncer.start()
    try:
        for round_number in range(ROUNDS):
            runs["embedded"].append(_side(embedded))
            vhost = f"cpaas_bench_{os.getpid()}_{round_number}"
            subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True,
                           stdout=subprocess.DEVNULL)
            try:
                subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*",
                                ".*", ".*"], check=True, stdout=subprocess.DEVNULL)
                runs["engines"].append(_side({
                    **embedded, "DATABASE_URL": bouncer.url(DATABASE), "DATABASE_POOLED": "1",
                    "REDIS_URL": settings.REDIS_URL,
                    "CELERY_BROKER_URL": f"amqp://guest:guest@{MACHINE_RABBITMQ}/{vhost}"}))
            finally:
                subprocess.run(["rabbitmqctl", "delete_vhost", vhost], check=False,
                               stdout=subprocess.DEVNULL)
    finally:
        bouncer.stop()
        _psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    return runs


STATEMENTS = 2000


def statement_cost() -> dict[str, float]:
    """Microseconds per statement through one PgBouncer in front of the bench's PostgreSQL,
    in a tenant's schema: the pooled backend (the schema sent with every autocommit
    statement and with the first of each transaction) against django-tenants' backend
    (the schema set once per connection, which is what is unsafe through the pooler).
    Autocommit statements, then transactions of five."""
    from django.db import connection
    from django.db.utils import load_backend

    from tests.support.engines import PgBouncer

    settings_dict = connection.settings_dict
    host = settings_dict["HOST"] or MACHINE_POSTGRES[0]
    bouncer = PgBouncer(server_host=host, server_port=int(settings_dict["PORT"] or 5432),
                        pool_size=2).start()
    timings = {}
    try:
        for name, engine in (("pooled", "cpaas.pooled_postgresql"),
                             ("plain", "django_tenants.postgresql_backend")):
            db = load_backend(engine).DatabaseWrapper(
                {**settings_dict, "ENGINE": engine, "HOST": bouncer.host,
                 "PORT": bouncer.port}, f"bench_{name}")
            db.set_schema("tenant_template")
            try:
                for mode in ("autocommit", "transactions"):
                    started = time.perf_counter()
                    for number in range(STATEMENTS):
                        if mode == "transactions" and number % 5 == 0:
                            db.set_autocommit(False)
                        with db.cursor() as cursor:
                            cursor.execute("SELECT count(*) FROM django_migrations")
                        if mode == "transactions" and number % 5 == 4:
                            db.commit()
                            db.set_autocommit(True)
                    timings[f"{name}_{mode}"] = (time.perf_counter() - started) / STATEMENTS
            finally:
                db.close()
    finally:
        bouncer.stop()
    return {key: seconds * 1e6 for key, seconds in timings.items()}


def rows() -> list[tuple[str, ...]]:
    from bench import messaging

    cost = statement_cost()
    runs = compare()
    result = []
    for label, key, unit in (
        (f"Inbound webhook ingest, signed Twilio forms, gunicorn (2 workers) and a worker, "
         f"wrk -t2 -c{messaging.INGEST_CONNECTIONS} {INGEST_SECONDS} s", "ingest_rps", "req/s"),
        (f"Outbound, {messaging.OUTBOUND_MESSAGES:,} messages: `/messages/bulk` accept -> "
         f"simulator `delivered` (1 worker process, concurrency 2), median of "
         f"{messaging.OUTBOUND_ROUNDS} rounds", "bulk_rate", "msg/s"),
        (f"Campaign to {CAMPAIGN_RECIPIENTS:,} list members: start -> every message "
         f"simulator `delivered` (gunicorn, 1 worker process, concurrency 2)",
         "campaign_rate", "msg/s"),
    ):
        ours = [run[key] for run in runs["engines"]]
        base = [run[key] for run in runs["embedded"]]
        ratio = statistics.median(ours) / statistics.median(base)
        errors = (sum(run["ingest_errors"] for run in runs["engines"])
                  if key == "ingest_rps" else 0)
        result.append((
            f"{label}: RabbitMQ + PgBouncer (transaction mode) + the machine's PostgreSQL; "
            f"{ROUNDS} runs a side, alternately, median",
            f"{statistics.median(ours):.0f} {unit} (runs: {_listed(ours)})"
            + (f" ({errors} errors)" if errors else ""),
            ">= 85% of the embedded defaults",
            f"embedded PostgreSQL, Redis broker: {statistics.median(base):.0f} {unit} "
            f"(runs: {_listed(base)})",
            f"{ratio:.0%}",
            "met" if ratio >= 0.85 and not errors else "NOT met",
        ))
    result.append((
        f"A statement through PgBouncer, {STATEMENTS:,} in a tenant's schema: the pooled "
        "backend (schema sent with each autocommit statement and each transaction's first)",
        f"{cost['pooled_autocommit']:.0f} µs in autocommit, "
        f"{cost['pooled_transactions']:.0f} µs in transactions of five",
        "—",
        f"django-tenants' backend (schema set once per connection; unsafe through the "
        f"pooler): {cost['plain_autocommit']:.0f} µs and {cost['plain_transactions']:.0f} µs",
        f"{cost['pooled_autocommit'] / cost['plain_autocommit']:.2f}x and "
        f"{cost['pooled_transactions'] / cost['plain_transactions']:.2f}x",
        "—",
    ))
    return result


def _listed(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    if sys.argv[1:] == ["measure"]:
        print(json.dumps(measure()), flush=True)
    else:
        sys.exit("usage: bench/engines.py measure (make bench runs the section)")
