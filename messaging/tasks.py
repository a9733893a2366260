"""Celery tasks of the pipelines: thin wrappers around the services of the same name.

Each runs in the schema of the tenant that enqueued it (tenant-schemas-celery, header
``_schema_name``); the sweeps that visit every tenant are in ``cpaas.tasks``.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.db import connection

from messaging import forwarding, inbound, outbound, quota, senders, surveys


@shared_task(acks_late=True)
def messages_process() -> None:
    inbound.messages_process_pending()


@shared_task(acks_late=True)
def messages_deliver(message_ids: list[int]) -> None:
    outbound.messages_dispatch(message_ids=message_ids)


@shared_task(acks_late=True)
def message_forward(forward_id: int) -> None:
    delay = forwarding.do_message_forward(forward_id=forward_id)
    if delay is not None:
        forwarding.forward_enqueue(forward_id, schema=connection.schema_name, countdown=delay)


@shared_task
def sessions_expire() -> int:
    return surveys.sessions_expire()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def sender_review_notify(*, address: str) -> None:
    senders.do_sender_review_notify(address=address)


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def usage_threshold_notify(month: str) -> int:
    return quota.usage_threshold_notify(month=date.fromisoformat(month))
