"""Celery tasks of event webhooks: thin wrappers around the services of the same name.

Each runs in the schema of the tenant that enqueued it (tenant-schemas-celery); the
sweep that re-enqueues lost deliveries is part of ``messaging.sweeper``.
"""

from __future__ import annotations

from celery import shared_task

from events import actions


@shared_task(acks_late=True)
def delivery_attempt(delivery_id: int) -> None:
    actions.delivery_attempt(delivery_id=delivery_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def subscription_disabled_notify(*, subscription_id: int) -> None:
    actions.subscription_disabled_notify(subscription_id=subscription_id)
