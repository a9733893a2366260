from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirst(CursorPagination):
    """``{"results": [...], "next": <url or null>}``, newest first (DESIGN §8). A cursor
    on the id stays stable while new messages arrive."""

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
        value = values[-1]
        if len(values) > 1 or not value.isdigit() or not 1 <= int(value) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"Give one whole number from 1 to {self.max_page_size}."]})
        return int(value)

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

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema,
                           "next": {"type": "string", "format": "uri", "nullable": True}},
        }
