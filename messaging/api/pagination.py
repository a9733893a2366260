from __future__ import annotations

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirst(CursorPagination):
    """``{"results": [...], "next": <url or null>}``, newest first (DESIGN §8). A cursor
    on the id stays stable while new messages arrive."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema,
                           "next": {"type": "string", "format": "uri", "nullable": True}},
        }
