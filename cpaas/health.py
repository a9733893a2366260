"""Health endpoints, answered before tenant routing so they work on any host.

``/healthz``: the process is up. ``/readyz``: the database and the broker answer; otherwise
503 with the name of what failed, so a load balancer or `make run` can tell which one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from cpaas.celery import app as celery_app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        connection.close()
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True
    except Exception:
        return False


def readiness() -> dict[str, bool]:
    return {"database": _database_ok(), "broker": _broker_ok()}


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            checks = readiness()
            failed = [name for name, ok in checks.items() if not ok]
            if failed:
                return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
            return JsonResponse({"status": "ok"})
        return self.get_response(request)
