"""Text that no column can store, refused where requests bring it in.

PostgreSQL text cannot hold NUL (U+0000), and a lone surrogate (half a UTF-16 pair, which
JSON's ``"\\ud800"`` escape can carry but UTF-8 cannot encode) cannot even be sent to it:
either one reaching a write fails the request with a server error, possibly after part of
it was written. Forms, query strings and URLs are checked here, before any view runs, and
so is their encoding; the API's JSON bodies by its parser (``core.api_parsers``). What
a provider sends is kept, with U+FFFD in place of such characters (``text_storable``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote_to_bytes

from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

# Django REST framework's own codes for these, so the API answers the same whichever layer
# refuses the text.
NULL_CHARACTERS = "null_characters_not_allowed"
SURROGATE_CHARACTERS = "surrogate_characters_not_allowed"
INVALID_ENCODING = "invalid_encoding"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> tuple[str, str] | None:
    """``(code, detail)`` when ``value`` holds a character no text column can store, else
    None. The detail never quotes the value: it could not be encoded in the answer."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return NULL_CHARACTERS, "Null characters are not allowed."
    return SURROGATE_CHARACTERS, f"Surrogate characters are not allowed: U+{ord(found.group()):X}."


def text_storable(value: str) -> str:
    """``value`` with U+FFFD, the visible replacement character, for each character no
    text column can store."""
    return _UNSTORABLE.sub("\ufffd", value)


def _unstorable(named: Iterable[tuple[str, list[str]]]) -> dict[str, tuple[str, str]]:
    found = {}
    for name, values in named:
        problem = text_problem(name) or next(
            (p for p in map(text_problem, values) if p is not None), None)
        if problem is not None:
            found[text_storable(name)] = problem
    return found


def _undecodable(encoded: bytes) -> dict[str, tuple[str, str]]:
    """The fields of a query string or urlencoded form that are not UTF-8 once
    percent-decoded. Django reads them with U+FFFD in place of the bad bytes; a client
    sending them has a bug it should hear about rather than text changed behind its back."""
    found = {}
    for pair in encoded.split(b"&"):
        name, _, value = (unquote_to_bytes(part.replace(b"+", b" "))
                          for part in pair.partition(b"="))
        try:
            name.decode()
            value.decode()
        except UnicodeDecodeError:
            found[name.decode(errors="replace")] = (INVALID_ENCODING, "This is not valid UTF-8.")
    return found


class UnstorableTextMiddleware:
    """Answer 400, before the view, a request whose URL, query string or form holds text
    no column can store or bytes that are not UTF-8: any view storing it would fail, and
    one that forgot to check would answer 500. Under ``/api/`` the answer is the API's
    ``validation_error`` naming each parameter; the API's bodies are left to its parsers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args,
                     view_kwargs: dict) -> HttpResponse | None:
        api = request.path.startswith("/api/")
        encoded = [get_bytes_from_wsgi(request.META, "QUERY_STRING", "")]
        named = [(name, [value]) for name, value in view_kwargs.items()
                 if isinstance(value, str)]
        named += request.GET.lists()
        if not api and request.method == "POST":
            if request.content_type == "application/x-www-form-urlencoded":
                encoded.append(request.body)
            named += request.POST.lists()
        problems = {name: problem for raw in encoded for name, problem in
                    _undecodable(raw).items()}
        problems.update(_unstorable(named))
        if not problems:
            return None
        if api:
            fields = {name: [{"code": code, "detail": detail}]
                      for name, (code, detail) in problems.items()}
            first = next(iter(problems.values()))
            return JsonResponse({"code": "validation_error", "detail": first[1],
                                 "fields": fields}, status=400)
        names = ", ".join(sorted(problems))
        return HttpResponseBadRequest(
            f"This request holds characters that cannot be stored, such as a NUL character, "
            f"or text that is not UTF-8 (in: {names}). Go back, correct it and try again.",
            content_type="text/plain; charset=utf-8")
