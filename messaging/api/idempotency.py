"""``Idempotency-Key`` on API POSTs: a client that retries after a timeout gets
the first answer back, and the work is done once.

A middleware rather than a view mixin, so that every POST under ``/api/v1/`` has it. The
request runs inside a transaction that holds a PostgreSQL advisory lock on (tenant, client,
key): a concurrent retry waits for the first to commit and then finds its answer, so five
racing POSTs create one message. The answer is stored in the same transaction as the work:
either both exist or neither does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from accounts.models import IdempotentRequest
from core.api_errors import payload_too_large
from messaging import error_codes

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# A retry waits this long for the first request to finish before it is told to come back.
LOCK_WAIT = "10s"
# Answers that depend on the moment or on the credentials, not on the request: a retry
# must run again rather than be refused forever.
NOT_STORED = {401, 403, 409, 429}


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _principal(request: HttpRequest) -> str | None:
    """Whose keys these are: a digest of the API key sent, or the signed-in user."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        return hmac.new(settings.SECRET_KEY.encode(), authorization.encode(),
                        hashlib.sha256).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.path.encode(), request.content_type.encode(), request.body):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _replay(record: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(record.body, status=record.status_code,
                            content_type=record.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def request_once(*, principal: str, key: str, fingerprint: str,
                 handle: Callable[[], HttpResponse]) -> HttpResponse:
    """Answer a keyed request: the stored answer if this client sent this key within 24
    hours, else ``handle()``'s, stored.

    Runs ``handle`` inside a transaction holding an advisory lock on the key; the caller
    must not be inside a transaction already (the lock would outlive the answer).
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            try:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                               [f"idempotency:{connection.schema_name}:{principal}:{key}"])
            except OperationalError:
                transaction.set_rollback(True)
                return _error(409, error_codes.IDEMPOTENCY_KEY_IN_USE,
                              "A request with this Idempotency-Key is still running; "
                              "retry in a few seconds.")
        record = IdempotentRequest.objects.filter(principal=principal, key=key).first()
        if record is not None and record.created_at > timezone.now() - TTL:
            if record.fingerprint != fingerprint:
                return _error(422, error_codes.IDEMPOTENCY_KEY_REUSED,
                              "This Idempotency-Key was used with another request; use a "
                              "new key for a new request.")
            return _replay(record)
        response = handle()
        if response.status_code < 500 and response.status_code not in NOT_STORED \
                and not response.streaming:
            IdempotentRequest.objects.update_or_create(
                principal=principal, key=key,
                defaults={"fingerprint": fingerprint, "status_code": response.status_code,
                          "content_type": response.get("Content-Type", ""),
                          "body": response.content.decode(), "created_at": timezone.now()})
        return response


def idempotent_requests_purge() -> int:
    """Forget answers older than the 24 hours a retry may come in (current schema)."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted


class IdempotencyMiddleware:
    """Sends ``POST /api/v1/...`` with an ``Idempotency-Key`` through ``request_once``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if (key is None or request.method != "POST" or not request.path.startswith("/api/v1/")
                or connection.schema_name == get_public_schema_name()):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
            return _error(400, error_codes.INVALID_IDEMPOTENCY_KEY,
                          f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                          "characters (a UUID, say).")
        principal = _principal(request)
        if principal is None:  # the view answers 401; nothing to remember
            return self.get_response(request)
        try:
            fingerprint = _fingerprint(request)
        except RequestDataTooBig:
            return JsonResponse(payload_too_large(), status=413)
        return request_once(principal=principal, key=key, fingerprint=fingerprint,
                            handle=lambda: self.get_response(request))
