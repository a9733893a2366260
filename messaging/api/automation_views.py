"""Automation API: keyword rules (CRUD), business hours, forwarding endpoints and their
attempt log."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.api_docs import refusals
from core.errors import DomainError
from messaging import error_codes
from messaging.api.serializers import (
    BusinessHoursSerializer,
    ForwardAttemptSerializer,
    ForwardingEndpointCreatedSerializer,
    ForwardingEndpointSerializer,
    KeywordRuleSerializer,
)
from messaging.forwarding import endpoint_save
from messaging.hours import business_hours_get, business_hours_update
from messaging.models import ForwardAttempt, ForwardingEndpoint, KeywordRule
from messaging.rules import keyword_rule_delete, keyword_rule_save

RULE_REFUSALS = refusals({400: (
    "invalid_keyword", "invalid_match", "invalid_pattern", "invalid_schedule",
    "invalid_template", "no_action", "unknown_sender", "unknown_user", "survey_deleted")})
RULES = "Scope `settings`."


def _rule_fields(validated: dict) -> dict:
    """Serializer data to ``keyword_rule_save`` arguments: nested sources flattened,
    the assignee looked up by email."""
    fields = dict(validated)
    if "sender" in fields:
        fields["sender"] = (fields["sender"] or {}).get("address") or ""
    if "assign_to" in fields:
        email = (fields.pop("assign_to") or {}).get("email")
        user = None
        if email:
            user = User.objects.filter(email__iexact=email, is_active=True).first()
            if user is None:
                raise DomainError(error_codes.UNKNOWN_USER,
                                     f"{email} is not a member of your team.", "assign_to")
        fields["assign_to"] = user
    return fields


class KeywordRuleListCreate(ListModelMixin, GenericAPIView):
    serializer_class = KeywordRuleSerializer
    required_scopes = {"GET": "settings", "POST": "settings"}
    queryset = KeywordRule.objects.select_related("sender", "assign_to")

    @extend_schema(summary="List keyword rules", description=(
        f"Your rules, newest first. The first active rule that matches a customer's text, "
        f"by priority, answers it. {RULES}"))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Create a keyword rule", description=(
        f"A keyword or pattern and what to do when a customer's text matches: reply, tag "
        f"the contact, assign the conversation, forward the text to your system, start a "
        f"survey. The pattern, the schedule and the reply's template are checked when "
        f"saved. Opt-out keywords (STOP, ...) are handled before any rule. {RULES}"),
        responses={201: KeywordRuleSerializer, **RULE_REFUSALS})
    def post(self, request: Request) -> Response:
        data = KeywordRuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = keyword_rule_save(**_rule_fields(data.validated_data))
        return Response(KeywordRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class KeywordRuleDetail(GenericAPIView):
    serializer_class = KeywordRuleSerializer
    required_scopes = {"GET": "settings", "PUT": "settings", "PATCH": "settings",
                       "DELETE": "settings"}
    queryset = KeywordRule.objects.select_related("sender", "assign_to")

    @extend_schema(summary="Get a keyword rule", description=f"One rule. {RULES}")
    def get(self, request: Request, pk: int) -> Response:
        return Response(KeywordRuleSerializer(self.get_object()).data)

    @extend_schema(summary="Replace a keyword rule", description=(
        f"Saves the rule as given; what is left out takes its default. {RULES}"),
        responses={200: KeywordRuleSerializer, **RULE_REFUSALS})
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=False)

    @extend_schema(summary="Update a keyword rule", description=(
        f"Changes the fields given and keeps the others. {RULES}"),
        responses={200: KeywordRuleSerializer, **RULE_REFUSALS})
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=True)

    @extend_schema(summary="Delete a keyword rule", description=(
        f"The rule stops applying at once; messages it answered keep their replies. "
        f"{RULES}"))
    def delete(self, request: Request, pk: int) -> Response:
        keyword_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, *, partial: bool) -> Response:
        rule = self.get_object()
        data = KeywordRuleSerializer(rule, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        rule = keyword_rule_save(rule=rule, **_rule_fields(data.validated_data))
        return Response(KeywordRuleSerializer(rule).data)


class BusinessHoursView(GenericAPIView):
    """Opening hours by weekday (``{"0": [["09:00", "17:00"]]}``, 0 is Monday) in the
    tenant's timezone; the away reply goes out at most once per conversation per day."""

    serializer_class = BusinessHoursSerializer
    required_scopes = {"GET": "settings", "PUT": "settings"}

    @extend_schema(summary="Get business hours", description=(
        "When the team answers, and the away reply sent outside those hours. Off until an "
        "admin turns it on. Scope `settings`."))
    def get(self, request: Request) -> Response:
        return Response(BusinessHoursSerializer(business_hours_get()).data)

    @extend_schema(summary="Set business hours", description=(
        "Opening hours by weekday (`{\"0\": [[\"09:00\", \"17:00\"]]}`, 0 is Monday) in your "
        "timezone, the away reply and whether it is on; a field left out keeps its value. "
        "The away reply goes out at most once per conversation per day. Scope `settings`."),
        responses={200: BusinessHoursSerializer,
                   **refusals({400: ("invalid_hours", "invalid_template")})})
    def put(self, request: Request) -> Response:
        data = BusinessHoursSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(BusinessHoursSerializer(
            business_hours_update(**data.validated_data)).data)


