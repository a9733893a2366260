"""Opt-out API: ``/optouts``, ``/optouts/{phone}``, ``/optout-settings``, and
the suppression list's CSV import (``/optouts/imports``) and export (``/optouts/export``)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core import errors
from core.api_docs import CREATED_AT, DATE, ID, UPDATED_AT, refusals
from core.api_errors import domain_error_response
from core.phones import inbound_address, phone_normalize
from messaging.models import Sender
from optout import error_codes
from optout.actions import do_opt_in, do_opt_out, optout_settings_get, optout_settings_update
from optout.error_codes import OptOutError
from optout.imports import optout_import_create, optouts_csv
from optout.models import ConsentEvent, OptOut, OptOutImport, OptOutSettings
from optout.selectors import consent_history, optout_list

CONTACTS = "Scope `contacts`."

IMPORT_HELP = {
    "id": {"help_text": ID},
    "file_name": {"help_text": "The uploaded file's name."},
    "status": {"help_text": "`pending`, `running`, then `done` or `failed`."},
    "total_rows": {"help_text": "Rows in the file."},
    "processed_rows": {"help_text": "Rows read so far."},
    "added": {"help_text": "Rows that added someone."},
    "already": {"help_text": "Rows whose number was already there."},
    "error_count": {"help_text": "Rows refused."},
    "errors": {"help_text": "The first refused rows, as `[{line, value, detail}]`."},
    "created_at": {"help_text": CREATED_AT},
    "finished_at": {"help_text": "When it ended; null until then."},
}


def audit_actor(request: Request) -> dict:
    """Who changed consent through the API, for the consent log."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return {"source": ConsentEvent.Source.API, "actor_label": f"api key {api_key.prefix}"}
    return {"source": ConsentEvent.Source.ADMIN, "actor": request.user}


@extend_schema_serializer(examples=[OpenApiExample(
    "Opted out", response_only=True, value={
        "phone": "+14155550199", "sender": "", "source": "keyword", "reason": "STOP",
        "created_at": DATE})])
class OptOutSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender_address", read_only=True, help_text=(
        "The one sender they opted out of; empty: every sender."))

    class Meta:
        model = OptOut
        fields = ["phone", "sender", "source", "reason", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "phone": {"help_text": "The number (E.164)."},
            "source": {"help_text": "How: `keyword` (they texted STOP), `api`, `admin` (a "
                                    "teammate on the page) or `import`."},
            "reason": {"help_text": "Why, as recorded; for a keyword, the text they sent."},
            "created_at": {"help_text": "When they opted out (ISO 8601, UTC)."},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Asked by phone", request_only=True,
    value={"phone": "+14155550199", "reason": "Asked on a call to stop texts"})])
class OptOutCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="The number, in international "
                                                           "format.")
    reason = serializers.CharField(max_length=500, allow_blank=True, default="",
                                   help_text="Why, for the consent log.")
    sender = serializers.CharField(max_length=20, allow_blank=True, default="",
                                   help_text="Opt out of this sender only; blank for all.")


