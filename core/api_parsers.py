"""The API's JSON parser: a body must be UTF-8 JSON whose strings a text column can store.

Checked here, once for every operation, rather than by each serializer: a choice field
quoting a lone surrogate back made an answer that could not be encoded (a 500), and a NUL
in a custom field or a nested list reached PostgreSQL, which refuses it. Every such string
is named in the answer, as ``validation_error`` fields (``core.text``).
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.utils import json

from core.text import text_problem, text_storable


class InvalidEncoding(ParseError):
    default_detail = "The request body is not valid UTF-8."
    default_code = "invalid_encoding"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise InvalidEncoding(
                f"The request body is not valid {encoding} (byte {exc.object[exc.start]:#04x} "
                f"at offset {exc.start}).") from exc
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:  # nested deeper than any request of this API
            raise ParseError("JSON parse error - nested too deeply") from exc
        unstorable = _unstorable(data)
        if unstorable:
            raise ValidationError(unstorable)
        return data


def _unstorable(data) -> dict[str, list[ErrorDetail]]:
    """``{"a.0.b": [error]}`` for each key or string value no text column can store, by
    its path as the API's error format names fields. Iterative: JSON nested as deep as the
    decoder allows must not exhaust the stack here."""
    found: dict[str, list[ErrorDetail]] = {}
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                found[path or "non_field_errors"] = [ErrorDetail(problem[1], problem[0])]
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{text_storable(key)}" if path else text_storable(key)
                problem = text_problem(key)
                if problem is not None:
                    found[where] = [ErrorDetail(problem[1], problem[0])]
                pending.append((where, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}" if path else str(index), item)
                           for index, item in enumerate(value))
    return dict(sorted(found.items()))
