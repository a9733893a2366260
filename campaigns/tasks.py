"""Celery tasks of the subscription lists: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from campaigns import imports, sending


@shared_task(acks_late=True)
def list_import_run(import_id: int) -> None:
    imports.do_list_import(import_id=import_id)


@shared_task(acks_late=True)
def campaign_send(campaign_id: int) -> None:
    sending.campaign_send(campaign_id=campaign_id)


@shared_task(acks_late=True)
def campaign_withdraw(campaign_id: int) -> None:
    sending.campaign_withdraw(campaign_id=campaign_id)