class ForwardingEndpointListCreate(ListModelMixin, GenericAPIView):
    """The business's systems that rules forward messages to. The signing secret is in
    the answer to the create only."""

    serializer_class = ForwardingEndpointSerializer
    required_scopes = {"GET": "settings", "POST": "settings"}
    queryset = ForwardingEndpoint.objects.all()

    @extend_schema(summary="List forwarding endpoints", description=(
        "Your systems that keyword rules forward customers' texts to, newest first. Scope "
        "`settings`."))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Create a forwarding endpoint", description=(
        "A URL of yours that a keyword rule's `forward_to` POSTs matching texts to, signed "
        "with the endpoint's own secret (Standard Webhooks). The answer (201) holds the "
        "secret, shown this once. Scope `settings`."),
        responses={201: ForwardingEndpointCreatedSerializer,
                   **refusals({400: ("unsafe_url", "invalid_timeout")})})
    def post(self, request: Request) -> Response:
        data = ForwardingEndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_save(**data.validated_data)
        return Response(ForwardingEndpointCreatedSerializer(endpoint).data,
                        status=status.HTTP_201_CREATED)


class ForwardingEndpointDetail(GenericAPIView):
    serializer_class = ForwardingEndpointSerializer
    required_scopes = {"GET": "settings", "PATCH": "settings", "DELETE": "settings"}
    queryset = ForwardingEndpoint.objects.all()

    @extend_schema(summary="Get a forwarding endpoint", description=(
        "One endpoint, without its secret. Scope `settings`."))
    def get(self, request: Request, pk: int) -> Response:
        return Response(ForwardingEndpointSerializer(self.get_object()).data)

    @extend_schema(summary="Update a forwarding endpoint", description=(
        "Changes the fields given and keeps the others; the secret stays. Scope "
        "`settings`."), responses={200: ForwardingEndpointSerializer,
                                   **refusals({400: ("unsafe_url", "invalid_timeout")})})
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self.get_object()
        data = ForwardingEndpointSerializer(endpoint, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_save(endpoint=endpoint, **data.validated_data)
        return Response(ForwardingEndpointSerializer(endpoint).data)

    @extend_schema(summary="Delete a forwarding endpoint", description=(
        "Rules that forwarded to it stop forwarding; its attempt log goes with it. Scope "
        "`settings`."))
    def delete(self, request: Request, pk: int) -> Response:
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForwardAttemptList(ListModelMixin, GenericAPIView):
    """Every try to reach an endpoint, newest first: what admins read when the business's
    system misbehaves."""

    serializer_class = ForwardAttemptSerializer
    required_scopes = {"GET": "settings"}

    def get_queryset(self):
        endpoint = get_object_or_404(ForwardingEndpoint, pk=self.kwargs["pk"])
        return ForwardAttempt.objects.filter(forward__endpoint=endpoint).select_related(
            "forward")

    @extend_schema(summary="List an endpoint's attempts", description=(
        "Every try to reach the endpoint, newest first, with its HTTP status, the start of "
        "its answer and the error: what to read when your system misbehaves. Scope "
        "`settings`."))
    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)