class OptOutListCreate(ListModelMixin, GenericAPIView):
    serializer_class = OptOutSerializer
    required_scopes = {"GET": "contacts", "POST": "contacts"}

    def get_queryset(self):
        phone = self.request.query_params.get("phone")
        return optout_list(phone=inbound_address(phone) if phone else None)

    @extend_schema(summary="List opt-outs", description=(
        f"The suppression list, newest first: numbers that receive nothing from you (or "
        f"from one sender). {CONTACTS}"), parameters=[OpenApiParameter(
        "phone", description="Only this number's entries (international format).")])
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Opt a number out", description=(
        f"Stops every message to the number, from all your senders or from `sender` only, "
        f"and logs the change with its reason. 201, or 200 when it was already opted out. "
        f"It also ends the number's memberships of subscription lists. The customer's START "
        f"or `DELETE /optouts/{{phone}}` opts them back in. {CONTACTS}"),
        request=OptOutCreateSerializer, responses={
        201: OptOutSerializer,
        200: OpenApiResponse(OptOutSerializer, description="The number was already opted out."),
        **refusals({400: ("invalid_phone_number", "unknown_sender")}),
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

    @extend_schema(summary="Opt a number back in", description=(
        f"Removes the number's opt-outs (every sender's) and logs it: send only with their "
        f"consent. 404 `not_opted_out` when there was none. {CONTACTS}"),
        parameters=[OpenApiParameter("reason", description="Why, for the consent log."),
                    OpenApiParameter("phone", str, OpenApiParameter.PATH, description=(
                        "The number, in international format."))],
        responses={204: None, **refusals({400: ("invalid_phone_number",),
                                          404: ("not_found", "not_opted_out")})})
    def delete(self, request: Request, phone: str) -> Response:
        phone = phone_normalize(phone, field="phone")
        reason = request.query_params.get("reason", "")[:500]
        if not do_opt_in(phone=phone, reason=reason, **audit_actor(request)):
            return domain_error_response(
                OptOutError(error_codes.NOT_OPTED_OUT, f"{phone} is not opted out.", "phone"),
                status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


SETTINGS_EXAMPLE = {
    "optout_keywords": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
    "optin_keywords": ["START", "YES", "UNSTOP"], "help_keywords": ["HELP", "INFO"],
    "optout_reply": "", "optin_reply": "",
    "help_reply": "Acme: for help call 415-555-0100. Reply STOP to cancel.",
    "scope": "tenant"}


@extend_schema_serializer(examples=[
    OpenApiExample("A help text of your own", request_only=True, value=SETTINGS_EXAMPLE),
    OpenApiExample("Opt-out settings", response_only=True,
                   value={**SETTINGS_EXAMPLE, "updated_at": DATE}),
])
class OptOutSettingsSerializer(serializers.ModelSerializer):
    optout_keywords = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=50, required=False,
        help_text="Texts that opt the sender out (STOP, ...), matched ignoring case, "
                  "surrounding spaces and trailing punctuation.")
    optin_keywords = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=50, required=False,
        help_text="Texts that opt them back in (START, ...).")
    help_keywords = serializers.ListField(
        child=serializers.CharField(max_length=60), max_length=50, required=False,
        help_text="Texts answered with the help text (HELP, ...).")

    class Meta:
        model = OptOutSettings
        fields = ["optout_keywords", "optin_keywords", "help_keywords", "optout_reply",
                  "optin_reply", "help_reply", "scope", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            **{name: {"required": False, "allow_blank": True, "max_length": 2000,
                      "help_text": f"The confirmation of {what}; empty: the default one, "
                                   "which names your business."}
               for name, what in (("optout_reply", "an opt-out"),
                                  ("optin_reply", "an opt-in"),
                                  ("help_reply", "a help keyword (the help text)"))},
            "scope": {"help_text": "`tenant`: STOP to any sender stops every sender; "
                                   "`sender`: only the sender it was sent to."},
            "updated_at": {"help_text": UPDATED_AT},
        }


class OptOutSettingsView(GenericAPIView):
    """A blank confirmation text means the default one, which names the business."""

    serializer_class = OptOutSettingsSerializer
    required_scopes = {"GET": "settings", "PUT": "settings"}

    @extend_schema(summary="Get opt-out settings", description=(
        "The keywords of STOP, START and HELP, their confirmation texts, and whether STOP "
        "stops every sender or one. Scope `settings`."))
    def get(self, request: Request) -> Response:
        return Response(OptOutSettingsSerializer(optout_settings_get()).data)

    @extend_schema(summary="Change opt-out settings", description=(
        "Changes the fields given and keeps the others. A keyword may not be in two sets "
        "nor be a subscription list's (`duplicate_keyword`); each set needs one keyword at "
        "least (`required_keyword`). Scope `settings`."),
        responses={200: OptOutSettingsSerializer, **refusals({400: (
            "required_keyword", "invalid_keyword", "duplicate_keyword", "reply_too_long",
            "invalid_scope")})})
    def put(self, request: Request) -> Response:
        data = OptOutSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settings = optout_settings_update(**data.validated_data)
        return Response(OptOutSettingsSerializer(settings).data)


@extend_schema_serializer(examples=[OpenApiExample(
    "Importing", response_only=True, status_codes=["200", "202"], value={
        "id": 9, "file_name": "do-not-text.csv", "status": "running", "total_rows": 12000,
        "processed_rows": 5000, "percent": 41, "added": 4890, "already": 105,
        "error_count": 5, "errors": [{"line": 17, "value": "555-0199",
                                      "detail": "Use the international format: +1..."}],
        "created_at": DATE, "finished_at": None})])
class OptOutImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="Progress, 0 to 100.")

    class Meta:
        model = OptOutImport
        fields = ["id", "file_name", "status", "total_rows", "processed_rows", "percent",
                  "added", "already", "error_count", "errors", "created_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = IMPORT_HELP


class OptOutImportUpload(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, UTF-8: one phone number per line in "
                                           "international format, optionally a reason.")


class OptOutImportCreate(GenericAPIView):
    """Queue a CSV of numbers to opt out; poll the import for progress and per-row errors.
    Valid rows are kept whatever the bad ones."""

    serializer_class = OptOutImportUpload
    parser_classes = [MultiPartParser]
    required_scopes = {"POST": "contacts"}

    @extend_schema(summary="Import opt-outs from CSV", description=(
        f"A CSV file (multipart `file`, 10 MB at most) of numbers to opt out, one a line, "
        f"optionally with a reason; it is processed in the background (202). Poll `GET "
        f"/optouts/imports/{{id}}` for progress and per-row errors; valid rows are kept "
        f"whatever the bad ones. {CONTACTS}"),
        responses={202: OptOutImportSerializer,
                   **refusals({400: ("file_too_large", "invalid_file")})})
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

    @extend_schema(summary="Get an opt-out import", description=(
        f"An import's progress, counts and first errors. {CONTACTS}"))
    def get(self, request: Request, pk: int) -> Response:
        return Response(OptOutImportSerializer(self.get_object()).data)


class OptOutExport(GenericAPIView):
    """The whole suppression list as CSV (phone, sender, source, reason, opted_out_at)."""

    serializer_class = OptOutSerializer
    required_scopes = {"GET": "contacts"}

    @extend_schema(summary="Export opt-outs as CSV", description=(
        f"The whole suppression list as a CSV download, streamed: phone, sender, source, "
        f"reason, opted_out_at. {CONTACTS}"), responses={(200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR, description="phone,sender,source,reason,opted_out_at")})
    def get(self, request: Request) -> StreamingHttpResponse:
        response = StreamingHttpResponse(optouts_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="optouts.csv"'
        return response


@extend_schema_serializer(examples=[OpenApiExample(
    "STOP by text", response_only=True, value={
        "id": 51, "phone": "+14155550199", "action": "opt_out", "source": "keyword",
        "sender": "+14155550100", "reason": "STOP", "actor": "customer", "message": 1043,
        "created_at": DATE})])
class ConsentEventSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender_address", help_text=(
        "The sender concerned; empty: every sender."))
    actor = serializers.SerializerMethodField(help_text=(
        "Who made the change: a teammate's email, `api key <prefix>`, or `customer`."))
    message = serializers.IntegerField(source="message_id", allow_null=True, help_text=(
        "The customer's text that carried the keyword (its id); null otherwise."))

    class Meta:
        model = ConsentEvent
        fields = ["id", "phone", "action", "source", "sender", "reason", "actor", "message",
                  "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "phone": {"help_text": "The number (E.164)."},
            "action": {"help_text": "`opt_out` or `opt_in`."},
            "source": {"help_text": "How: `keyword`, `api`, `admin` or `import`."},
            "reason": {"help_text": "Why, as recorded."},
            "created_at": {"help_text": "When (ISO 8601, UTC)."},
        }

    def get_actor(self, event: ConsentEvent) -> str:
        return event.actor.email if event.actor else event.actor_label


class ConsentHistory(ListModelMixin, GenericAPIView):
    """Every change of a number's consent, newest first: what proves it afterwards."""

    serializer_class = ConsentEventSerializer
    required_scopes = {"GET": "contacts"}

    def get_queryset(self):
        return consent_history(phone=phone_normalize(self.kwargs["phone"], field="phone"))

    @extend_schema(summary="Get a number's consent history", description=(
        f"Every opt-out and opt-in of the number, newest first, with who, how and why: "
        f"what proves consent afterwards. {CONTACTS}"),
        parameters=[OpenApiParameter("phone", str, OpenApiParameter.PATH, description=(
            "The number, in international format."))],
        responses={200: ConsentEventSerializer(many=True),
                   **refusals({400: ("invalid_phone_number",)})})
    def get(self, request: Request, phone: str) -> Response:
        return self.list(request)
