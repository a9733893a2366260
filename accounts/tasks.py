import logging

from celery import shared_task

from accounts import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def invitation_send(self, *, invitation_id: int) -> None:
    try:
        services.invitation_send(invitation_id=invitation_id)
    except OSError as exc:
        # Recorded at once, not after the last retry: the team page tells the admin now.
        services.invitation_send_failed(
            invitation_id=invitation_id, reason=services.mail_failure_reason(exc),
            final=self.request.retries >= self.max_retries)
        raise


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def email_send(self, *, subject: str, body: str, from_email: str, to: list[str],
               alternatives: list[list[str]]) -> None:
    try:
        services.email_send(subject=subject, body=body, from_email=from_email, to=to,
                            alternatives=alternatives)
    except OSError as exc:
        # Subject and recipients only: the body may hold a password-reset link.
        logger.warning("email %r to %s not sent (attempt %d of %d): %s", subject,
                       ", ".join(to), self.request.retries + 1, self.max_retries + 1, exc)
        raise
