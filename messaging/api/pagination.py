from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.numbers import small_int
from messaging.selectors import ActivityPosition, conversation_page_by_activity


class NewestFirst(CursorPagination):
    """``{"results": [...], "next": <url or null>}``, newest first. A cursor
    on the id stays stable while new messages arrive. A view may choose another unique,
    immutable ordering with ``cursor_ordering`` (``"id"``: oldest first)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        """``limit`` as asked, or a 400: DRF's default would quietly serve 50 rows to a
        client that asked for ``limit=ten`` and believes it got ten."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = small_int(values[-1])
        if len(values) > 1 or value is None or not 1 <= value <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"Give one whole number from 1 to {self.max_page_size}."]})
        return value

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Items per page, {self.page_size} by default."
                parameter["schema"].update(minimum=1, maximum=self.max_page_size,
                                           default=self.page_size)
            else:
                parameter["description"] = "The `next` link's cursor; omit for the first page."
        return parameters

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = getattr(view, "cursor_ordering", None)
        return (ordering,) if ordering else super().get_ordering(request, queryset, view)

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            # drf-spectacular passes a placeholder, not a dict, when it builds examples.
            "properties": {"results": ({**schema, "description": "This page's items."}
                                       if isinstance(schema, dict) else schema),
                           "next": {"type": "string", "format": "uri", "nullable": True,
                                    "description": "The next page (follow it as is); "
                                                   "null on the last page.",
                                    # Lets operations' examples show a whole page.
                                    "example": "https://acme.example.com/api/v1/messages"
                                               "?cursor=cD0xMDQy"}},
        }


class ActivityCursor(NewestFirst):
    """Conversations by last activity, most recent first, as they stood when the first
    page was read.

    Activity moves: a keyset on ``last_activity_at`` alone would skip a conversation that
    gets a message while a client pages (it jumps above the cursor), and an offset would
    repeat or skip its neighbours. The cursor therefore carries the first page's moment
    and the selector places every conversation where it stood then, so each one listed on
    the first page's moment appears exactly once; newer ones top the next first page.
    ``cursor_ordering = "-id"`` on the view falls back to the plain id cursor.
    """

    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.by_activity = getattr(view, "cursor_ordering", None) in (None, "-last_activity_at")
        if not self.by_activity:
            return super().paginate_queryset(queryset, request, view)
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        after = self._decode(request.query_params.get(self.cursor_query_param))
        as_of = after.as_of if after else timezone.now()
        rows = conversation_page_by_activity(conversations=queryset, as_of=as_of, after=after,
                                             limit=self.page_size + 1)
        self.next_position = None
        if len(rows) > self.page_size:
            rows = rows[:self.page_size]
            self.next_position = ActivityPosition(as_of=as_of, activity=rows[-1].activity_as_of,
                                                  id=rows[-1].pk)
        return rows

    def get_next_link(self) -> str | None:
        if not self.by_activity:
            return super().get_next_link()
        if self.next_position is None:
            return None
        position = self.next_position
        token = json.dumps({"s": position.as_of.isoformat(), "a": position.activity.isoformat(),
                            "i": position.id}, separators=(",", ":"))
        return replace_query_param(self.base_url, self.cursor_query_param,
                                   base64.urlsafe_b64encode(token.encode()).decode())

    def _decode(self, encoded: str | None) -> ActivityPosition | None:
        if encoded is None:
            return None
        try:
            token = json.loads(base64.urlsafe_b64decode(encoded.encode()))
            position = ActivityPosition(as_of=datetime.fromisoformat(token["s"]),
                                        activity=datetime.fromisoformat(token["a"]),
                                        id=int(token["i"]))
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        if timezone.is_naive(position.as_of) or timezone.is_naive(position.activity):
            raise NotFound(self.invalid_cursor_message)
        return position
