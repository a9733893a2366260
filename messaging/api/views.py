"""The messaging API: senders, messages, bulk sends, the simulator."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_errors import domain_error_response
from core.errors import DomainError
from core.phones import inbound_address
from messaging.api.serializers import (
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

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=SenderCreateSerializer, responses={201: SenderSerializer})
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

    @extend_schema(parameters=[MessageFilterSerializer])
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=MessageCreateSerializer, responses={202: MessageSerializer},
                   examples=[
                       OpenApiExample("Send a message", request_only=True, value={
                           "from": "+14155550100", "to": "+14155550199",
                           "body": "Your order #1042 has shipped."}),
                       OpenApiExample("Queued", response_only=True, status_codes=["202"], value={
                           "id": 1042, "direction": "outbound", "from": "+14155550100",
                           "to": "+14155550199", "body": "Your order #1042 has shipped.",
                           "status": "queued", "encoding": "GSM-7", "segments": 1,
                           "conversation": 7, "campaign": None, "error_code": "",
                           "error_message": "",
                           "created_at": "2026-11-23T14:00:00Z",
                           "updated_at": "2026-11-23T14:00:00Z"}),
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

    @extend_schema(responses={202: BulkResultsSerializer}, examples=[
        OpenApiExample("Two messages", request_only=True, value={"messages": [
            {"from": "+14155550100", "to": "+14155550199", "body": "Sale starts today"},
            {"from": "+14155550100", "to": "+14155550198", "body": "Sale starts today"}]})])
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

    def get(self, request: Request, pk: int) -> Response:
        return Response(MessageSerializer(self.get_object()).data)


class SimulatorInbound(GenericAPIView):
    """A customer's message to one of the tenant's simulator senders."""

    serializer_class = MessageCreateSerializer
    required_scopes = {"POST": "messages:send"}

    @extend_schema(responses={202: MessageSerializer})
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_receive_simulated(from_address=data.validated_data["from"],
                                            to=data.validated_data["to"],
                                            body=data.validated_data["body"])
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)
