"""`make bench`: measure the targets the issues name and rewrite docs/PERFORMANCE.md.

Runs against its own embedded PostgreSQL (CPAAS_DATA_DIR=.data/bench, set by the Makefile)
or DATABASE_URL. Every figure is printed with its target, the baseline measured in the same
run and the ratio between them. ``BENCH_SECTIONS`` (comma-separated: provisioning,
messaging, lists, campaigns, api, smpp, operator, engines) runs some sections only and
rewrites only their tables, each of which names the command and the date that produced it.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django_tenants.models import TenantMixin  # noqa: E402

from tenants.models import Tenant  # noqa: E402
from tenants.services import tenant_provision  # noqa: E402

PASSWORD = "bench-password-long"
PROVISION_SAMPLES = int(os.environ.get("BENCH_PROVISION_SAMPLES", "30"))
BASELINE_SAMPLES = int(os.environ.get("BENCH_BASELINE_SAMPLES", "5"))
TENANTS_FOR_MIGRATE = int(os.environ.get("BENCH_TENANTS", "200"))
# The owner's password hash is excluded from provisioning figures
# (docs/ARCHITECTURE.md#measured-constraints).
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reset() -> None:
    """Drop every tenant a previous bench run left, so each run starts equal. Static files
    are collected as in production: the pages the bench loads name them in the manifest."""
    call_command("bootstrap", verbosity=0)
    for tenant in Tenant.objects.exclude(schema_name="public"):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        Tenant.objects.filter(pk=tenant.pk).delete()
    call_command("bootstrap", no_static=True, verbosity=0)


def provision(prefix: str, count: int) -> list[float]:
    timings = []
    with override_settings(PASSWORD_HASHERS=FAST_HASHER):
        for index in range(count):
            started = time.perf_counter()
            tenant_provision(
                slug=f"{prefix}{index:04d}", name=f"Bench {index}",
                owner_email=f"owner{index}@bench.example", owner_password=PASSWORD,
            )
            timings.append(time.perf_counter() - started)
    return timings


def migrate_schemas(which: str) -> float:
    """Time `manage.py migrate_schemas` in a fresh process; ``which`` is "ours" (the project's
    executor) or "django-tenants" (its standard executor, without the up-to-date skip)."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
            if db["HOST"].startswith("/")
            else settings.DATABASE_URL
        ),
        "REDIS_URL": settings.REDIS_URL,
    }
    command = [sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"]
    if which == "django-tenants":
        command = [sys.executable, "-c", BASELINE_MIGRATE]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


BASELINE_MIGRATE = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")
django.setup()
from django.conf import settings
del settings.GET_EXECUTOR_FUNCTION
from django.core.management import call_command
call_command("migrate_schemas", interactive=False, verbosity=0, executor="standard")
"""


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


SECTIONS = {
    "provisioning": "Provisioning and migrations",
    "messaging": "Messaging pipelines",
    "lists": "Subscription lists",
    "campaigns": "Campaigns",
    "api": "API, inbox and dashboard",
    "smpp": "SMPP",
    "operator": "Operator: routing and metering",
    "engines": "Production engines",
}


def main() -> None:
    if sys.argv[1:] == ["lists"]:
        # One part alone, printed rather than written (BENCH_SECTIONS=lists writes it).
        call_command("bootstrap", no_static=True, verbosity=0)
        for row in lists_rows():
            print(" | ".join(row))
        return
    chosen = [name.strip() for name in
              (os.environ.get("BENCH_SECTIONS") or ",".join(SECTIONS)).split(",")
              if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        sys.exit(f"bench: unknown section(s) {', '.join(unknown)}; "
                 f"choose from {', '.join(SECTIONS)}")
    print("bench: resetting the bench database ...", flush=True)
    reset()
    runners = {"provisioning": provisioning_rows, "messaging": messaging_rows,
               "lists": lists_rows, "campaigns": campaigns_rows, "api": api_rows,
               "smpp": smpp_rows, "operator": operator_rows, "engines": engines_rows}
    results, loads = {}, {}
    for name in SECTIONS:
        if name in chosen:
            # The machine may be shared: its load says how far to trust absolute figures.
            loads[name] = os.getloadavg()[1]
            results[name] = runners[name]()
            loads[name] = max(loads[name], os.getloadavg()[1])
    write_report(results, loads=loads, every=len(chosen) == len(SECTIONS))
    for rows in results.values():
        for row in rows:
            print(" | ".join(row))


def provisioning_rows() -> list[tuple[str, ...]]:
    print(f"bench: provisioning {PROVISION_SAMPLES} tenants by cloning the template ...",
          flush=True)
    cloned = provision("clone", PROVISION_SAMPLES)

    print(f"bench: provisioning {BASELINE_SAMPLES} tenants by running every migration ...",
          flush=True)
    # django-tenants' own path with no template: CREATE SCHEMA, then every migration.
    with (
        override_settings(TENANT_BASE_SCHEMA="no_template_schema"),
        mock.patch.object(Tenant, "create_schema", TenantMixin.create_schema),
    ):
        migrated = provision("migr", BASELINE_SAMPLES)

    existing = Tenant.objects.filter(is_template=False).exclude(schema_name="public").count()
    missing = max(0, TENANTS_FOR_MIGRATE - existing)
    print(f"bench: provisioning {missing} more tenants for migrate_schemas ...", flush=True)
    provision("fill", missing)
    schemas = Tenant.objects.exclude(schema_name="public").count()

    print(f"bench: migrate_schemas over {schemas} tenant schemas ...", flush=True)
    ours = migrate_schemas("ours")
    print("bench: the same with django-tenants' sequential executor ...", flush=True)
    baseline = migrate_schemas("django-tenants")

    clone_median = statistics.median(cloned)
    migrate_median = statistics.median(migrated)
    rows = [
        (
            "Provision one tenant (clone template; owner hash excluded), median",
            f"{clone_median * 1000:.0f} ms (p95 {p95(cloned) * 1000:.0f} ms, n={len(cloned)})",
            "< 1 s",
            f"running every migration: {migrate_median * 1000:.0f} ms (n={len(migrated)})",
            f"{migrate_median / clone_median:.1f}x faster",
            "met" if clone_median < 1 else "NOT met",
        ),
        (
            f"`migrate_schemas`, nothing to apply, {schemas} tenant schemas",
            f"{ours:.1f} s",
            "< 60 s for 200 tenants",
            f"django-tenants' standard executor: {baseline:.1f} s",
            f"{baseline / ours:.1f}x faster",
            "met" if ours < 60 else "NOT met",
        ),
    ]
    return rows


def messaging_rows() -> list[tuple[str, ...]]:
    from bench import automation, messaging

    print("bench: messaging set-up ...", flush=True)
    tenant, key = messaging.setup()
    print(f"bench: inbound ingest, `make run` against the anchor, {messaging.INGEST_SECONDS} s "
          "per run ...", flush=True)
    ingest = messaging.ingest(tenant)
    print(f"bench: outbound, {messaging.OUTBOUND_ROUNDS} x {messaging.OUTBOUND_MESSAGES} "
          "messages via /messages/bulk to the simulator ...", flush=True)
    outbound = messaging.outbound(tenant, key)
    print("bench: the same through the twilio backend to a fake Twilio ...", flush=True)
    twilio = messaging.outbound_twilio(tenant, key)
    print(f"bench: a 1-segment-per-second sender over {messaging.RATE_SECONDS} s ...",
          flush=True)
    rate = messaging.rate_limited(tenant)
    print(f"bench: STOP / keyword -> reply latency, {automation.LATENCY_MESSAGES} messages "
          "idle and under bulk load ...", flush=True)
    latency = automation.keyword_latency(tenant, key)
    print("bench: matching against 1,000 keyword rules ...", flush=True)
    matching = automation.rule_matching(tenant)
    print(f"bench: importing {automation.IMPORT_ROWS:,} opt-outs from CSV ...", flush=True)
    imported = automation.optout_import(tenant)
    # Last: the soak leaves hundreds of thousands of rows behind.
    print(f"bench: soak, {messaging.SOAK_SECONDS} s of inbound at half the peak ...", flush=True)
    soak = messaging.soak(8000, ingest["ours"]["rps"] / 2)
    ours, anchor, half = ingest["ours"], ingest["anchor"], ingest["half"]
    share = ours["rps"] / anchor["rps"]
    deviation = abs(rate["rate"] - 1.0)
    rows = [
        (
            f"Inbound webhook ingest: `make run` (web, worker and beat), signed Twilio forms, "
            f"a new customer each, wrk -t2 -c{messaging.INGEST_CONNECTIONS} "
            f"{messaging.INGEST_SECONDS} s, req/s",
            f"{ours['rps']:.0f} req/s (p99 {ours['p99_us'] / 1000:.0f} ms, "
            f"{ours['non2xx'] + ours['errors']} errors; the worker processed each run's "
            f"messages within {ingest['drain_seconds']:.1f} s of its end)",
            ">= 50% of the anchor",
            "anchor (`django-admin startproject`, one INSERT, 2 gunicorn workers), before "
            "and after, each run once the product's backlog is processed: "
            f"{' and '.join(f'{r:.0f}' for r in anchor['runs'])} req/s",
            f"{share:.0%} of the anchor",
            "met" if share >= 0.5 and not ours["non2xx"] else "NOT met",
        ),
        (
            "Inbound webhook p99 at half the peak rate (`make run`, wrk -c8, paced)",
            f"{half['p99_us'] / 1000:.1f} ms at {half['rps']:.0f} req/s "
            f"(p50 {half['p50_us'] / 1000:.1f} ms)",
            "< 50 ms",
            "—", "—",
            "met" if half["p99_us"] < 50_000 and not half["non2xx"] else "NOT met",
        ),
        (
            f"Soak: {messaging.SOAK_SECONDS // 60} min of inbound webhooks at half the peak "
            "(wrk -c8, paced), web processes' memory after a 1-min warm-up vs at the end",
            f"{soak['rps']:.0f} req/s, {soak['errors']} errors of {soak['requests']:,}, "
            f"p99 {soak['p99_us'] / 1000:.1f} ms; RSS {soak['start_mb']:.0f} MB -> "
            f"{soak['end_mb']:.0f} MB ({soak['growth']:+.1%})",
            "no error, RSS growth < 10%", "—", "—",
            "met" if not soak["errors"] and soak["growth"] < 0.10 else "NOT met",
        ),
    ]
    for name, label in (("idle", "idle"), ("loaded", "behind a `/messages/bulk` backlog")):
        figures = latency[name]
        extra = ""
        if name == "loaded":
            extra = (f"; {figures['bulk']['delivered']:,} of {figures['bulk']['queued']:,} "
                     "bulk messages delivered meanwhile")
        rows.append((
            f"Inbound STOP or keyword webhook -> reply handed to the backend (twilio), "
            f"{automation.LATENCY_MESSAGES} one after another, {label} (1 worker process, "
            "concurrency 2)",
            f"p50 {figures['p50']:.0f} ms, max {figures['max']:.0f} ms "
            f"({figures['answered']} of {figures['sent']} answered{extra})",
            "p50 < 150 ms, max < 500 ms", "—", "—",
            "met" if figures["p50"] < 150 and figures["max"] < 500
            and figures["answered"] == figures["sent"] else "NOT met",
        ))
    rows += [
        (
            "Keyword rule matching per inbound message, 1,000 rules, p99",
            f"{matching['thousand']['p99']:.2f} ms (p50 {matching['thousand']['p50']:.2f} ms)",
            "< 2 ms added",
            f"1 rule: p99 {matching['one']['p99']:.2f} ms",
            f"+{matching['thousand']['p99'] - matching['one']['p99']:.2f} ms",
            "met" if matching["thousand"]["p99"] - matching["one"]["p99"] < 2 else "NOT met",
        ),
        (
            f"Opt-out CSV import, {automation.IMPORT_ROWS:,} rows (1% invalid), upload to "
            "last row stored",
            f"{imported['seconds']:.1f} s ({imported['added']:,} added, "
            f"{imported['errors']:,} errors reported)",
            "< 30 s", "—", "—",
            "met" if imported["seconds"] < 30 else "NOT met",
        ),
    ]
    for figures, backend, done, target in ((outbound, "simulator", "delivered", 1000),
                                           (twilio, "twilio to a fake Twilio", "sent", 300)):
        growth = figures["end_mb"] / figures["start_mb"] - 1
        connections = (f", {figures['connections']} connections for "
                       f"{figures['requests']:,} requests" if "connections" in figures else "")
        rows.append((
            f"Outbound, 3 x 1,000 messages: `/messages/bulk` accept -> {backend} `{done}` "
            f"(1 worker process, concurrency 2), median of {messaging.OUTBOUND_ROUNDS} rounds; "
            "worker memory after the first round vs the last",
            f"{figures['rate']:.0f} msg/s ({figures['seconds']:.1f} s; accepted in "
            f"{figures['accepted']:.1f} s; rounds "
            f"{', '.join(f'{r:.0f}' for r in figures['rates'])} msg/s{connections}); worker "
            f"RSS {figures['start_mb']:.0f} MB -> {figures['end_mb']:.0f} MB ({growth:+.1%})",
            f">= {target:,} msg/s, memory flat (< 10%)", "—", "—",
            "met" if figures["rate"] >= target and growth < 0.10 else "NOT met",
        ))
    rows.append((
        "A 1-segment-per-second sender, 2 worker processes x 2 slots",
        f"{rate['rate']:.3f} segments/s ({rate['sent_in_window']} in {rate['seconds']} s)",
        "1/s ± 10%", "—", "—",
        "met" if deviation <= 0.1 else "NOT met",
    ))
    return rows


def lists_rows() -> list[tuple[str, ...]]:
    from bench import lists

    print(f"bench: importing {lists.IMPORT_ROWS:,} list members from CSV ...", flush=True)
    result = lists.list_import(lists.setup())
    every_bad_row = result["errors"] == result["reported"] == result["bad"]
    return [(
        f"Subscription-list CSV import, {lists.IMPORT_ROWS:,} rows (1% invalid, 100 opted "
        "out), upload to last member stored",
        f"{result['seconds']:.1f} s (CPU: {result['cpu']:.1f} s in the import, "
        f"{result['database_cpu']:.1f} s in PostgreSQL; load average {result['load']:.1f}; "
        f"{result['added']:,} subscribed, {result['errors']:,} bad rows reported, "
        f"{result['opted_added']} opted-out added, {result['texted']} SMS)",
        "< 30 s", "—", "—",
        "met" if result["seconds"] < 30 and every_bad_row and not result["opted_added"]
        and not result["texted"] else "NOT met",
    )]


def campaigns_rows() -> list[tuple[str, ...]]:
    from bench import automation, campaigns

    bench = campaigns.setup()
    print(f"bench: campaigns of {campaigns.RECIPIENTS:,} and {campaigns.PAUSE_RECIPIENTS:,}, "
          f"{campaigns.BULK_MESSAGES:,} `/messages/bulk` sends, keyword replies, then "
          f"2 x {campaigns.RATE_SECONDS} s of a 10-segment/s sender's campaign ...", flush=True)
    figures = campaigns.run(bench)
    count = f"{int(figures['recipients']):,}"
    bulk, limited = figures["bulk_rate"], figures["limited_rate"]
    beside = figures["limited_beside_rate"]
    deviation = abs(limited / campaigns.LIMITED_RATE - 1)
    rows = [
        (f"Campaign start (`POST /campaigns/{{id}}/start`), {count} recipients, HTTP "
         "included",
         f"{figures['start_ms']:.0f} ms", "< 200 ms",
         f"{campaigns.WARM_UP_RECIPIENTS} recipients: {figures['start_small_ms']:.0f} ms",
         f"{figures['start_ms'] / figures['start_small_ms']:.1f}x",
         "met" if figures["start_ms"] < 200 else "NOT met"),
        (f"Campaign audience resolution + rendering + insert, {count} recipients (the "
         "worker's task, start to last chunk committed)",
         f"{figures['resolve_rate']:,.0f} recipients/s ({figures['resolve_seconds']:.1f} s)",
         ">= 5,000 recipients/s", "—", "—",
         "met" if figures["resolve_rate"] >= 5000 else "NOT met"),
        (f"Campaign start to every message `delivered`, {count} recipients, simulator, "
         "web running, 1 worker process (concurrency 2)",
         f"{figures['deliver_rate']:,.0f} msg/s ({figures['deliver_seconds']:.1f} s); "
         f"worker RSS growth {figures['rss_growth_mb']:.0f} MB",
         ">= 1,000 msg/s, growth < 100 MB",
         f"`/messages/bulk`, {campaigns.BULK_MESSAGES:,} of the same text, first POST to "
         f"last `delivered`, same worker: {bulk:,.0f} msg/s ({figures['bulk_seconds']:.1f} s)",
         f"{figures['deliver_rate'] / bulk:.2f}x",
         "met" if figures["deliver_rate"] >= 1000 and figures["rss_growth_mb"] < 100
         else "NOT met"),
        (f"Campaign pause while sending ({campaigns.PAUSE_RECIPIENTS:,} recipients): request "
         "to the last message delivered",
         f"{figures['pause_effect_seconds']:.2f} s (request {figures['pause_request_ms']:.0f} "
         f"ms; {int(figures['paused_at']):,} delivered before it)", "< 2 s", "—", "—",
         "met" if figures["pause_effect_seconds"] < 2 else "NOT met"),
        (f"Inbound STOP or keyword webhook -> reply handed to the backend (twilio), "
         f"{automation.LATENCY_MESSAGES} one after another, while a campaign of {count} "
         "sends through the same worker (1 process, concurrency 2, every queue)",
         f"p50 {figures['during_p50']:.0f} ms, max {figures['during_max']:.0f} ms "
         f"({figures['during_answered']:.0f} of {figures['during_sent']:.0f} answered; "
         f"{figures['during_campaign_delivered']:,.0f} campaign messages delivered "
         "meanwhile"
         + ("; the campaign ended before the last" if figures["during_campaign_done"]
            else "") + ")",
         "p50 < 150 ms",
         f"idle, same processes: p50 {figures['idle_p50']:.0f} ms, max "
         f"{figures['idle_max']:.0f} ms",
         f"{figures['during_p50'] / figures['idle_p50']:.1f}x",
         "met" if figures["during_p50"] < 150 and not figures["during_campaign_done"]
         and figures["during_answered"] == figures["during_sent"] else "NOT met"),
        (f"A campaign from a sender limited to {campaigns.LIMITED_RATE} segments/s "
         f"({campaigns.LIMITED_RECIPIENTS:,} one-segment texts), sends in the "
         f"{campaigns.RATE_SECONDS} s after its start",
         f"{limited:.2f} segments/s ({figures['limited_sent']:.0f} in "
         f"{campaigns.RATE_SECONDS} s)",
         f"{campaigns.LIMITED_RATE}/s ± 10%", "—", "—",
         "met" if deviation <= 0.1 else "NOT met"),
        (f"The same while a campaign to the {count} from an unlimited sender sends "
         "through the same worker",
         f"{beside:.2f} segments/s ({figures['limited_beside_sent']:.0f} in "
         f"{campaigns.RATE_SECONDS} s; the other campaign sending for "
         f"{figures['limited_beside_other_sending_seconds']:.0f} s of them)",
         f"{campaigns.LIMITED_RATE}/s ± 10%", f"alone: {limited:.2f} segments/s",
         f"{beside / limited:.2f}x" if limited else "—",
         "met" if abs(beside / campaigns.LIMITED_RATE - 1) <= 0.1 else "NOT met"),
    ]
    return rows


def api_rows() -> list[tuple[str, ...]]:
    from bench import api

    print(f"bench: lists over {api.CONTACTS:,} conversations and {api.MESSAGES:,} messages ...",
          flush=True)
    figures = api.message_list()
    rows = []
    for name in ("first", "deep", "deep, inbound only"):
        page = figures[name]
        rows.append((
            f"`GET /api/v1/messages`, {api.MESSAGES:,} messages, {name} page "
            f"(50 items, HTTP included, p95 of {api.REQUESTS})",
            f"p95 {page['p95']:.1f} ms (p50 {page['p50']:.1f} ms)",
            "p95 < 50 ms", "—", "—",
            "met" if page["p95"] < 50 else "NOT met",
        ))
    for name, target in (("inbox: conversation list", 100), ("inbox: search", 300),
                         ("inbox: search, a word of every message", 300),
                         (f"inbox: thread of {api.LONG_THREAD:,} messages", 100)):
        page = figures[name]
        rows.append((
            f"Inbox page, {api.CONTACTS:,} conversations / {api.MESSAGES:,} messages: "
            f"{name.split(': ')[1]} (whole page, HTTP included, p95 of {api.REQUESTS // 3})",
            f"p95 {page['p95']:.1f} ms (p50 {page['p50']:.1f} ms)",
            f"p95 < {target} ms (server time)", "—", "—",
            "met" if page["p95"] < target else "NOT met",
        ))
    page = figures["dashboard: last 30 days"]
    rows.append((
        f"Dashboard, last 30 days holding all {api.MESSAGES:,} messages (whole page, HTTP "
        f"included, p95 of {api.DASHBOARD_REQUESTS})",
        f"p95 {page['p95']:.1f} ms (p50 {page['p50']:.1f} ms)",
        "p95 < 300 ms (issue 20), from rollups", "—", "—",
        "met" if page["p95"] < 300 else "NOT met",
    ))
    return rows


def smpp_rows() -> list[tuple[str, ...]]:
    from bench import smpp

    print(f"bench: SMPP, {smpp.MESSAGES} messages through the connector to the SMSC double ...",
          flush=True)
    result = smpp.submit_rate()
    return [(
        f"SMPP `submit_sm` to the local SMSC double, window {smpp.WINDOW} (connector "
        f"process, {smpp.MESSAGES} one-part messages queued)",
        f"{result['rate']:.0f} submit_sm/s ({result['submits']} in {result['seconds']:.1f} s; "
        f"all stored `sent` {result['stored']:.1f} s after the first; "
        f"{result['duplicates']} duplicates)",
        ">= 500/s", "—", "—",
        "met" if result["rate"] >= 500 and not result["duplicates"] else "NOT met",
    )]


HOW_MEASURED = "## How these are measured"
HOW_MEASURED_TEXT = """## How these are measured

- **Provisioning** calls `tenants.services.tenant_provision` (what signup and
  `provision_tenant` call): validation, the tenant row, the schema cloned from
  `TENANT_BASE_SCHEMA` with its data (migration history, content types, permissions),
  the domain and the owner with a verified email address, in one transaction. The
  owner's password is hashed with a fast hasher during the bench: the figure excludes
  the hash (Argon2 in production, [ARCHITECTURE.md](ARCHITECTURE.md#measured-constraints)).
  The baseline creates an empty
  schema and runs every tenant migration, django-tenants' default without a template.
- **`migrate_schemas`** runs `manage.py migrate_schemas --noinput` in a fresh process
  (start-up included) with nothing to apply, over the public schema, the template and
  every tenant. Ours first reads each schema's `django_migrations` and hands only the
  schemas that lack a migration to django-tenants' parallel executor
  (`tenants/migration_executor.py`); the baseline is django-tenants' `standard`
  executor, which runs Django's `migrate` in every schema.
- **Inbound ingest**: the product runs as a user starts it, `manage.py run` (what
  `make run` runs: gunicorn with its 3 sync workers, a Celery worker of concurrency 2
  and beat, all on the bench's PostgreSQL and Redis), so the worker processes the
  messages while they arrive. wrk (2 threads, 16 connections, 15 s) POSTs distinct,
  correctly signed Twilio inbound webhooks (pre-generated; `bench/wrk_webhook.lua`),
  each from a customer never seen before, to `/webhooks/<connection>/inbound`. The
  anchor is `bench/anchor`, a `django-admin startproject` app (its default middleware,
  `CONN_MAX_AGE=60`) whose one view parses the same form and does one `INSERT ... ON
  CONFLICT DO NOTHING`, under gunicorn with 2 sync workers, on the same PostgreSQL; it
  runs before and after each product run (anchor / product / anchor / product /
  anchor) and the ratio is to the mean of its runs. Each run starts once the worker
  has processed every message of the product's run before it (the row says how long
  after the load that was), so no run shares the cores with another's backlog. wrk,
  the servers, PostgreSQL and Redis share the machine's 2 cores.
- **Campaigns** (`bench/campaigns.py`): a list of 100,000 members
  (`BENCH_CAMPAIGN_RECIPIENTS`) imported in-process, then gunicorn (2 sync workers) and
  one Celery worker of concurrency 2 on every queue, as `make run` starts it; small
  warm-up campaigns (50 recipients) run until one is delivered within 3 s. A campaign
  to the list with the simulator sender (no rate limit) and no quiet hours is created
  and started through the API: the start figure is that request's time, beside the
  same for a 50-recipient campaign just before it; the audience figure is the
  campaign's recipients over the time from `started_at` to `audience_done_at` (its task
  resolving, rendering and inserting chunk by chunk); the delivery figure runs from the
  start request until every message of the campaign is `delivered`; the worker's memory
  (its process tree) is sampled throughout. Its baseline is 20,000 texts of the same
  length through `/messages/bulk` (1,000 per request) from the same sender to the same
  worker, from the first POST until all are `delivered`. Then a second campaign of
  20,000 is started and paused once a tenth is delivered: the figure is the time from
  the pause request to the last delivery seen (sampled every 20 ms for 3 s after the
  last change). The keyword-reply latency is measured as in the messaging section
  (below; a sender of the campaigns tenant on the `twilio` backend to a fake Twilio)
  idle after the warm-up, then while a third campaign to the 100,000 sends, from once
  its first 2,000 are delivered; the row says how many of its messages were delivered
  during the 30 exchanges. Last, a campaign of 750 one-segment texts from a simulator
  sender limited to 10 segments/s: its sends (`sent_at`) in the 60 s
  (`BENCH_RATE_SECONDS`) after its start request; then the same again, started once
  another campaign to the 100,000 from the unlimited sender has its first 1,000
  delivered, so that both share the worker (the row says for how much of the window
  the other was still sending).
- **p99 at half the peak**: 8 connections to `make run`, each pausing after every answer
  so that together they offer about half the peak rate; the achieved rate is reported.
- **Outbound**: three `POST /api/v1/messages/bulk` of 1,000 messages each (new
  recipients every round); the clock runs from the first POST until every message is
  `delivered` (simulator) or `sent` (twilio) in the database; one Celery worker (prefork,
  concurrency 2) on the `outbound`, `bulk` and `retries` queues, gunicorn with 2 workers alongside.
  Three rounds in a row; the median round is reported, and the worker's memory (its
  processes' RSS summed) after the first round against after the last. The twilio figure
  sends to a fake Twilio on 127.0.0.1 (`tests/support/fake_twilio.py`, HTTP/1.1
  keep-alive, answering at once) from a sender whose rate limit is lifted.
- **Rate limit**: 70 one-segment messages queued at once from a sender limited to
  1 segment/s; two worker processes of 2 slots each compete for them; the figure is
  the number of sends in the 60 s after the first one.
- **Keyword reply latency**: 30 signed Twilio webhooks one after another (each sent
  once the previous reply left, then 0.1 s later), alternately `STOP` and a keyword
  rule's word, each from a new customer, to gunicorn; one Celery worker process
  (concurrency 2, every queue) answers through the `twilio` backend to a fake Twilio
  (the sender allowed 100 segments/s, a short code's rate). Latency runs from just
  before the POST to the reply's `sending_at`, when the send task hands it to the
  backend. Then the same 30 while a client keeps posting `/messages/bulk` requests of
  1,000 simulator messages to the same web server and worker.
- **Rule matching**: `messaging.rules.rule_match` in-process, 5,000 inbound bodies
  (matching exact, prefix, substring and pattern rules, and plain sentences that
  match none) against 1,000 active rules (70% exact, 15% `starts_with`, 10%
  `contains`, 5% `regex`); each call includes the query that detects changed rules
  and the fetch of the matched rule. Baseline: the same with one rule.
- **Route choice**: a route of 1,000 entries (random prefixes of 1-6 digits and a
  catch-all, three of ten simulator connections each, a cost each, cheapest first) is
  written through `route_save`; 10,000 messages to random numbers go through the send
  task's choice (`messaging.outbound._connections_choose`: the routing version, the
  compiled lookup, the connections' state and one breaker round trip to Redis per
  batch of 50); the figure is the median per message minus the same batch from a
  sender on one connection. Compiling is timed once, from the database.
- **Metering cost** (`bench/metering.py`): the same pipelines with the usage counters
  and the dashboard's rollup counting (`METERING_ENABLED=1`) and not (`=0`), set in the
  child processes' environment. The setting is read at start, so every run starts its
  processes afresh, and the runs alternate on / off / on / off ... (3 runs a side,
  `BENCH_METERING_ROUNDS`): the machine's other load and PostgreSQL's background work
  after a run's writes fall on both sides alike. Each side's figure is the median of its
  runs' figures; the cost is (off - on) / off, negative when the metered side happened
  to be faster. Each run also checks that the usage counters grew when metering was on
  and not when it was off. *Inbound ingest*: a fresh `manage.py run` per run, wrk as in
  the messaging section (2 threads, 16 connections, 15 s, distinct signed webhooks from
  new customers), each run once the previous run's messages are processed; the webhook
  itself counts nothing (its cost stays one insert), so this shows what the worker's
  counting, on the same cores, takes from the web. *Inbound processing*, where the
  counting happens: 20,000 received texts from new customers (`BENCH_METERING_BACKLOG`)
  stored in-process by `message_receive` with no worker running, then one Celery worker
  (concurrency 2, every queue) started alone; the rate is the messages processed before
  the last batch over the time from the first batch's `processed_at` to the last's.
  *Outbound*: the messaging section's `/messages/bulk` figure (gunicorn with 2 workers,
  one Celery worker of concurrency 2, simulator, until every message is `delivered`) in
  rounds of 10,000 messages (`BENCH_METERING_MESSAGES`; 3,000 take about two seconds,
  too short to see 5% through the noise): per run a warm-up round, then two measured.
- **SMPP submit rate**: 3,000 one-part messages are queued and handed to the
  `smpp` backend (`messages_deliver`, which puts them in the connection's Redis
  queue) before `manage.py smpp_connector` starts; the connector binds to the
  SMSC double (`tests/support/fake_smsc.py`, smpplib's codec behind an asyncio server
  in the bench process, answering at once, no receipts) with a window of 10 and no
  submit-rate cap of ours, claims each batch of parts in PostgreSQL and stores the
  SMSC ids in batches. The rate is submits as the double received them, first to
  last; the second time is until every message is `sent` in the database.
- **Opt-out import**: a CSV of 100,000 rows (every hundredth a bad number) through
  `optout_import_create` and `do_optout_import` in-process (what the import task
  runs): parse, normalise each number with phonenumbers, insert in chunks of 5,000
  with their consent-log rows, progress saved after each chunk.
- **List import**: a CSV of 100,000 rows (phone, name, tags, a custom field;
  every hundredth a bad number, and 100 numbers opted out beforehand) into a
  double-opt-in list through `list_import_create` and `do_list_import` in-process
  (what the import task runs): parse, normalise each number, then per chunk of
  5,000 rows one statement each to check opt-outs, upsert contacts, insert
  memberships and their consent-log rows, progress saved after each chunk. The
  figure is met only if every bad row is reported, no opted-out number is added
  and nothing is texted. Wall time, with the CPU time of the import's process and of
  its PostgreSQL backend (the next chunk is parsed in a thread while the database
  writes). Alone, printed: `CPAAS_DATA_DIR=.data/bench python bench/run.py lists`.
- **Soak**: the inbound webhook alone (gunicorn with 2 workers, no Celery worker:
  processing is measured apart) under wrk's 8 paced connections at half the peak
  measured above, for 10 minutes, distinct signed webhooks; RSS of gunicorn's master
  and 2 workers summed, sampled every 5 s: the median of 60-90 s against the median of
  the last 30 s.
- **Message list and inbox**: a tenant seeded by set-based SQL with 100,000
  contacts, one conversation each, 1,000,000 messages over 30 days and 1,000 more
  in one conversation (`bench/api.py`), then
  `ANALYZE`. One client (python-requests, keep-alive) calls gunicorn with an API
  key, 300 times per page after 300 warm-up calls: the first page, a page whose
  cursor points at the middle of the id range (what following `next` half-way
  down reaches), and the same filtered to inbound messages. Times include HTTP,
  authentication, throttling and serialisation of 50 messages. The inbox figures
  are whole pages rendered for the signed-in owner (100 calls after 100 warm-up
  calls): all open conversations, a search for `order 4242` (111 messages match),
  one for `way` (a word of every message), and the thread of the
  1,000-message conversation; client time, so HTTP is included in the server time.
  The messages alternate a customer's text and its answer in one conversation (a
  teammate's reply in half of the conversations, an API send in the others). The
  dashboard (`/dashboard/?days=30`, signed in as the owner, 30 calls after 30
  warm-up calls) reads its traffic per day and hour and delivery rate from the
  rollup of the 1,000,000 messages (a row per quarter hour; the seed counts them
  with the recount of migration `messaging 0018`, as an upgraded installation
  gets them), its median first response over the ~250,000 teammates'
  replies that ended a wait (recorded as they were sent; the seed derives them
  with the migration's SQL), and its opt-out rate over the 100,000 conversations.
- **Production engines** (`bench/engines.py`): first the pooled backend's cost per
  statement (`SELECT count(*) FROM django_migrations` in the template's schema, through a
  PgBouncer of the bench's own in front of the bench's PostgreSQL, one connection,
  2,000 statements in autocommit and 2,000 in transactions of five) against
  django-tenants' own backend through the same pooler; then the inbound ingest (wrk against
  gunicorn with 2 workers, a Celery worker processing behind it), the outbound
  `/messages/bulk` figure and a campaign's delivery figure (as in Campaigns, to a list of
  20,000 members, `BENCH_ENGINES_CAMPAIGN_RECIPIENTS`, after the same warm-up; from the
  start request until every message is `delivered`), measured by the same child process
  on the embedded defaults (pgserver PostgreSQL, Redis as the broker) and on the
  machine's RabbitMQ (a vhost of the bench's own per run; durable queues, publisher
  confirms) and the machine's PostgreSQL behind a PgBouncer in transaction mode
  (`DATABASE_POOLED`), in a database of the bench's own set to `synchronous_commit = off`
  like the embedded server; 3 runs a side (`BENCH_ENGINES_ROUNDS`), alternately, embedded
  first, because one run of each swung by more than the gap measured. Redis stays the
  cache on both sides. The ratio is the production engines' median over the embedded
  one.
