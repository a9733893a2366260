"""The dialect's operations (docs/CAMARA.md): parse, call the service, answer as CAMARA
does. Scopes: ``messages:send`` to send, ``messages:read`` for subscriptions, which carry
messages and their outcomes."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from compat.camara.errors import CamaraError
from compat.camara.http import CamaraView
from compat.camara.selectors import subscription_get, subscription_list
from compat.camara.sending import short_message_send
from compat.camara.serializers import (
    ShortMessageRequestSerializer,
    SubscriptionCreateSerializer,
    subscription_info,
    timestamp,
)
from compat.camara.subscriptions import subscription_create, subscription_delete

OPENAPI = Path(__file__).with_name("openapi.yaml")


class ShortMessageSend(CamaraView):
    required_scopes = {"POST": "messages:send"}

    def post(self, request: Request) -> Response:
        data = ShortMessageRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = short_message_send(
            to=data.validated_data["to"], from_address=data.validated_data["from"],
            message=data.validated_data["message"],
            category=data.validated_data.get("category", ""),
            origin_ref=request.auth.prefix)
        return Response({"msgId": sent.msg_id, "timestamp": timestamp(sent.timestamp)})


class SubscriptionListCreate(CamaraView):
    required_scopes = {"GET": "messages:read", "POST": "messages:read"}

    def get(self, request: Request) -> Response:
        return Response([subscription_info(subscription)
                         for subscription in subscription_list()])

    def post(self, request: Request) -> Response:
        data = SubscriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        subscription = subscription_create(
            type=given["subscriptionDetail"]["type"],
            sender_id=given["subscriptionDetail"]["senderId"],
            notification_url=given["webhook"]["notificationUrl"],
            notification_auth_token=given["webhook"].get("notificationAuthToken", ""),
            expire_time=given.get("subscriptionExpireTime"),
            max_events=given.get("subscriptionMaxEvents"))
        return Response(subscription_info(subscription), status=status.HTTP_201_CREATED)


class SubscriptionDetail(CamaraView):
    required_scopes = {"GET": "messages:read", "DELETE": "messages:read"}

    def _subscription(self, subscription_uid: str):
        subscription = subscription_get(subscription_id=subscription_uid)
        if subscription is None:
            raise CamaraError(404, "No subscription with this id.")
        return subscription

    def get(self, request: Request, subscription_uid: str) -> Response:
        return Response(subscription_info(self._subscription(subscription_uid)))

    def delete(self, request: Request, subscription_uid: str) -> Response:
        subscription_delete(subscription=self._subscription(subscription_uid))
        return Response(status=status.HTTP_204_NO_CONTENT)


@cache
def _document() -> dict:
    return yaml.safe_load(OPENAPI.read_text())


@require_safe
def openapi_document(request: HttpRequest) -> JsonResponse:
    """The dialect's OpenAPI document, with this host as its ``apiRoot``. Public, as
    /api/schema/ is: it describes the API, not the tenant."""
    document = copy.deepcopy(_document())
    document["servers"][0]["variables"]["apiRoot"]["default"] = (
        request.build_absolute_uri("/").rstrip("/"))
    return JsonResponse(document)
