"""Celery tasks of the cross-app sweeps, thin wrappers around ``cpaas.sweeps``. They run
in the public schema and visit every tenant. Their names predate this module and stay:
beat's rows and tasks already queued name them."""

from __future__ import annotations

from celery import shared_task

from cpaas import sweeps


@shared_task(name="messaging.tasks.messages_sweep")
def tenants_sweep() -> int:
    return sweeps.tenants_sweep()


@shared_task(name="messaging.tasks.delivery_logs_prune")
def delivery_logs_prune() -> int:
    return sweeps.delivery_logs_prune()
