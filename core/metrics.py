"""The Prometheus metrics the pipelines update as they work (``/metrics`` serves them with
the ones read at scrape time: ``cpaas/metrics.py``).

Under gunicorn and Celery each process writes its own files in
``PROMETHEUS_MULTIPROC_DIR`` (set by ``make run``'s supervisor before any process
starts), and the scrape adds them up; without it they live in the process, as in tests.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOK_SECONDS = Histogram(
    "cpaas_webhook_seconds", "Time to answer a provider webhook, by kind (inbound, status).",
    ["kind"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
SEND_OUTCOMES = Counter(
    "cpaas_send_outcomes", "Outbound sends by connection and outcome (sent, failed, retry).",
    ["connection", "outcome"])
PROVIDER_ERRORS = Counter(
    "cpaas_provider_errors", "Errors a provider answered a send with, by connection and code.",
    ["connection", "code"])
