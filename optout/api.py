"""Opt-out API: ``/optouts``, ``/optouts/{phone}``, ``/optout-settings``, and
the suppression list's CSV import (``/optouts/imports``) and export (``/optouts/export``)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core import errors
from core.api_errors import domain_error_response
from core.phones import inbound_address, phone_normalize
from messaging.models import Sender
from optout import error_codes
from optout.actions import do_opt_in, do_opt_out, optout_settings_get, optout_settings_update
from optout.error_codes import OptOutError
from optout.imports import optout_import_create, optouts_csv
from optout.models import ConsentEvent, OptOut, OptOutImport, OptOutSettings
from optout.selectors import consent_history, optout_list


def audit_actor(request: Request) -> dict:
    """Who changed consent through the API, for the consent log."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return {"source": ConsentEvent.Source.API, "actor_label": f"api key {api_key.prefix}"}
    return {"source": ConsentEvent.Source.ADMIN, "actor": request.user}


class OptOutSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender_address", read_only=True)

    class Meta:
        model = OptOut
        fields = ["phone", "sender", "source", "reason", "created_at"]
        read_only_fields = fields


class OptOutCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    reason = serializers.CharField(max_length=500, allow_blank=True, default="")
    sender = serializers.CharField(max_length=20, allow_blank=True, default="",
                                   help_text="Opt out of this sender only; blank for all.")


class OptOutListCreate(ListModelMixin, GenericAPIView):
    serializer_class = OptOutSerializer
    required_scopes = {"GET": "contacts", "POST": "contacts"}

    def get_queryset(self):
        phone = self.request.query_params.get("phone")
        return optout_list(phone=inbound_address(phone) if phone else None)

    @extend_schema(parameters=[OpenApiParameter(
        "phone", description="Only this number's entries (international format).")])
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=OptOutCreateSerializer, responses={
        201: OptOutSerializer,
        200: OpenApiResponse(OptOutSerializer, description="The number was already opted out."),
    })
    def post(self, request: Request) -> Response:
        data = OptOutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        phone = phone_normalize(data.validated_data["phone"], field="phone")
        sender = data.validated_data["sender"]
        if sender:
            sender = inbound_address(sender)
            if not Sender.objects.filter(address=sender).exists():
                raise OptOutError(errors.UNKNOWN_SENDER,
                                  f"{sender!r} is not one of your senders.", "sender")
        created = do_opt_out(phone=phone, sender_address=sender,
                             reason=data.validated_data["reason"], **audit_actor(request))
        entry = OptOut.objects.get(phone=phone, sender_address=sender)
        return Response(OptOutSerializer(entry).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OptOutDelete(GenericAPIView):
    serializer_class = OptOutSerializer
    required_scopes = {"DELETE": "contacts"}

    @extend_schema(parameters=[OpenApiParameter(
        "reason", description="Why, for the consent log.")])
    def delete(self, request: Request, phone: str) -> Response:
        phone = phone_normalize(phone, field="phone")
        reason = request.query_params.get("reason", "")[:500]
        if not do_opt_in(phone=phone, reason=reason, **audit_actor(request)):
            return domain_error_response(
                OptOutError(error_codes.NOT_OPTED_OUT, f"{phone} is not opted out.", "phone"),
                status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OptOutSettingsSerializer(serializers.ModelSerializer):
    optout_keywords = serializers.ListField(child=serializers.CharField(max_length=60),
                                            max_length=50, required=False)
    optin_keywords = serializers.ListField(child=serializers.CharField(max_length=60),
                                           max_length=50, required=False)
    help_keywords = serializers.ListField(child=serializers.CharField(max_length=60),
                                          max_length=50, required=False)

    class Meta:
        model = OptOutSettings
        fields = ["optout_keywords", "optin_keywords", "help_keywords", "optout_reply",
                  "optin_reply", "help_reply", "scope", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {name: {"required": False, "allow_blank": True, "max_length": 2000}
                        for name in ("optout_reply", "optin_reply", "help_reply")}


class OptOutSettingsView(GenericAPIView):
    """A blank confirmation text means the default one, which names the business."""

    serializer_class = OptOutSettingsSerializer
    required_scopes = {"GET": "settings", "PUT": "settings"}

    def get(self, request: Request) -> Response:
        return Response(OptOutSettingsSerializer(optout_settings_get()).data)

    def put(self, request: Request) -> Response:
        data = OptOutSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = optout_settings_update(**data.validated_data)
        return Response(OptOutSettingsSerializer(settings).data)


class OptOutImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = OptOutImport
        fields = ["id", "file_name", "status", "total_rows", "processed_rows", "percent",
                  "added", "already", "error_count", "errors", "created_at", "finished_at"]
        read_only_fields = fields


class OptOutImportUpload(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, UTF-8: one phone number per line in "
                                           "international format, optionally a reason.")


class OptOutImportCreate(GenericAPIView):
    """Queue a CSV of numbers to opt out; poll the import for progress and per-row errors.
    Valid rows are kept whatever the bad ones."""

    serializer_class = OptOutImportUpload
    parser_classes = [MultiPartParser]
    required_scopes = {"POST": "contacts"}

    @extend_schema(responses={202: OptOutImportSerializer})
    def post(self, request: Request) -> Response:
        data = OptOutImportUpload(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        actor = audit_actor(request)
        job = optout_import_create(file_name=upload.name or "", content=upload.read(),
                                   actor=actor.get("actor"),
                                   actor_label=actor.get("actor_label", ""))
        return Response(OptOutImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class OptOutImportDetail(GenericAPIView):
    serializer_class = OptOutImportSerializer
    required_scopes = {"GET": "contacts"}
    queryset = OptOutImport.objects.defer("content")

    def get(self, request: Request, pk: int) -> Response:
        return Response(OptOutImportSerializer(self.get_object()).data)


class OptOutExport(GenericAPIView):
    """The whole suppression list as CSV (phone, sender, source, reason, opted_out_at)."""

    serializer_class = OptOutSerializer
    required_scopes = {"GET": "contacts"}

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR, description="phone,sender,source,reason,opted_out_at")})
    def get(self, request: Request) -> StreamingHttpResponse:
        response = StreamingHttpResponse(optouts_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="optouts.csv"'
        return response


class ConsentEventSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender_address")
    actor = serializers.SerializerMethodField()
    message = serializers.IntegerField(source="message_id", allow_null=True)

    class Meta:
        model = ConsentEvent
        fields = ["id", "phone", "action", "source", "sender", "reason", "actor", "message",
                  "created_at"]
        read_only_fields = fields

    def get_actor(self, event: ConsentEvent) -> str:
        return event.actor.email if event.actor else event.actor_label


class ConsentHistory(ListModelMixin, GenericAPIView):
    """Every change of a number's consent, newest first: what proves it afterwards."""

    serializer_class = ConsentEventSerializer
    required_scopes = {"GET": "contacts"}

    def get_queryset(self):
        return consent_history(phone=phone_normalize(self.kwargs["phone"], field="phone"))

    def get(self, request: Request, phone: str) -> Response:
        return self.list(request)
