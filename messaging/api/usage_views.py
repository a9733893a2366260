"""``GET /api/v1/usage``: the tenant's own metered figures, read from the usage counters
(docs/ARCHITECTURE.md#metering)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection as db_connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import error_response
from core.drf_fields import FilterSerializer
from tenants.status import tenant_state
from tenants.usage import usage_daily

# A year and a day: a whole year's figures in one call, leap years included.
MAX_DAYS = 366


class UsageFilterSerializer(FilterSerializer):
    start = serializers.DateField(input_formats=["%Y-%m-%d"], required=False,
                                  help_text="First day (UTC), YYYY-MM-DD; by default the "
                                            "first day of this month.")
    end = serializers.DateField(input_formats=["%Y-%m-%d"], required=False,
                                help_text="Last day (UTC), included, YYYY-MM-DD; by default "
                                          "today.")

    def validate(self, attrs: dict) -> dict:
        today = timezone.now().date()
        attrs.setdefault("end", today)
        attrs.setdefault("start", min(today, attrs["end"]).replace(day=1))
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end comes before the start."})
        if attrs["end"] - attrs["start"] >= timedelta(days=MAX_DAYS):
            raise serializers.ValidationError(
                {"end": f"Ask for at most {MAX_DAYS} days at a time."})
        return attrs


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField(source="day", help_text="The day (UTC), YYYY-MM-DD.")
    direction = serializers.ChoiceField(choices=["inbound", "outbound"], help_text=(
        "`inbound`: customers' texts to your senders; `outbound`: your texts to them."))
    messages = serializers.IntegerField(help_text="Messages received (processed) or sent "
                                                  "(accepted by the provider).")
    segments = serializers.IntegerField(help_text=(
        "Their SMS segments, as carriers bill them: GSM-7 text fits 160 characters in one "
        "segment and 153 in each once longer; UCS-2 text 70, then 67."))


@extend_schema_serializer(examples=[OpenApiExample(
    "Two days", response_only=True, value={"results": [
        {"date": "2026-11-23", "direction": "inbound", "messages": 12, "segments": 14},
        {"date": "2026-11-23", "direction": "outbound", "messages": 30, "segments": 41},
        {"date": "2026-11-24", "direction": "outbound", "messages": 5, "segments": 5}]})])
class UsageSerializer(serializers.Serializer):
    results = UsageDaySerializer(many=True, help_text=(
        "One row per day and direction with traffic, oldest first (inbound before "
        "outbound on a day); days without traffic are left out."))


class UsageView(GenericAPIView):
    serializer_class = UsageSerializer
    required_scopes = {"GET": "messages:read"}

    @extend_schema(
        summary="Usage per day and direction",
        description=(
            "Messages and segments per UTC day and direction, from `start` to `end` "
            f"included (at most {MAX_DAYS} days; by default this month so far), oldest "
            "first; days without traffic are left out. An inbound message counts once it is "
            "processed, an outbound one once the provider accepted it; retries and "
            "duplicates never count twice. Scope `messages:read`."),
        parameters=[UsageFilterSerializer],
        responses={200: UsageSerializer, 400: error_response(
            "`validation_error`: a date not written YYYY-MM-DD, an empty `start` or `end`, "
            f"`end` before `start`, or more than {MAX_DAYS} days.")})
    def get(self, request: Request) -> Response:
        filters = UsageFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        state = tenant_state(db_connection.schema_name)
        rows = [] if state is None else usage_daily(
            tenant_id=state.tenant_id, start=filters.validated_data["start"],
            end=filters.validated_data["end"])
        return Response(UsageSerializer({"results": rows}).data)
