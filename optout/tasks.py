"""Celery tasks of the opt-out domain: thin wrappers around the services of the same name."""

from __future__ import annotations

from celery import shared_task

from optout import imports


@shared_task(acks_late=True)
def optout_import_run(import_id: int) -> None:
    imports.do_optout_import(import_id=import_id)
