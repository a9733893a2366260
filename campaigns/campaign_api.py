"""Campaigns API (scope ``campaigns``): ``/campaigns``, ``/campaigns/{id}``, its preview,
and ``start``, ``pause``, ``resume``, ``cancel`` (docs/API.md#campaigns)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import error_codes
from campaigns.audience import campaign_preview
from campaigns.models import Campaign
from campaigns.selectors import campaign_list, campaign_stats
from campaigns.sending import (
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaign_update,
)
from core.api_errors import domain_error_response
from core.drf_fields import FilterSerializer
from core.errors import DomainError

SCOPES = {method: "campaigns" for method in ("GET", "POST", "PATCH", "DELETE")}
STATUS_FOR = {error_codes.INVALID_STATE: status.HTTP_409_CONFLICT}


def _refused(exc: DomainError) -> Response:
    response = domain_error_response(exc, STATUS_FOR.get(exc.code,
                                                          status.HTTP_400_BAD_REQUEST))
    position = getattr(exc, "position", None)
    if position is not None:
        response.data["position"] = position
    return response


def _campaign(pk: int) -> Campaign:
    # The current schema's campaigns only: another tenant's id is simply not found.
    return get_object_or_404(campaign_list(), pk=pk)


class CampaignRefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)
    position = serializers.IntegerField(
        required=False, help_text="`invalid_template`: where in the body the problem starts "
                                  "(0-based).")


class AudienceSerializer(serializers.Serializer):
    lists = serializers.ListField(child=serializers.IntegerField(min_value=1,
                                                                 max_value=2**63 - 1),
                                  required=False, max_length=100,
                                  help_text="Subscribed members of any of these lists.")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                 max_length=100, help_text="Contacts with any of these tags.")


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(max_length=5, help_text="HH:MM, recipient-local.")
    end = serializers.CharField(max_length=5,
                                help_text="HH:MM; before the start: the window spans midnight.")


class SkippedSerializer(serializers.Serializer):
    opted_out = serializers.IntegerField()
    body_too_long = serializers.IntegerField()
    frequency_cap = serializers.IntegerField()
    quota_exceeded = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(
        help_text="Messages the campaign created: the audience after every exclusion.")
    skipped = SkippedSerializer(help_text="Contacts left out, by reason.")
    queued = serializers.IntegerField(
        help_text="Messages waiting to leave (queued, being sent, or held by a pause).")
    waiting_quiet_hours = serializers.IntegerField(
        help_text="Messages waiting for the recipient's quiet hours to end.")
    waiting_until = serializers.DateTimeField(
        allow_null=True, help_text="When the last of them falls due.")
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    undelivered = serializers.IntegerField()
    canceled = serializers.IntegerField()
    replies = serializers.IntegerField(help_text="Texts back within 72 hours of the campaign's "
                                                 "message.")
    opt_outs = serializers.IntegerField(help_text="Opt-outs within 72 hours of the campaign's "
                                                  "message.")
    clicks = serializers.IntegerField(help_text="Clicks on tracked links.")


class CampaignSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.address", read_only=True)
    audience = AudienceSerializer(read_only=True)
    quiet_hours = QuietHoursSerializer(read_only=True, allow_null=True)
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "sender", "body", "audience", "send_at",
                  "expires_at", "quiet_hours", "frequency_cap_hours", "track_links", "stats",
                  "created_at", "started_at", "completed_at"]
        read_only_fields = fields

    @extend_schema_field(StatsSerializer)
    def get_stats(self, campaign: Campaign) -> dict:
        return StatsSerializer(campaign_stats(campaign=campaign)).data


class CampaignWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    sender = serializers.CharField(max_length=20, help_text="An approved sender's address.")
    body = serializers.CharField(
        max_length=5000, trim_whitespace=False,
        help_text='A reply template: {{ contact.name | default: "there" }}, '
                  "{{ contact.phone }}, {{ contact.fields.<name> }}, {{ sender }}. Sent as "
                  "rendered; at most 10 segments per recipient (longer ones are skipped).")
    audience = AudienceSerializer(help_text="Subscribed members of any list, or contacts "
                                            "with any tag; each phone once, opted-out "
                                            "numbers always left out.")
    send_at = serializers.DateTimeField(required=False, allow_null=True,
                                        help_text="When to send (UTC); absent: on start.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True,
        help_text="Messages still waiting then (quiet hours, a pause) end canceled.")
    quiet_hours = QuietHoursSerializer(
        required=False, allow_null=True,
        help_text="Recipient-local window; absent: 08:00-21:00; null: none.")
    frequency_cap_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=8760,
        help_text="Skip anyone you texted in the last N hours; null: no cap.")
    track_links = serializers.BooleanField(
        required=False, default=False,
        help_text="Replace each http(s) URL with a per-recipient short link that counts "
                  "clicks.")


class SampleSerializer(serializers.Serializer):
    phone = serializers.CharField()
    name = serializers.CharField()
    body = serializers.CharField()
    encoding = serializers.CharField(source="analysis.encoding")
    segments = serializers.IntegerField(source="analysis.segments")
    wait_until = serializers.DateTimeField(
        allow_null=True, help_text="Outside the recipient's quiet hours: when it would go.")


class PreviewFilterSerializer(FilterSerializer):
    samples = serializers.IntegerField(required=False, default=5, min_value=1, max_value=20,
                                       help_text="How many recipients' texts (default 5).")


class PreviewSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    total_segments = serializers.IntegerField(help_text="Over every recipient.")
    waiting_quiet_hours = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.IntegerField())
    samples = SampleSerializer(many=True, help_text="The first recipients' texts.")


CAMPAIGN_EXAMPLE = {
    "id": 8, "name": "Spring sale", "status": "sending", "sender": "+14155550100",
    "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. Reply STOP to '
            "opt out.",
    "audience": {"lists": [3], "tags": ["vip"]}, "send_at": None, "expires_at": None,
    "quiet_hours": {"start": "08:00", "end": "21:00"}, "frequency_cap_hours": 24,
    "track_links": False,
    "stats": {"recipients": 1480, "skipped": {"opted_out": 12, "body_too_long": 0,
                                              "frequency_cap": 8, "quota_exceeded": 0},
              "queued": 300, "waiting_quiet_hours": 180,
              "waiting_until": "2026-11-24T16:00:00Z", "sent": 0, "delivered": 990,
              "failed": 10, "undelivered": 0, "canceled": 0, "replies": 41, "opt_outs": 3,
              "clicks": 0},
    "created_at": "2026-11-23T14:00:00Z", "started_at": "2026-11-23T14:05:00Z",
    "completed_at": None,
}
CREATE_EXAMPLE = {
    "name": "Spring sale", "sender": "+14155550100",
    "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. Reply STOP to '
            "opt out.",
    "audience": {"lists": [3], "tags": ["vip"]}, "frequency_cap_hours": 24,
}
TEMPLATE_EXAMPLE = OpenApiExample(
    "Template error", response_only=True, status_codes=["400"], value={
        "code": "invalid_template",
        "detail": "Unknown placeholder {{ contact.nam }}: use contact.name, contact.phone, "
                  "contact.fields.<name> or sender (at character 4)",
        "fields": {"body": [{"code": "invalid_template", "detail": "..."}]}, "position": 3})
STATE_EXAMPLE = OpenApiExample(
    "Not allowed now", response_only=True, status_codes=["409"], value={
        "code": "invalid_state", "detail": "A sending campaign cannot be started.",
        "fields": {"status": [{"code": "invalid_state", "detail": "..."}]}})
CONFLICT = OpenApiResponse(CampaignRefusalSerializer,
                           description="`invalid_state`: not allowed in the campaign's "
                                       "current state.")


def _values(data: dict) -> dict:
    values = dict(data)
    if "audience" in values:
        values["audience"] = dict(values["audience"])
    if values.get("quiet_hours") is not None:
        values["quiet_hours"] = dict(values["quiet_hours"])
    return values


def _answer(request: Request, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
    return Response(CampaignSerializer(campaign_list().get(pk=campaign.pk),
                                       context={"request": request}).data, status=code)


class CampaignListCreate(GenericAPIView):
    """Campaigns, newest first, with their counts."""

    serializer_class = CampaignSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        return campaign_list()

    @extend_schema(responses=CampaignSerializer(many=True), examples=[
        OpenApiExample("Campaigns", response_only=True, value=CAMPAIGN_EXAMPLE)])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(request=CampaignWriteSerializer, responses={
        201: CampaignSerializer, 400: OpenApiResponse(
            CampaignRefusalSerializer, description="`unknown_sender`, `sender_not_approved`, "
                                           "`invalid_template` (with `position`), "
                                           "`empty_body`, `send_at_in_past`, "
                                           "`invalid_expiry`, `invalid_quiet_hours`, "
                                           "`unknown_list`, `validation_error`.")}, examples=[
        OpenApiExample("A campaign to a list and a tag", request_only=True,
                       value=CREATE_EXAMPLE),
        OpenApiExample("Scheduled, no quiet hours", request_only=True, value={
            **CREATE_EXAMPLE, "send_at": "2026-11-28T16:00:00Z", "quiet_hours": None,
            "expires_at": "2026-11-29T16:00:00Z"}),
        OpenApiExample("Created", response_only=True, status_codes=["201"], value={
            **CAMPAIGN_EXAMPLE, "status": "draft", "started_at": None, "stats": {
                **CAMPAIGN_EXAMPLE["stats"], "recipients": 0, "queued": 0,
                "waiting_quiet_hours": 0, "waiting_until": None, "delivered": 0,
                "failed": 0, "replies": 0, "opt_outs": 0}}),
        TEMPLATE_EXAMPLE,
    ])
    def post(self, request: Request) -> Response:
        data = CampaignWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = getattr(request.user, "api_key", None)
        actor = ({"actor_label": f"api key {api_key.prefix}"} if api_key is not None
                 else {"actor": request.user})
        try:
            created = campaign_create(**_values(data.validated_data), **actor)
        except DomainError as exc:
            return _refused(exc)
        return _answer(request, created, status.HTTP_201_CREATED)


class CampaignDetail(GenericAPIView):
    """A campaign; a draft may be changed or deleted."""

    serializer_class = CampaignSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        return campaign_list()

    @extend_schema(examples=[OpenApiExample("A campaign", response_only=True,
                                            value=CAMPAIGN_EXAMPLE)])
    def get(self, request: Request, pk: int) -> Response:
        return Response(CampaignSerializer(self.get_object()).data)

    @extend_schema(request=CampaignWriteSerializer(partial=True),
                   responses={200: CampaignSerializer, 409: CONFLICT}, examples=[
        OpenApiExample("Change the text", request_only=True, value={
            "body": "Hi {{ contact.name }}, 30% off today only."}),
        OpenApiExample("Quiet hours off", request_only=True, value={"quiet_hours": None}),
        TEMPLATE_EXAMPLE, STATE_EXAMPLE,
    ])
    def patch(self, request: Request, pk: int) -> Response:
        campaign = self.get_object()
        data = CampaignWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            campaign = campaign_update(campaign_id=campaign.pk, **_values(data.validated_data))
        except DomainError as exc:
            return _refused(exc)
        return _answer(request, campaign)

    @extend_schema(responses={204: None, 409: CONFLICT}, examples=[STATE_EXAMPLE])
    def delete(self, request: Request, pk: int) -> Response:
        try:
            campaign_delete(campaign_id=self.get_object().pk)
        except DomainError as exc:
            return _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignPreview(GenericAPIView):
    """What starting now would send: the first recipients' rendered texts with their
    encoding and segments, and over the whole audience the recipients, total segments,
    exclusions and how many would wait for their quiet hours. Creates nothing."""

    serializer_class = PreviewSerializer
    required_scopes = {"GET": "campaigns"}

    @extend_schema(parameters=[PreviewFilterSerializer], examples=[OpenApiExample(
        "Preview", response_only=True, value={
            "recipients": 1480, "total_segments": 1520, "waiting_quiet_hours": 0,
            "skipped": {"opted_out": 12},
            "samples": [{"phone": "+14155550199", "name": "Ann",
                         "body": "Hi Ann, 20% off this weekend. Reply STOP to opt out.",
                         "encoding": "GSM-7", "segments": 1, "wait_until": None}]})])
    def get(self, request: Request, pk: int) -> Response:
        campaign = _campaign(pk)
        filters = PreviewFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        preview = campaign_preview(campaign=campaign, samples=filters.validated_data["samples"])
        return Response(PreviewSerializer(preview).data)


def _action_view(action, verb: str, doc: str) -> type[GenericAPIView]:
    class CampaignAction(GenericAPIView):
        serializer_class = CampaignSerializer
        required_scopes = {"POST": "campaigns"}

        @extend_schema(request=None, responses={202: CampaignSerializer, 409: CONFLICT,
                                                **({400: OpenApiResponse(
                                                    CampaignRefusalSerializer,
                                                    description="`empty_audience`, "
                                                    "`unknown_sender`, "
                                                    "`sender_not_approved`.")}
                                                   if verb == "start" else {})},
                       examples=[OpenApiExample("Accepted", response_only=True,
                                                status_codes=["202"], value=CAMPAIGN_EXAMPLE),
                                 STATE_EXAMPLE],
                       summary=f"{verb.capitalize()} a campaign", description=doc)
        def post(self, request: Request, pk: int) -> Response:
            campaign = _campaign(pk)
            try:
                campaign = action(campaign_id=campaign.pk)
            except DomainError as exc:
                return _refused(exc)
            return _answer(request, campaign, status.HTTP_202_ACCEPTED)

    CampaignAction.__name__ = CampaignAction.__qualname__ = f"Campaign{verb.capitalize()}"
    return CampaignAction


CampaignStart = _action_view(
    campaign_start, "start",
    "A draft starts: `scheduled` when `send_at` is ahead, else `sending`. Answers at once "
    "whatever the audience's size; the messages are created in the background (watch "
    "`stats`).")
CampaignPause = _action_view(
    campaign_pause, "pause",
    "A `scheduled` or `sending` campaign stops: its messages not yet handed to the provider "
    "wait until it is resumed (sends already under way finish).")
CampaignResume = _action_view(
    campaign_resume, "resume",
    "A paused campaign goes on: waiting messages go now, or at their recipient's next "
    "quiet-hours window.")
CampaignCancel = _action_view(
    campaign_cancel, "cancel",
    "Every message that has not left ends `canceled`; nothing more is sent.")