"""


def operator_rows() -> list[tuple[str, ...]]:
    from bench import messaging, metering, routing

    print(f"bench: route choice at {routing.ENTRIES:,} entries ...", flush=True)
    figures = routing.measure()
    added = figures["routed_ms"] - figures["plain_ms"]
    rows = [(
        f"Route choice per message, {routing.ENTRIES:,} entries (batches of "
        f"{routing.BATCH}: longest prefix, breakers and binds read once per batch)",
        f"{added:.3f} ms added ({figures['routed_ms']:.3f} ms routed; compiling the "
        f"table: {figures['compile_ms']:.1f} ms once per process and change)",
        "< 1 ms", f"{figures['plain_ms']:.3f} ms (one connection)",
        f"{figures['routed_ms'] / figures['plain_ms']:.1f}x" if figures["plain_ms"] else "—",
        "met" if added < 1 else "NOT met",
    )]
    costs = metering.measure()
    method = (f"metering on / off alternately ({metering.ROUNDS} runs each, fresh processes "
              "each run), median of each side's figures")
    for name, label, unit in (
        ("ingest", "Metering's cost to inbound ingest: `make run` (web, worker and beat), "
         f"signed Twilio forms, a new customer each, wrk -t2 -c{messaging.INGEST_CONNECTIONS} "
         f"{messaging.INGEST_SECONDS} s, each run once the previous run's messages are "
         "processed", "req/s"),
        ("processing", f"Metering's cost to inbound processing: a backlog of "
         f"{metering.BACKLOG:,} received texts (new customers) drained by a Celery worker "
         "(concurrency 2) alone", "texts/s"),
        ("outbound", f"Metering's cost to outbound: `/messages/bulk` accept -> simulator "
         f"`delivered`, rounds of {metering.OUTBOUND_COUNT:,} messages (web and 1 worker "
         f"process, concurrency 2), in each run a warm-up round then "
         f"{metering.OUTBOUND_MEASURED} measured", "msg/s"),
    ):
        cost = costs[name]
        extra = (f"; each run's messages processed within {cost['drain_seconds']:.1f} s of "
                 "its end" if name == "ingest" else "")
        rows.append((
            f"{label}; {method}",
            f"metering on: {cost['on']:,.0f} {unit} ("
            f"{', '.join(f'{r:,.0f}' for r in cost['runs']['on'])}{extra})",
            "< 5% cost",
            f"metering off (`METERING_ENABLED=0`): {cost['off']:,.0f} {unit} ("
            f"{', '.join(f'{r:,.0f}' for r in cost['runs']['off'])})",
            f"{cost['cost']:+.1%} cost",
            "met" if cost["cost"] < 0.05 else "NOT met",
        ))
    return rows


def engines_rows() -> list[tuple[str, ...]]:
    from bench import engines

    print("bench: engines, inbound ingest, /messages/bulk and a campaign on the embedded "
          "defaults, then on RabbitMQ + PgBouncer + the machine's PostgreSQL ...", flush=True)
    return engines.rows()


def _sections_kept() -> dict[str, str]:
    """The tables of the current report, by section title, to keep when only some
    sections run again."""
    path = ROOT / "docs" / "PERFORMANCE.md"
    if not path.exists():
        return {}
    text = path.read_text().split(HOW_MEASURED)[0]
    blocks = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return {block.split("\n", 1)[0].strip(): "## " + block.rstrip() + "\n"
            for block in blocks}


def write_report(results: dict[str, list[tuple[str, ...]]], *, loads: dict[str, float],
                 every: bool) -> None:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    database = "embedded PostgreSQL (pgserver)" if not os.environ.get("DATABASE_URL") else (
        "PostgreSQL from DATABASE_URL"
    )
    command = "make bench" if every else f"make bench BENCH_SECTIONS={','.join(results)}"
    kept = {} if every else _sections_kept()
    tables = []
    for name, title in SECTIONS.items():
        if name not in results:
            if title in kept:
                tables.append(kept[title])
            continue
        tables.append("\n".join([
            f"## {title}",
            "",
            f"Measured by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
            f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), "
            f"Python {platform.python_version()}, {database}; 5-minute load average up to "
            f"{loads[name]:.1f} during the section.",
            "",
            "| Figure | Measured | Target | Baseline (same run) | Ratio | Status |",
            "|---|---|---|---|---|---|",
            *("| " + " | ".join(row) + " |" for row in results[name]),
            "",
        ]))
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`bench/run.py`); do not edit by hand. Each figure is",
        "measured in the same run as its baseline, so compare ratios rather than absolute",
        "times across machines. `make bench BENCH_SECTIONS=messaging` (or `provisioning`,",
        "`lists`, `campaigns`, `api`, `smpp`, `operator`, `engines`, comma-separated)",
        "measures some sections again and rewrites only their tables; each table says which",
        "command measured it, and when.",
        "",
        *tables,
        HOW_MEASURED_TEXT,
    ]
    (ROOT / "docs" / "PERFORMANCE.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
