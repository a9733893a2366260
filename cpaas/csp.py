"""A Content-Security-Policy on every answer: scripts and styles only from our own static
files, no inline script, nothing fetched from another origin.

Message bodies are attacker-controlled and shown in the inbox; autoescaping keeps them text,
and this policy is the second wall should a template ever slip. Pages that need another
policy (the API docs) set their own header, which this leaves alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
          "form-action 'self'; frame-ancestors 'none'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
