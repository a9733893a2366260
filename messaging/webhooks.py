"""Provider webhooks: ``/webhooks/<connection>/inbound`` and ``/status``.

``WebhookMiddleware`` answers them first in the middleware stack, before tenant routing,
sessions and CSRF: a provider's call carries no cookie and names no tenant (the recipient
does), and skipping that stack is most of what makes ingest fast. Order matters inside:
the signature is checked before anything is parsed or stored, and the answer goes back as
soon as the message is committed (processing is a task).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_tenants.utils import schema_context

from core.errors import DomainError
from core.metrics import WEBHOOK_SECONDS
from messaging import error_codes
from messaging.inbound import message_receive
from messaging.outbound import status_apply
from messaging.providers import backend_for
from messaging.providers.base import Backend, InboundSMS, InvalidPayload
from tenants.connections import connection_get_active
from tenants.models import MessageRoute, ProviderConnection

logger = logging.getLogger(__name__)

WEBHOOK_PATH = re.compile(
    r"^/webhooks/(?P<name>[a-z0-9][a-z0-9_-]{0,49})/(?P<kind>inbound|status)$"
)


class WebhookMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = WEBHOOK_PATH.match(request.path)
        if match is None:
            return self.get_response(request)
        # Checked before the body is read: an SMS webhook is a few kilobytes, and a
        # forged one of megabytes must cost no memory (WSGI reads no more than this says).
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.WEBHOOK_MAX_BODY_BYTES:
            return _error(413, "payload_too_large",
                          f"A webhook body may have at most {settings.WEBHOOK_MAX_BODY_BYTES} "
                          "bytes.")
        # No health check (a `SELECT 1` before the first query, a round trip per webhook):
        # on a dead connection the webhook's own query fails, the provider is told 503
        # and retries, and Django closes the connection when the request ends.
        db_connection.health_check_done = True
        view = inbound_webhook if match["kind"] == "inbound" else status_webhook
        started = time.perf_counter()
        response = view(request, match["name"])
        WEBHOOK_SECONDS.labels(match["kind"]).observe(time.perf_counter() - started)
        return response


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _verified(request: HttpRequest,
              connection_name: str) -> tuple[ProviderConnection, Backend] | JsonResponse:
    connection = connection_get_active(connection_name)
    if connection is None:
        return _error(404, error_codes.UNKNOWN_CONNECTION,
                      f"No active connection named {connection_name!r}.")
    backend = backend_for(connection)
    if not backend.verify(request):
        return _error(403, error_codes.INVALID_SIGNATURE,
                      "The request's signature does not match this connection's credentials.")
    return connection, backend


def _fitting(sms: InboundSMS) -> InboundSMS:
    """Refuse what no real provider sends and our columns cannot hold, before storing:
    otherwise the INSERT fails and the provider is told to retry for ever."""
    limits = {"provider_message_id": 100, "from_address": 20, "to_address": 20}
    too_long = [name for name, limit in limits.items() if len(getattr(sms, name)) > limit]
    if sms.concat is not None and len(sms.concat.reference) > 50:
        too_long.append("concat reference")
    if too_long:
        raise InvalidPayload(f"too long to be real: {', '.join(too_long)}")
    return sms


def _unavailable() -> JsonResponse:
    # 503 makes providers retry later; nothing half-written remains (one transaction).
    return _error(503, "unavailable", "The database is unavailable; retry later.")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_webhook(request: HttpRequest, connection_name: str) -> HttpResponse:
    try:
        verified = _verified(request, connection_name)
        if isinstance(verified, JsonResponse):
            return verified
        connection, backend = verified
        try:
            sms = _fitting(backend.parse_inbound(request))
            message_receive(connection=connection, sms=sms)
        except (InvalidPayload, DomainError) as exc:
            # 4xx, not 5xx: the request, not our side, is at fault, and a provider that
            # retries 5xx at once would send it again and again. Logged, as only the
            # provider's console would show it otherwise. An unrouted recipient is 404.
            status = 404 if exc.code == error_codes.UNROUTED_RECIPIENT else 400
            logger.warning("webhook %s/inbound refused with %s %s: %s", connection_name,
                           status, exc.code, exc.detail)
            return _error(status, exc.code, exc.detail)
    except (OperationalError, InterfaceError):
        return _unavailable()
    return backend.acknowledge()


@csrf_exempt
@require_http_methods(["GET", "POST"])
def status_webhook(request: HttpRequest, connection_name: str) -> HttpResponse:
    try:
        verified = _verified(request, connection_name)
        if isinstance(verified, JsonResponse):
            return verified
        connection, backend = verified
        try:
            report = backend.parse_status(request)
        except InvalidPayload as exc:
            logger.warning("webhook %s/status refused with 400 %s: %s", connection_name,
                           exc.code, exc.detail)
            return _error(400, exc.code, exc.detail)
        route = (MessageRoute.objects
                 .filter(connection=connection.name,
                         provider_message_id=report.provider_message_id).first())
        if route is None:
            return _error(404, error_codes.UNKNOWN_MESSAGE,
                          f"No message {report.provider_message_id!r} on {connection.name}.")
        with schema_context(route.schema_name):
            status_apply(message_id=route.message_id, status=report.status,
                         error_code=report.error_code, error_message=report.error_message)
    except (OperationalError, InterfaceError):
        return _unavailable()
    return backend.acknowledge()
