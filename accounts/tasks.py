from celery import shared_task

from accounts import services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def invitation_send(*, invitation_id: int) -> None:
    services.invitation_send(invitation_id=invitation_id)
