"""Celery tasks of the dialects: thin wrappers around the services of the same name. Each
runs in the schema of the tenant that enqueued it (header ``_schema_name``)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from compat.twilio import callbacks, webhooks


@shared_task(acks_late=True)
def status_callback_post(callback_id: int) -> None:
    delay = callbacks.do_status_callback(callback_id=callback_id)
    if delay is not None:
        callbacks.callback_enqueue(callback_id, schema=connection.schema_name, countdown=delay)


@shared_task(acks_late=True)
def sms_webhook_call(webhook_id: int) -> None:
    webhooks.do_sms_webhook(webhook_id=webhook_id)
