"""The confirmation step of a destructive page action (docs/ARCHITECTURE.md#security-rules).

A delete, revoke or remove button leads to a page that says what goes and asks again; only
that page's form, which carries ``confirm=yes``, does it. A POST without it (an old form,
a replayed request, a click through an outdated page) shows the same question and changes
nothing. The page is plain HTML: it needs no script, which the Content-Security-Policy
would only allow from our static files anyway."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirm"


def confirmed(request: HttpRequest) -> bool:
    """True for the confirmation form's own POST."""
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == "yes"


def confirm_page(request: HttpRequest, *, title: str, action: str, cancel_url: str,
                 consequences: Iterable[str] = (), carry: Mapping[str, str] | None = None,
                 error: str = "", status: int = 200) -> HttpResponse:
    """The question: ``title`` as the heading, what goes with it, a danger button labelled
    ``action`` that posts back to this URL with ``carry``'s fields, and a way back.
    ``error``: why the confirmed action was refused, shown above the button."""
    return render(request, "confirm.html", {
        "title": title, "action": action, "cancel_url": cancel_url,
        "consequences": list(consequences), "carry": dict(carry or {}), "error": error,
        "confirm_field": CONFIRM_FIELD,
    }, status=status)
