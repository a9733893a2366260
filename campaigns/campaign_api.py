"""Campaigns API (scope ``campaigns``): ``/campaigns``, ``/campaigns/{id}``, its preview,
and ``start``, ``pause``, ``resume``, ``cancel`` (docs/API.md#campaigns)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
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
from core.api_docs import CREATED_AT, DATE, ID, error_response, refusals
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


CAMPAIGNS = "Scope `campaigns`."
NO_CAMPAIGN = {404: error_response("No such campaign: `not_found`.")}
# What create and update refuse (docs/API.md#campaigns); ``campaigns.sending`` raises them.
# Its ``invalid_name`` and ``invalid_audience`` never reach the API: the serializer refuses
# a blank name and another audience shape first (``validation_error``).
WRITE_CODES = ("unknown_sender", "sender_not_approved", "empty_body", "invalid_template",
               "unknown_list", "send_at_in_past", "invalid_expiry", "invalid_quiet_hours")
TEMPLATE_POSITION = (" An `invalid_template` answer also carries `position`: where in "
                     "`body` the problem starts (0-based, an integer), besides \"(at "
                     "character N)\" in `detail`.")
WRITE_REFUSED = error_response(
    f"Refused, nothing stored: `validation_error`, "
    f"{', '.join(f'`{code}`' for code in WRITE_CODES)}.{TEMPLATE_POSITION}")


def _state_conflict(states: str, *, post: bool) -> dict:
    retry = (" Or `idempotency_key_in_use`: a request with this Idempotency-Key is still "
             "running.") if post else ""
    return {409: error_response(f"`invalid_state`: only a campaign {states} allows this; "
                                f"`detail` names its current status.{retry}")}


DATE_TIME = "ISO 8601; UTC unless it names its offset."


class AudienceSerializer(serializers.Serializer):
    lists = serializers.ListField(child=serializers.IntegerField(min_value=1,
                                                                 max_value=2**63 - 1),
                                  required=False, max_length=100,
                                  help_text="Subscribed members of any of these lists (their "
                                            "ids, up to 100; an unknown id is "
                                            "`unknown_list`).")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                 max_length=100, help_text="Contacts with any of these tags "
                                                           "(up to 100, each up to 50 "
                                                           "characters).")


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField(max_length=5, help_text="HH:MM, recipient-local: the "
                                                          "window opens.")
    end = serializers.CharField(
        max_length=5, help_text="HH:MM, recipient-local: the window closes; before the "
                                "start, the window spans midnight. Equal to the start, or not "
                                "HH:MM: `invalid_quiet_hours`.")


class SkippedSerializer(serializers.Serializer):
    opted_out = serializers.IntegerField(help_text="Opted out, from every sender or from "
                                                   "this one.")
    body_too_long = serializers.IntegerField(help_text="Their rendered text was over 10 "
                                                       "segments.")
    frequency_cap = serializers.IntegerField(help_text="Texted within `frequency_cap_hours`.")
    quota_exceeded = serializers.IntegerField(help_text="Left out once the plan's monthly "
                                                        "segments were used up.")


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(
        help_text="Messages the campaign created: the audience after every exclusion; grows "
                  "while a started campaign's messages are created.")
    skipped = SkippedSerializer(help_text="Contacts left out, by reason.")
    queued = serializers.IntegerField(
        help_text="Messages waiting to leave (queued, being sent, or held by a pause).")
    waiting_quiet_hours = serializers.IntegerField(
        help_text="Messages waiting for the recipient's quiet hours to end.")
    waiting_until = serializers.DateTimeField(
        allow_null=True, help_text="When the last of them falls due; null when none waits.")
    sent = serializers.IntegerField(help_text="Messages handed to the carrier, not yet "
                                              "confirmed.")
    delivered = serializers.IntegerField(help_text="Messages the carrier confirmed delivered.")
    failed = serializers.IntegerField(help_text="Messages that failed to send.")
    undelivered = serializers.IntegerField(help_text="Messages the carrier could not "
                                                     "deliver.")
    canceled = serializers.IntegerField(help_text="Messages that never left: the campaign was "
                                                  "canceled or expired first.")
    replies = serializers.IntegerField(help_text="Texts back within 72 hours of the campaign's "
                                                 "message.")
    opt_outs = serializers.IntegerField(help_text="Opt-outs within 72 hours of the campaign's "
                                                  "message.")
    clicks = serializers.IntegerField(help_text="Clicks on tracked links.")


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
    "created_at": DATE, "started_at": "2026-11-23T14:05:00Z",
    "completed_at": None,
}
DRAFT_EXAMPLE = {
    **CAMPAIGN_EXAMPLE, "status": "draft", "started_at": None, "stats": {
        **CAMPAIGN_EXAMPLE["stats"], "recipients": 0,
        "skipped": dict.fromkeys(CAMPAIGN_EXAMPLE["stats"]["skipped"], 0), "queued": 0,
        "waiting_quiet_hours": 0, "waiting_until": None, "delivered": 0, "failed": 0,
        "replies": 0, "opt_outs": 0}}
CREATE_EXAMPLE = {
    "name": "Spring sale", "sender": "+14155550100",
    "body": 'Hi {{ contact.name | default: "there" }}, 20% off this weekend. Reply STOP to '
            "opt out.",
    "audience": {"lists": [3], "tags": ["vip"]}, "frequency_cap_hours": 24,
}


@extend_schema_serializer(examples=[OpenApiExample("A campaign", response_only=True,
                                                   value=CAMPAIGN_EXAMPLE)])
class CampaignSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.address", read_only=True,
                                   help_text="The sender's address it texts from.")
    audience = AudienceSerializer(read_only=True, help_text=(
        "Who it texts: subscribed members of any list and contacts with any tag, each "
        "phone once; opted-out numbers are always left out."))
    quiet_hours = QuietHoursSerializer(read_only=True, allow_null=True, help_text=(
        "The recipient-local window messages go in; null: none."))
    stats = serializers.SerializerMethodField(help_text=(
        "Its messages counted by current status, the contacts skipped, replies, opt-outs "
        "and clicks."))

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "sender", "body", "audience", "send_at",
                  "expires_at", "quiet_hours", "frequency_cap_hours", "track_links", "stats",
                  "created_at", "started_at", "completed_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "name": {"help_text": "Its name, for you (recipients never see it)."},
            "status": {"help_text": (
                "`draft` (may be changed, deleted, started), `scheduled` (started, `send_at` "
                "ahead), `sending`, `paused`, `completed` (none of its messages waits any "
                "more) or `canceled`.")},
            "body": {"help_text": "The template each recipient's text is rendered from."},
            "send_at": {"help_text": "When it sends (UTC); null: when started."},
            "expires_at": {"help_text": (
                "When messages still waiting (quiet hours, a pause) end `canceled`; null: "
                "never.")},
            "frequency_cap_hours": {"help_text": (
                "Anyone texted in the last N hours is skipped; null: no cap.")},
            "track_links": {"help_text": (
                "Whether each http(s) URL becomes a per-recipient short link counting "
                "clicks.")},
            "created_at": {"help_text": CREATED_AT},
            "started_at": {"help_text": "When it began sending (UTC); null before."},
            "completed_at": {"help_text": (
                "When it became `completed` (UTC); null until then, and for a canceled "
                "one.")},
        }

    @extend_schema_field(StatsSerializer)
    def get_stats(self, campaign: Campaign) -> dict:
        return StatsSerializer(campaign_stats(campaign=campaign)).data


class CampaignWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text=(
        "Its name, for you: 1 to 200 characters, surrounding spaces removed."))
    sender = serializers.CharField(max_length=20, help_text=(
        "The address of one of your senders (`unknown_sender`), approved "
        "(`sender_not_approved`); checked again at start."))
    body = serializers.CharField(
        max_length=5000, trim_whitespace=False,
        help_text='A reply template, up to 5,000 characters: {{ contact.name | default: '
                  '"there" }}, {{ contact.phone }}, {{ contact.fields.<name> }}, '
                  "{{ sender }} (another placeholder or a stray brace: `invalid_template`). "
                  "Sent exactly as rendered: nothing is appended, so say who you are and how "
                  "to stop. Blank, or rendering blank for a contact without a name or "
                  "fields: `empty_body`. A rendered text over 10 segments is not sent "
                  "(`skipped.body_too_long`).")
    audience = AudienceSerializer(help_text=(
        "Subscribed members of any list, or contacts with any tag; each phone once, "
        "opted-out numbers always left out. Nobody textable is refused at start "
        "(`empty_audience`), not here."))
    send_at = serializers.DateTimeField(required=False, allow_null=True, help_text=(
        f"When to send ({DATE_TIME}); in the past: `send_at_in_past`. Absent or null: when "
        f"started."))
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text=(
        f"Messages still waiting then (quiet hours, a pause) end `canceled` ({DATE_TIME}); "
        f"after the send time (`invalid_expiry`). Null: never."))
    quiet_hours = QuietHoursSerializer(
        required=False, allow_null=True,
        help_text="Recipient-local window; absent: 08:00-21:00; null: none.")
    frequency_cap_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=8760,
        help_text="Skip anyone you texted in the last N hours (1 to 8,760); null: no cap.")
    track_links = serializers.BooleanField(
        required=False, default=False,
        help_text="Replace each http(s) URL with a per-recipient short link that counts "
                  "clicks (default false).")


class SampleSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="The recipient's number (E.164).")
    name = serializers.CharField(help_text="The contact's name; empty when unknown.")
    body = serializers.CharField(help_text="The text as it would be sent.")
    encoding = serializers.CharField(source="analysis.encoding",
                                     help_text="`GSM-7` or `UCS-2`.")
    segments = serializers.IntegerField(source="analysis.segments",
                                        help_text="SMS segments it takes (at most 10).")
    wait_until = serializers.DateTimeField(
        allow_null=True, help_text="Outside the recipient's quiet hours: when it would go; "
                                   "null: at once.")


class PreviewFilterSerializer(FilterSerializer):
    samples = serializers.IntegerField(required=False, default=5, min_value=1, max_value=20,
                                       help_text="How many recipients' texts, 1 to 20 "
                                                 "(default 5).")


@extend_schema_serializer(examples=[OpenApiExample("Preview", response_only=True, value={
    "recipients": 1480, "total_segments": 1520, "waiting_quiet_hours": 0,
    "skipped": {"opted_out": 12},
    "samples": [{"phone": "+14155550199", "name": "Ann",
                 "body": "Hi Ann, 20% off this weekend. Reply STOP to opt out.",
                 "encoding": "GSM-7", "segments": 1, "wait_until": None}]})])
class PreviewSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="Messages it would create.")
    total_segments = serializers.IntegerField(help_text="Segments over every recipient.")
    waiting_quiet_hours = serializers.IntegerField(
        help_text="Recipients outside their quiet hours now, whose text would wait.")
    skipped = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "Contacts it would leave out, by reason (`opted_out`, `frequency_cap`, "
        "`body_too_long`, `empty_body`); a reason with none is absent."))
    samples = SampleSerializer(many=True, help_text="The first recipients' texts.")


TEMPLATE_EXAMPLE = OpenApiExample(
    "Template error", response_only=True, status_codes=["400"],
    description="The answer also carries `position: 3`, where the problem starts.",
    value={"code": "invalid_template",
           "detail": "Unknown placeholder {{ contact.nam }}: use contact.name, contact.phone, "
                     "contact.fields.<name> or sender (at character 4)",
           "fields": {"body": [{"code": "invalid_template", "detail": "..."}]}})
STATE_EXAMPLE = OpenApiExample(
    "Not allowed now", response_only=True, status_codes=["409"], value={
        "code": "invalid_state", "detail": "A sending campaign cannot be started.",
        "fields": {"status": [{"code": "invalid_state", "detail": "..."}]}})


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

    @extend_schema(summary="List campaigns", description=(
        f"Your campaigns, newest first, each with its `stats`. {CAMPAIGNS}"),
        responses=CampaignSerializer(many=True), examples=[
        OpenApiExample("Campaigns", response_only=True, value=CAMPAIGN_EXAMPLE)])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    @extend_schema(summary="Create a campaign", description=(
        f"A `draft`: one message to an audience, rendered per recipient and sent in their "
        f"waking hours once started (`POST .../start`). The sender, template, audience and "
        f"times are checked now; a refusal stores nothing. {CAMPAIGNS}"),
        request=CampaignWriteSerializer,
        responses={201: CampaignSerializer, 400: WRITE_REFUSED}, examples=[
        OpenApiExample("A campaign to a list and a tag", request_only=True,
                       value=CREATE_EXAMPLE),
        OpenApiExample("Scheduled, no quiet hours", request_only=True, value={
            **CREATE_EXAMPLE, "send_at": "2026-11-28T16:00:00Z", "quiet_hours": None,
            "expires_at": "2026-11-29T16:00:00Z"}),
        OpenApiExample("Created", response_only=True, status_codes=["201"],
                       value=DRAFT_EXAMPLE),
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

    @extend_schema(summary="Get a campaign", description=(
        f"One campaign with its `stats`: its messages by current status, the contacts "
        f"skipped, replies, opt-outs and clicks. {CAMPAIGNS}"), responses={
        200: CampaignSerializer, **NO_CAMPAIGN})
    def get(self, request: Request, pk: int) -> Response:
        return Response(CampaignSerializer(self.get_object()).data)

    @extend_schema(summary="Update a draft campaign", description=(
        f"Changes the fields given and keeps the rest, each checked as at create "
        f"(`quiet_hours: null` turns them off). A `draft` only; a refusal changes "
        f"nothing. {CAMPAIGNS}"),
        request=CampaignWriteSerializer(partial=True),
        responses={200: CampaignSerializer, 400: WRITE_REFUSED, **NO_CAMPAIGN,
                   **_state_conflict("in `draft`", post=False)}, examples=[
        OpenApiExample("Change the text", request_only=True, value={
            "body": "Hi {{ contact.name }}, 30% off today only."}),
        OpenApiExample("Quiet hours off", request_only=True, value={"quiet_hours": None}),
        OpenApiExample("Updated", response_only=True, status_codes=["200"], value={
            **DRAFT_EXAMPLE, "body": "Hi {{ contact.name }}, 30% off today only."}),
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

    @extend_schema(summary="Delete a draft campaign", description=(
        f"Deletes a `draft` (204). A started campaign cannot be deleted: cancel it "
        f"instead. {CAMPAIGNS}"),
        responses={204: None, **NO_CAMPAIGN, **_state_conflict("in `draft`", post=False)},
        examples=[STATE_EXAMPLE])
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

    @extend_schema(summary="Preview a campaign", description=(
        f"What starting now would send: the first `samples` recipients' texts as rendered, "
        f"with their encoding, segments and quiet-hours wait, and over the whole audience "
        f"the recipients, total segments, exclusions and how many would wait. Creates "
        f"nothing; in any state. {CAMPAIGNS}"),
        parameters=[PreviewFilterSerializer], responses={200: PreviewSerializer,
                                                         **NO_CAMPAIGN})
    def get(self, request: Request, pk: int) -> Response:
        campaign = _campaign(pk)
        filters = PreviewFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        preview = campaign_preview(campaign=campaign, samples=filters.validated_data["samples"])
        return Response(PreviewSerializer(preview).data)


def _action_view(action, verb: str, states: str, doc: str,
                 codes: tuple[str, ...] = ()) -> type[GenericAPIView]:
    class CampaignAction(GenericAPIView):
        serializer_class = CampaignSerializer
        required_scopes = {"POST": "campaigns"}

        @extend_schema(summary=f"{verb.capitalize()} a campaign",
                       description=f"{doc} Allowed from {states}; a refusal changes nothing. "
                                   f"{CAMPAIGNS}",
                       request=None,
                       responses={202: CampaignSerializer,
                                  **(refusals({400: codes}) if codes else {}), **NO_CAMPAIGN,
                                  **_state_conflict(f"{states}", post=True)},
                       examples=[OpenApiExample("Accepted", response_only=True,
                                                status_codes=["202"], value=CAMPAIGN_EXAMPLE),
                                 STATE_EXAMPLE])
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
    campaign_start, "start", "`draft`",
    "A draft starts: `scheduled` when `send_at` is ahead (it begins then), else `sending`. "
    "The sender is checked again (`unknown_sender`, `sender_not_approved`), and someone in "
    "the audience must be textable (`empty_audience`). Answers at once whatever the "
    "audience's size; the messages are created in the background (watch "
    "`stats.recipients`).",
    ("unknown_sender", "sender_not_approved", "empty_audience"))
CampaignPause = _action_view(
    campaign_pause, "pause", "`scheduled` or `sending`",
    "The campaign stops: its messages not yet handed to the provider are held until it is "
    "resumed (sends already under way finish); nothing more leaves.")
CampaignResume = _action_view(
    campaign_resume, "resume", "`paused`",
    "The campaign goes on: held messages go now, or at their recipient's next quiet-hours "
    "window.")
CampaignCancel = _action_view(
    campaign_cancel, "cancel", "`scheduled`, `sending` or `paused`",
    "Every message that has not left ends `canceled`; nothing more is sent.")
