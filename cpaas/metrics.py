"""``/metrics`` on the public host: Prometheus text for the operator's monitoring
(docs/CONFIGURATION.md#metrics).

Counters and histograms the pipelines update (``core.metrics``) are read from every
process's files in multiprocess mode; gauges that describe the whole installation are
read at scrape time: broker queue depths, messages in flight by status and connection,
pending event-webhook deliveries, SMPP bind states. Answers only ``Authorization: Bearer
$METRICS_TOKEN``, compared in constant time, and nobody while the token is unset.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

import redis
from django.conf import settings
from django.db import connection as db_connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from django_tenants.utils import get_public_schema_name
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from events.models import Delivery
from messaging.models import Message
from smpp.queue import queue_lengths
from tenants.connection_health import bind_states
from tenants.models import ProviderConnection, Tenant

logger = logging.getLogger(__name__)

# The statuses of the partial index ``message_in_flight``, written out so the planner
# uses it.
IN_FLIGHT_SQL = "status IN ('received', 'queued', 'sending')"
# Tenants per UNION ALL query: each branch is an index-only look at a partial index.
SCHEMAS_PER_QUERY = 200


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not token:
        return False
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    installation = CollectorRegistry()
    installation.register(InstallationCollector())
    return HttpResponse(generate_latest(processes) + generate_latest(installation),
                        content_type=CONTENT_TYPE_LATEST)


def _schemas() -> list[str]:
    return list(Tenant.objects.filter(is_template=False)
                .exclude(schema_name=get_public_schema_name())
                .values_list("schema_name", flat=True))


def _union_counts(schemas: list[str], branch: str, params: list) -> list[tuple]:
    """Run ``branch`` (a SELECT with ``{table}``-style placeholders filled per schema)
    over every schema, ``SCHEMAS_PER_QUERY`` at a time, and return all rows."""
    rows: list[tuple] = []
    for start in range(0, len(schemas), SCHEMAS_PER_QUERY):
        chunk = schemas[start:start + SCHEMAS_PER_QUERY]
        sql = " UNION ALL ".join(branch.format(schema=db_connection.ops.quote_name(schema))
                                 for schema in chunk)
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params * len(chunk))
            rows += cursor.fetchall()
    return rows


def _broker_redis_url() -> str | None:
    """The broker as redis-py spells it; None when it is not Redis (RabbitMQ has its own
    management API for queue depths)."""
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):  # kombu's spelling of a unix socket
        return "unix://" + url.removeprefix("redis+socket://")
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


class InstallationCollector:
    """Gauges read when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._queues()
        schemas = _schemas()
        yield self._in_flight(schemas)
        yield self._webhook_backlog(schemas)
        yield from self._smpp()

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("cpaas_queue_depth",
                                  "Tasks waiting in each broker queue (Redis broker).",
                                  labels=["queue"])
        url = _broker_redis_url()
        if url is not None:
            try:
                client = redis.Redis.from_url(url, socket_timeout=1)
                for queue in settings.WORKER_QUEUES:
                    depth.add_metric([queue], client.llen(queue))
            except redis.RedisError:
                logger.warning("broker unreachable; queue depths left out", exc_info=True)
        yield depth

    def _in_flight(self, schemas: list[str]) -> GaugeMetricFamily:
        table = Message._meta.db_table
        gauge = GaugeMetricFamily(
            "cpaas_messages_in_flight",
            "Messages received but not processed, or queued or sending, by status and "
            "connection (all tenants).", labels=["status", "connection"])
        totals: dict[tuple[str, str], int] = {}
        for status, connection, count in _union_counts(
                schemas, f"SELECT status, connection, count(*) FROM {{schema}}.{table} "  # noqa: S608
                         f"WHERE {IN_FLIGHT_SQL} GROUP BY status, connection", []):
            totals[(status, connection)] = totals.get((status, connection), 0) + count
        for (status, connection), count in sorted(totals.items()):
            gauge.add_metric([status, connection], count)
        return gauge

    def _webhook_backlog(self, schemas: list[str]) -> GaugeMetricFamily:
        table = Delivery._meta.db_table
        rows = _union_counts(schemas, f"SELECT count(*) FROM {{schema}}.{table} "  # noqa: S608
                                      "WHERE status = %s", [Delivery.Status.PENDING])
        return GaugeMetricFamily("cpaas_event_webhook_backlog",
                                 "Event-webhook deliveries pending (all tenants).",
                                 value=sum(count for (count,) in rows))

    def _smpp(self) -> Iterator[GaugeMetricFamily]:
        names = list(ProviderConnection.objects.filter(
            kind=ProviderConnection.Kind.SMPP, is_active=True).values_list("name", flat=True))
        bound = GaugeMetricFamily("cpaas_smpp_bound",
                                  "1 while the connector holds the SMPP bind, else 0.",
                                  labels=["connection"])
        waiting = GaugeMetricFamily("cpaas_smpp_queue_depth",
                                    "Messages waiting for the SMPP connector.",
                                    labels=["connection"])
        try:
            states, lengths = bind_states(names), queue_lengths(names)
        except redis.RedisError:
            logger.warning("Redis unreachable; SMPP states left out", exc_info=True)
            states, lengths = {}, {}
        for name in names:
            if name in states:
                bound.add_metric([name], 1 if states[name] else 0)
                waiting.add_metric([name], lengths[name])
        yield bound
        yield waiting
