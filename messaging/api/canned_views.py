"""Canned responses API: the replies staff pull into the inbox composer with ``/shortcode``.

Reading them needs ``messages:read`` (every role uses them in the inbox); writing them needs
``settings`` (owners and admins write them on ``/canned-responses/``). Writes go through
``messaging.canned``, as the page's do.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import refusals
from messaging.api.serializers import CannedResponseSerializer
from messaging.canned import canned_response_delete, canned_response_save
from messaging.selectors import canned_response_list

CANNED_CODES = ("invalid_shortcode", "shortcode_exists", "empty_body", "body_too_long",
                "invalid_template")


class CannedResponseListCreate(ListModelMixin, GenericAPIView):
    """Replies staff insert in the inbox by typing ``/shortcode``, newest first. Listing
    needs the ``messages:read`` scope, creating ``settings``."""

    serializer_class = CannedResponseSerializer
    required_scopes = {"GET": "messages:read", "POST": "settings"}

    def get_queryset(self):
        return canned_response_list()

    @extend_schema(summary="List canned responses", description=(
        "Saved replies staff insert in the inbox by typing `/shortcode`, newest first. "
        "Scope `messages:read`."))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Create a canned response", description=(
        "A shortcode and a reply template, checked as the page checks them. Scope "
        "`settings`."), responses={201: CannedResponseSerializer,
                                   **refusals({400: CANNED_CODES})})
    def post(self, request: Request) -> Response:
        data = CannedResponseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        canned = canned_response_save(**data.validated_data)
        return Response(CannedResponseSerializer(canned).data, status=status.HTTP_201_CREATED)


class CannedResponseDetail(GenericAPIView):
    """PATCH changes what it names, PUT gives both fields. Reading needs ``messages:read``,
    changing and deleting ``settings``."""

    serializer_class = CannedResponseSerializer
    required_scopes = {"GET": "messages:read", "PUT": "settings", "PATCH": "settings",
                       "DELETE": "settings"}

    def get_queryset(self):
        return canned_response_list()

    @extend_schema(summary="Get a canned response", description=(
        "One canned response. Scope `messages:read`."))
    def get(self, request: Request, pk: int) -> Response:
        return Response(CannedResponseSerializer(self.get_object()).data)

    @extend_schema(summary="Replace a canned response", description=(
        "Saves both fields as given. `canned_response_deleted`: it was deleted meanwhile. "
        "Scope `settings`."),
        responses={200: CannedResponseSerializer, **refusals({400: (
            *CANNED_CODES, "canned_response_deleted")})})
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=False)

    @extend_schema(summary="Update a canned response", description=(
        "Changes the fields given and keeps the other. `canned_response_deleted`: it was "
        "deleted meanwhile. Scope `settings`."),
        responses={200: CannedResponseSerializer, **refusals({400: (
            *CANNED_CODES, "canned_response_deleted")})})
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=True)

    @extend_schema(summary="Delete a canned response", description=(
        "It is no longer offered in the inbox. Scope `settings`."))
    def delete(self, request: Request, pk: int) -> Response:
        canned_response_delete(canned=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, *, partial: bool) -> Response:
        canned = self.get_object()
        data = CannedResponseSerializer(canned, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        # A PATCH keeps what it does not name; the service checks the pair as a whole.
        changes = {"shortcode": canned.shortcode, "body": canned.body, **data.validated_data}
        canned = canned_response_save(canned=canned, **changes)
        return Response(CannedResponseSerializer(canned).data)
