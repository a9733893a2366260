"""The messaging API: senders, messages, bulk sends, the simulator."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import refusals
from core.api_errors import domain_error_response
from core.errors import DomainError
from core.phones import inbound_address
from messaging.api.serializers import (
    MESSAGE_EXAMPLE,
    BulkCreateSerializer,
    BulkResultsSerializer,
    MessageCreateSerializer,
    MessageFilterSerializer,
    MessageSerializer,
    SenderCreateSerializer,
    SenderSerializer,
)
from messaging.inbound import message_receive_simulated
from messaging.models import Message
from messaging.outbound import message_send, messages_send_bulk
from messaging.selectors import message_list
from messaging.senders import sender_list, sender_register

# What a send can be refused for (docs/API.md#resources).
SEND_REFUSALS = ("invalid_phone_number", "unknown_sender", "sender_not_approved",
                 "empty_body", "body_too_long", "recipient_opted_out")


def api_origin(request: Request) -> dict:
    """Who sends: the API key (by prefix) or the signed-in user."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return {"origin": Message.Origin.API, "origin_ref": api_key.prefix}
    return {"origin": Message.Origin.USER, "author": request.user}


class SenderListCreate(ListModelMixin, GenericAPIView):
    serializer_class = SenderSerializer
    required_scopes = {"GET": "messages:read", "POST": "settings"}

    def get_queryset(self):
        return sender_list()

    @extend_schema(summary="List senders", description=(
        "Your senders, newest first, with their review status. Scope `messages:read`."))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Register a sender",
        description=(
            "Asks to send from a number, short code or sender ID over one of your provider "
            "connections. It answers 201 with the sender `pending`: the operator approves "
            "or rejects it, and only an approved sender sends. Scope `settings`."),
        request=SenderCreateSerializer,
        responses={201: SenderSerializer, **refusals({400: (
            "invalid_address", "invalid_kind", "unknown_connection", "sender_exists",
            "address_taken")})})
    def post(self, request: Request) -> Response:
        data = SenderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sender = sender_register(**data.validated_data)
        return Response(SenderSerializer(sender).data, status=status.HTTP_201_CREATED)


class MessageListCreate(ListModelMixin, GenericAPIView):
    serializer_class = MessageSerializer
    required_scopes = {"GET": "messages:read", "POST": "messages:send"}

    def get_queryset(self):
        filters = MessageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = dict(filters.validated_data)
        self.cursor_ordering = criteria.pop("ordering")
        if "contact" in criteria:
            criteria["contact"] = inbound_address(criteria["contact"])
        return message_list(**criteria)

    @extend_schema(summary="List messages", description=(
        "Messages in and out, newest first (`ordering=id`: oldest first, to follow new "
        "ones as they come), filtered by direction, status, contact, conversation and "
        "time. Scope `messages:read`."), parameters=[MessageFilterSerializer])
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Send a message", description=(
        "Checks the whole request before anything is stored (the numbers, the sender's "
        "approval, the customer's opt-out, the body's length), then queues the message and "
        "answers 202 with it `queued`. Its status then moves to `sent` and `delivered` (or "
        "`failed`, `undelivered`); follow it with `GET /messages/{id}` or the "
        "`message.status_changed` event. The message joins the conversation of its sender "
        "and number. Scope `messages:send`."),
                   request=MessageCreateSerializer,
                   responses={202: MessageSerializer, **refusals({400: SEND_REFUSALS})},
                   examples=[
                       OpenApiExample("Send a message", request_only=True, value={
                           "from": "+14155550100", "to": "+14155550199",
                           "body": "Your order #1042 has shipped."}),
                       OpenApiExample("Queued", response_only=True, status_codes=["202"],
                                      value=MESSAGE_EXAMPLE),
                       OpenApiExample("Opted out", response_only=True, status_codes=["400"], value={
                           "code": "recipient_opted_out",
                           "detail": "+14155550199 has opted out of your messages.",
                           "fields": {"to": [{"code": "recipient_opted_out", "detail":
                                              "+14155550199 has opted out of your messages."}]}}),
                   ])
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_send(from_address=data.validated_data["from"],
                               to=data.validated_data["to"], body=data.validated_data["body"],
                               **api_origin(request))
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class MessageBulkCreate(GenericAPIView):
    serializer_class = BulkCreateSerializer
    required_scopes = {"POST": "messages:send"}

    @extend_schema(summary="Send up to 1,000 messages", description=(
        "Each item is checked and queued on its own, as `POST /messages` would: the answer "
        "(202) holds one result per item, in order, either `{\"message\"}` or `{\"error\": "
        "{code, detail, fields?}}`, so a bad number refuses only its own item. A request "
        "that does not fit the schema (not 1 to 1,000 items, a field missing or too long, "
        "a body over 1,530 characters) is refused whole (400). Scope `messages:send`."),
        responses={202: BulkResultsSerializer})
    def post(self, request: Request) -> Response:
        data = BulkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        origin = api_origin(request)
        origin.pop("author", None)
        results = messages_send_bulk(items=data.validated_data["messages"], **origin)
        # One serializer for every item: DRF builds a serializer's fields per instance,
        # which cost more than queuing the message.
        message = MessageSerializer()
        return Response(
            {"results": [
                {"error": domain_error_response(result).data}
                if isinstance(result, DomainError)
                else {"message": message.to_representation(result)}
                for result in results
            ]},
            status=status.HTTP_202_ACCEPTED,
        )


class MessageDetail(GenericAPIView):
    serializer_class = MessageSerializer
    required_scopes = {"GET": "messages:read"}

    def get_queryset(self):
        return message_list()

    @extend_schema(summary="Get a message", description=(
        "One message, in or out, with its current status. Scope `messages:read`."))
    def get(self, request: Request, pk: int) -> Response:
        return Response(MessageSerializer(self.get_object()).data)


class SimulatorInbound(GenericAPIView):
    """A customer's message to one of the tenant's simulator senders."""

    serializer_class = MessageCreateSerializer
    required_scopes = {"POST": "messages:send"}

    @extend_schema(
        summary="Text from a simulated phone",
        description=(
            "A customer's text (`from`, any number) to one of your approved senders on the "
            "`simulator` connection (`to`). It goes through the inbound path as a carrier's "
            "would: opt-out keywords, rules, surveys, the inbox and event webhooks; the "
            "answers show in the simulator. Answers 202 with the inbound message. Scope "
            "`messages:send`."),
        responses={202: MessageSerializer, **refusals({400: (
            "invalid_phone_number", "unknown_sender", "sender_not_approved", "empty_body",
            "body_too_long")})},
        examples=[
            OpenApiExample("A customer asks", request_only=True, value={
                "from": "+14155550199", "to": "+14155550100", "body": "HOURS"}),
            OpenApiExample("Received", response_only=True, status_codes=["202"], value={
                **MESSAGE_EXAMPLE, "direction": "inbound", "from": "+14155550199",
                "to": "+14155550100", "body": "HOURS", "status": "received"}),
        ])
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_receive_simulated(from_address=data.validated_data["from"],
                                            to=data.validated_data["to"],
                                            body=data.validated_data["body"])
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)
