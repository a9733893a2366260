"""Celery tasks of the CAMARA dialect: thin wrappers around the services of the same name.

Each runs in the schema of the tenant that enqueued it (tenant-schemas-celery); the sweep
that re-enqueues lost ones is ``notifications.camara_sweep``, run by ``cpaas.sweeps``.
"""

from __future__ import annotations

from celery import shared_task

from compat.camara import notifications


@shared_task(acks_late=True)
def notification_attempt(notification_id: int) -> None:
    notifications.notification_attempt(notification_id=notification_id)
