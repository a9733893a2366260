"""Event webhooks API: CRUD ``/webhooks``, ``/webhooks/{id}/deliveries`` and
``POST /webhooks/{id}/test``; scope ``settings``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import CREATED_AT, DATE, ID, UPDATED_AT, refusals
from events.actions import (
    subscription_create,
    subscription_delete,
    subscription_test_send,
    subscription_update,
)
from events.models import SUBSCRIBABLE_TYPES, Delivery, DeliveryAttempt, WebhookSubscription
from events.selectors import delivery_list, subscription_list

SETTINGS = "Scope `settings`."
WEBHOOK_EXAMPLE = {"url": "https://hooks.acme.example/sms-events",
                   "events": ["message.received", "message.status_changed"],
                   "description": "CRM sync", "active": True}
WEBHOOK_ANSWER = {"id": 4, **WEBHOOK_EXAMPLE, "disabled_at": None, "disabled_reason": "",
                  "created_at": DATE, "updated_at": DATE}
WEBHOOK_REFUSALS = refusals({400: ("unsafe_url",)})


@extend_schema_serializer(examples=[
    OpenApiExample("Subscribe to messages", request_only=True, value=WEBHOOK_EXAMPLE),
    OpenApiExample("A webhook", response_only=True, value=WEBHOOK_ANSWER),
])
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
            "id": {"help_text": ID},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": UPDATED_AT},
            "description": {"required": False, "help_text": "A note for your team."},
            "active": {"required": False,
                       "help_text": "Off: nothing is sent, pending deliveries wait. Turning "
                                    "it on again resumes them and clears disabled_at."},
            "disabled_at": {"help_text": "When the platform turned the webhook off because "
                                         "its deliveries kept failing; null otherwise."},
            "disabled_reason": {"help_text": "Why the platform turned it off."},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Created, with its secret", response_only=True, value={
        **WEBHOOK_ANSWER, "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"})])
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
            "number": {"help_text": "1 for the first attempt, up to 8."},
            "started_at": {"help_text": "When the request was sent."},
            "duration_ms": {"help_text": "How long the receiver took, in milliseconds."},
            "response_status": {"help_text": "The receiver's HTTP status; null when no "
                                             "answer came."},
            "response_excerpt": {"help_text": "The start of the receiver's answer."},
            "error": {"help_text": "Why the attempt failed; empty on success."},
        }


DELIVERY_EXAMPLE = {
    "id": 310, "event": "evt_2Vq8sX0m9bQeT4kLr1", "type": "message.received", "sequence": 7,
    "status": "succeeded", "attempts": 1, "next_attempt_at": None, "created_at": DATE,
    "updated_at": DATE, "attempt_log": [
        {"number": 1, "started_at": DATE, "duration_ms": 182, "response_status": 200,
         "response_excerpt": "ok", "error": ""}]}


@extend_schema_serializer(examples=[
    OpenApiExample("A delivery", response_only=True, value=DELIVERY_EXAMPLE),
    OpenApiExample("Test event queued", response_only=True, status_codes=["202"], value={
        **DELIVERY_EXAMPLE, "type": "webhook.test", "sequence": None, "status": "pending",
        "attempts": 0, "next_attempt_at": DATE, "attempt_log": []}),
])
class DeliverySerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="event.public_id", read_only=True,
                                  help_text="The event's id (also its webhook-id header).")
    type = serializers.CharField(source="event.type", read_only=True,
                                 help_text="The event's type (`message.received`, ...).")
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
        extra_kwargs = {
            "id": {"help_text": ID},
            "status": {"help_text": "`pending` (an attempt is due), `succeeded` (a 2xx "
                                    "answer) or `failed` (out of attempts)."},
            "attempts": {"help_text": "Attempts made so far, up to 8."},
            "next_attempt_at": {"help_text": "When a pending delivery is tried next."},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": UPDATED_AT},
        }


class WebhookListCreate(ListModelMixin, GenericAPIView):
    """Event webhooks: events are POSTed as JSON signed per Standard Webhooks with the
    webhook's secret, which is in the answer to the create only."""

    serializer_class = WebhookSubscriptionSerializer
    required_scopes = {"GET": "settings", "POST": "settings"}

    def get_queryset(self):
        return subscription_list()

    @extend_schema(summary="List event webhooks", description=(
        f"Your event subscriptions, newest first, with whether each is on and why the "
        f"platform turned it off, if it did. {SETTINGS}"))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Create an event webhook", description=(
        f"Events of the types chosen are POSTed to `url` as JSON, signed per Standard "
        f"Webhooks with the subscription's secret, which the answer (201) holds, shown this "
        f"once. Failed deliveries are retried for about 28 hours. {SETTINGS}"),
        responses={201: WebhookSubscriptionCreatedSerializer, **WEBHOOK_REFUSALS})
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

    @extend_schema(summary="Get an event webhook", description=(
        f"One subscription, without its secret. {SETTINGS}"))
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSubscriptionSerializer(self.get_object()).data)

    @extend_schema(summary="Replace an event webhook", description=(
        f"Saves url, events, description and active as given. `active: true` turns a "
        f"disabled webhook back on and resumes its waiting deliveries. {SETTINGS}"),
        responses={200: WebhookSubscriptionSerializer, **WEBHOOK_REFUSALS})
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=False)

    @extend_schema(summary="Update an event webhook", description=(
        f"Changes the fields given and keeps the others. `active: true` turns a disabled "
        f"webhook back on and resumes its waiting deliveries. {SETTINGS}"),
        responses={200: WebhookSubscriptionSerializer, **WEBHOOK_REFUSALS})
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=True)

    @extend_schema(summary="Delete an event webhook", description=(
        f"No more events are sent to it; its pending deliveries are dropped. {SETTINGS}"),
        responses={204: None})
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

    @extend_schema(summary="List a webhook's deliveries", description=(
        f"Its deliveries, newest first, each with its event and every attempt: the time, "
        f"the duration, your HTTP status, the start of your answer and the error. "
        f"{SETTINGS}"))
    def get(self, request: Request, pk: int) -> Response:
        return self.list(request)


class WebhookTest(GenericAPIView):
    """Send a ``webhook.test`` event to this webhook alone (202): the delivery, logged
    like any other, shows whether the endpoint receives and verifies events."""

    serializer_class = DeliverySerializer
    required_scopes = {"POST": "settings"}

    def get_queryset(self):
        return subscription_list()

    @extend_schema(summary="Send a test event", description=(
        f"Queues a `webhook.test` event to this webhook alone (202, with the delivery); its "
        f"delivery is logged like any other, so it shows whether your endpoint receives and "
        f"verifies events. A webhook that is off answers `webhook_inactive`. {SETTINGS}"),
        request=None, responses={202: DeliverySerializer,
                                 **refusals({400: ("webhook_inactive",)})})
    def post(self, request: Request, pk: int) -> Response:
        delivery = subscription_test_send(subscription=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
