"""Event webhooks API: CRUD ``/webhooks``, ``/webhooks/{id}/deliveries`` and
``POST /webhooks/{id}/test``; scope ``settings``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from events.actions import (
    subscription_create,
    subscription_delete,
    subscription_test_send,
    subscription_update,
)
from events.models import SUBSCRIBABLE_TYPES, Delivery, DeliveryAttempt, WebhookSubscription
from events.selectors import delivery_list, subscription_list


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    url = serializers.URLField(
        max_length=500,
        help_text="Where events are POSTed (http or https). Checked when saved and before "
                  "every delivery: addresses inside the installation's network, and URLs "
                  "that HTTP clients could read in different ways (a user name or password, "
                  "a backslash, whitespace, an IP address in an unusual form), are refused "
                  "(unsafe_url). Redirects are not followed.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_TYPES), allow_empty=False,
        max_length=len(SUBSCRIBABLE_TYPES),
        help_text="The event types to receive.")

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "description", "active", "disabled_at",
                  "disabled_reason", "created_at", "updated_at"]
        read_only_fields = ["id", "disabled_at", "disabled_reason", "created_at",
                            "updated_at"]
        extra_kwargs = {
            "description": {"required": False, "help_text": "A note for your team."},
            "active": {"required": False,
                       "help_text": "Off: nothing is sent, pending deliveries wait. Turning "
                                    "it on again resumes them and clears disabled_at."},
            "disabled_at": {"help_text": "When the platform turned the webhook off because "
                                         "its deliveries kept failing; null otherwise."},
            "disabled_reason": {"help_text": "Why the platform turned it off."},
        }


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """Only the answer to a create carries the secret: it is shown once."""

    secret = serializers.CharField(
        read_only=True,
        help_text="The Standard Webhooks signing secret (whsec_...). Shown only now.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "response_status",
                  "response_excerpt", "error"]
        read_only_fields = fields
        extra_kwargs = {
            "response_status": {"help_text": "The receiver's HTTP status; null when no "
                                             "answer came."},
            "response_excerpt": {"help_text": "The start of the receiver's answer."},
            "error": {"help_text": "Why the attempt failed; empty on success."},
        }


class DeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.public_id", read_only=True,
                                  help_text="The event's id (also its webhook-id header).")
    type = serializers.CharField(source="event.type", read_only=True)
    sequence = serializers.IntegerField(
        source="event.sequence", read_only=True, allow_null=True,
        help_text="The event's position in its conversation; null without one.")
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True,
                                            help_text="Every attempt, first to last.")

    class Meta:
        model = Delivery
        fields = ["id", "event", "type", "sequence", "status", "attempts", "next_attempt_at",
                  "created_at", "updated_at", "attempt_log"]
        read_only_fields = fields
        extra_kwargs = {"next_attempt_at": {"help_text": "When a pending delivery is tried "
                                                         "next."}}


class WebhookListCreate(ListModelMixin, GenericAPIView):
    """Event webhooks: events are POSTed as JSON signed per Standard Webhooks with the
    webhook's secret, which is in the answer to the create only."""

    serializer_class = WebhookSubscriptionSerializer
    required_scopes = {"GET": "settings", "POST": "settings"}

    def get_queryset(self):
        return subscription_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(responses={201: WebhookSubscriptionCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = WebhookSubscriptionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = subscription_create(**data.validated_data)
        return Response(WebhookSubscriptionCreatedSerializer(subscription).data,
                        status=status.HTTP_201_CREATED)


class WebhookDetail(GenericAPIView):
    serializer_class = WebhookSubscriptionSerializer
    required_scopes = {"GET": "settings", "PUT": "settings", "PATCH": "settings",
                       "DELETE": "settings"}

    def get_queryset(self):
        return subscription_list()

    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSubscriptionSerializer(self.get_object()).data)

    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=False)

    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        subscription_delete(subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, *, partial: bool) -> Response:
        subscription = self.get_object()
        data = WebhookSubscriptionSerializer(subscription, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        subscription = subscription_update(subscription=subscription, **data.validated_data)
        return Response(WebhookSubscriptionSerializer(subscription).data)


class WebhookDeliveryList(ListModelMixin, GenericAPIView):
    """The webhook's deliveries, newest first, each with its attempts and the receiver's
    answers: what to read when events do not arrive."""

    serializer_class = DeliverySerializer
    required_scopes = {"GET": "settings"}

    def get_queryset(self):
        subscription = get_object_or_404(subscription_list(), pk=self.kwargs["pk"])
        return delivery_list(subscription=subscription)

    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)


class WebhookTest(GenericAPIView):
    """Send a ``webhook.test`` event to this webhook alone (202): the delivery, logged
    like any other, shows whether the endpoint receives and verifies events."""

    serializer_class = DeliverySerializer
    required_scopes = {"POST": "settings"}

    def get_queryset(self):
        return subscription_list()

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, pk: int) -> Response:
        delivery = subscription_test_send(subscription=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
