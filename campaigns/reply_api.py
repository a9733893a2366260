"""Reply actions API (scope ``campaigns``): a campaign's actions
(``/campaigns/{id}/reply-actions``), one action (``/reply-actions/{action_id}``) and its
code pool (``/reply-actions/{action_id}/codes``). See ``campaigns.replies``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Campaign, ReplyAction
from campaigns.replies import (
    DEFAULT_FALLBACK,
    MAX_CODES,
    MAX_CODES_BYTES,
    MAX_DUPLICATES_SHOWN,
    codes_from_csv,
    hands_out_codes,
    reply_action_create,
    reply_action_delete,
    reply_action_list,
    reply_codes_add,
)
from core.api_docs import CREATED_AT, DATE, ID, error_response, refusals
from core.api_parsers import JSONParser
from optout.keywords import MAX_KEYWORD_LENGTH

CAMPAIGNS = "Scope `campaigns`."
NO_CAMPAIGN = {404: error_response("No such campaign: `not_found`.")}
NO_ACTION = {404: error_response("No such campaign, or no such action of this campaign: "
                                 "`not_found`.")}
ACTION_ID = OpenApiParameter("action_id", int, OpenApiParameter.PATH, description=(
    "The reply action's id; an action of another campaign is `not_found`."))
ACTION_CODES = ("invalid_keyword", "keyword_reserved", "keyword_taken", "invalid_template",
                "body_too_long")
CODES_CODES = ("invalid_code", "too_many_codes", "invalid_file", "file_too_large",
               "invalid_reply")


def _campaign(pk: int) -> Campaign:
    # The current schema's campaigns only: another tenant's id is simply not found.
    return get_object_or_404(Campaign, pk=pk)


def _action(pk: int, action_id: int) -> ReplyAction:
    return get_object_or_404(reply_action_list(campaign=_campaign(pk)), pk=action_id)


class CodeCountsSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="Codes still in the pool.")
    given = serializers.IntegerField(help_text="Codes given out, each to one number.")


ACTION_EXAMPLE = {
    "id": 4, "campaign": 12, "keyword": "YES",
    "reply": "Here is your 20% off code: {{ code }}. Show it at the till.",
    "fallback_text": "Thanks {{ contact.name | default: \"there\" }}! Every code has gone; "
                     "watch out for the next offer.",
    "hands_out_codes": True, "codes": {"available": 480, "given": 20},
    "created_at": DATE,
}


@extend_schema_serializer(examples=[OpenApiExample(
    "An action", response_only=True, value=ACTION_EXAMPLE)])
class ReplyActionSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id", read_only=True,
                                        help_text="The campaign (its id).")
    hands_out_codes = serializers.SerializerMethodField(
        help_text="Whether the reply names `{{ code }}`: each number gets one code of the "
                  "pool (the same again if they ask again), and the fallback text once the "
                  "pool is empty.")
    codes = serializers.SerializerMethodField(help_text=(
        "The pool's codes by state; both 0 for an action that hands out none."))

    class Meta:
        model = ReplyAction
        fields = ["id", "campaign", "keyword", "reply", "fallback_text", "hands_out_codes",
                  "codes", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "keyword": {"help_text": (
                f"What a recipient texts to get the reply, stored as matched: upper case, "
                f"inner spaces collapsed, trailing punctuation removed; 1 to "
                f"{MAX_KEYWORD_LENGTH} letters, digits or spaces. Unique within the "
                f"campaign.")},
            "reply": {"help_text": (
                "The reply template sent back, from the sender the recipient wrote to, with "
                "its placeholders filled; `{{ code }}` becomes the number's code.")},
            "fallback_text": {"help_text": (
                "Sent instead of the reply once the pool is empty; empty for an action whose "
                "reply names no `{{ code }}`.")},
            "created_at": {"help_text": CREATED_AT},
        }

    def get_hands_out_codes(self, action: ReplyAction) -> bool:
        return hands_out_codes(action.reply)

    @extend_schema_field(CodeCountsSerializer)
    def get_codes(self, action: ReplyAction) -> dict[str, int]:
        return {"available": action.available, "given": action.given}


class ReplyActionWriteSerializer(serializers.Serializer):
    keyword = serializers.CharField(max_length=60, help_text=(
        f"What a recipient texts, matched like STOP: ignoring case, surrounding spaces and "
        f"trailing punctuation; what remains is 1 to {MAX_KEYWORD_LENGTH} letters, digits "
        f"or spaces (`invalid_keyword`). Not an opt-out, opt-in or help keyword, nor a "
        f"list's join keyword (`keyword_reserved`), nor a word the campaign already answers "
        f"(`keyword_taken`)."))
    reply = serializers.CharField(max_length=1600, help_text=(
        "A reply template: `{{ contact.name | default: \"there\" }}`, `{{ contact.phone }}`, "
        "`{{ contact.fields.<name> }}`, `{{ sender }}`, and `{{ code }}` to hand out a code "
        "of the pool (another placeholder or a stray brace: `invalid_template`). At most "
        "10 SMS segments as written, 1,530 GSM-7 characters or 670 UCS-2 ones "
        "(`body_too_long`)."))
    fallback_text = serializers.CharField(
        max_length=1600, required=False, allow_blank=True, default="", help_text=(
            f"Sent instead once the pool is empty, for a reply with `{{{{ code }}}}` "
            f"(ignored otherwise); a template like `reply` without `{{{{ code }}}}`, at most "
            f"10 segments. Empty or absent: \"{DEFAULT_FALLBACK}\""))


class CodesSerializer(serializers.Serializer):
    codes = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, max_length=MAX_CODES,
        help_text=f"1 to {MAX_CODES:,} single-use codes, each 1 to 64 characters without "
                  f"spaces or control characters (`invalid_code`); surrounding spaces are "
                  f"removed.")


class CodesUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=(
        f"CSV, UTF-8, {MAX_CODES_BYTES // (1024 * 1024)} MB at most (`file_too_large`; not "
        f"UTF-8 text, a NUL or broken CSV: `invalid_file`): one code per row, in the first "
        f"column, other columns and blank rows ignored; a first row `code` or `codes` is a "
        f"header. Up to {MAX_CODES:,} different codes (`too_many_codes`)."))


class CodesAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Codes new to the pool.")
    duplicates = serializers.IntegerField(
        help_text="Codes dropped: repeated in the upload, or in the pool already.")
    duplicate_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text=f"The first {MAX_DUPLICATES_SHOWN} codes dropped, each once.")
    available = serializers.IntegerField(help_text="Codes in the pool now.")
    given = serializers.IntegerField(help_text="Codes given out so far.")


class ReplyActionListCreate(GenericAPIView):
    """A campaign's reply actions: what its recipients get when they text a keyword within
    72 hours of its message."""

    serializer_class = ReplyActionSerializer
    required_scopes = {"GET": "campaigns", "POST": "campaigns"}

    @extend_schema(summary="List a campaign's reply actions", description=(
        f"The campaign's reply actions, newest first, with their pools' codes counted. "
        f"{CAMPAIGNS}"), responses={200: ReplyActionSerializer(many=True), 404: error_response(
            "No such campaign, or a `cursor` not from a `next` link: `not_found`.")})
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(reply_action_list(campaign=_campaign(pk)))
        return self.get_paginated_response(ReplyActionSerializer(page, many=True).data)

    @extend_schema(summary="Add a reply action", description=(
        f"What the campaign's recipients get back when they text `keyword` within 72 hours "
        f"of its message: `reply`, and with `{{{{ code }}}}` in it one code of the action's "
        f"pool each (add codes with `POST .../codes`), then `fallback_text` once the pool is "
        f"empty. Actions answer after STOP, HELP and the lists' keywords, before surveys and "
        f"keyword rules. A refusal stores nothing. {CAMPAIGNS}"),
        request=ReplyActionWriteSerializer,
        responses={201: ReplyActionSerializer, **refusals({400: ACTION_CODES}),
                   **NO_CAMPAIGN},
        examples=[
        OpenApiExample("A code for YES", request_only=True, value={
            "keyword": "YES", "reply": ACTION_EXAMPLE["reply"],
            "fallback_text": ACTION_EXAMPLE["fallback_text"]}),
        OpenApiExample("Opening hours for HOURS", request_only=True, value={
            "keyword": "hours", "reply": "Open 9-5, Mon-Sat. {{ sender }}"}),
        OpenApiExample("Created", response_only=True, status_codes=["201"],
                       value={**ACTION_EXAMPLE, "codes": {"available": 0, "given": 0}}),
        OpenApiExample("Reserved keyword", response_only=True, status_codes=["400"], value={
            "code": "keyword_reserved",
            "detail": "STOP is an opt-out keyword, which is answered first: choose another "
                      "word.",
            "fields": {"keyword": [{"code": "keyword_reserved", "detail": "..."}]}}),
    ])
    def post(self, request: Request, pk: int) -> Response:
        campaign = _campaign(pk)  # before the body: an unknown campaign is 404
        data = ReplyActionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action = reply_action_create(campaign=campaign, **data.validated_data)
        return Response(ReplyActionSerializer(_action(pk, action.pk)).data,
                        status=status.HTTP_201_CREATED)


class ReplyActionDetail(GenericAPIView):
    """A reply action. Deleting it deletes its pool, codes given included."""

    serializer_class = ReplyActionSerializer
    required_scopes = {"GET": "campaigns", "DELETE": "campaigns"}

    @extend_schema(summary="Get a reply action", description=(
        f"One action of the campaign, with its pool's codes counted. {CAMPAIGNS}"),
        parameters=[ACTION_ID], responses={200: ReplyActionSerializer, **NO_ACTION})
    def get(self, request: Request, pk: int, action_id: int) -> Response:
        return Response(ReplyActionSerializer(_action(pk, action_id)).data)

    @extend_schema(summary="Delete a reply action and its codes", description=(
        f"Deletes the action and its pool, codes given included (204): its keyword gets no "
        f"answer from this campaign any more. {CAMPAIGNS}"),
        parameters=[ACTION_ID], responses={204: None, **NO_ACTION})
    def delete(self, request: Request, pk: int, action_id: int) -> Response:
        reply_action_delete(action=_action(pk, action_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReplyCodesCreate(GenericAPIView):
    """Add single-use codes to an action's pool."""

    serializer_class = CodesSerializer
    parser_classes = [JSONParser, MultiPartParser]
    required_scopes = {"POST": "campaigns"}

    @extend_schema(
        summary="Add codes to a reply action's pool",
        description=(
            f"Single-use codes for an action whose reply names `{{{{ code }}}}`, as JSON "
            f"(`{{\"codes\": [...]}}`) or a CSV upload (multipart `file`). A code repeated in "
            f"the upload or already in the pool is dropped and reported (201); anything else "
            f"wrong refuses the whole upload, adding nothing: `invalid_code`, "
            f"`too_many_codes`, `invalid_file`, `file_too_large`, and `invalid_reply` when "
            f"the action's reply names no `{{{{ code }}}}`. Each code is given to one number "
            f"at most. {CAMPAIGNS}"),
        parameters=[ACTION_ID],
        request={"application/json": CodesSerializer,
                 "multipart/form-data": CodesUploadSerializer},
        responses={201: CodesAddedSerializer, **refusals({400: CODES_CODES}), **NO_ACTION,
                   415: error_response("The body is neither `application/json` nor "
                                       "`multipart/form-data`: `unsupported_media_type`.")},
        examples=[
            OpenApiExample("Codes as JSON", request_only=True,
                           value={"codes": ["SPRING-7KQ2", "SPRING-9XD4", "SPRING-7KQ2"]}),
            OpenApiExample("Codes as CSV", request_only=True, media_type="multipart/form-data",
                           value={"file": "code\nSPRING-7KQ2\nSPRING-9XD4\n"}),
            OpenApiExample("Added, one repeated", response_only=True, status_codes=["201"],
                           value={"added": 2, "duplicates": 1,
                                  "duplicate_codes": ["SPRING-7KQ2"], "available": 482,
                                  "given": 20}),
            OpenApiExample("No code in the reply", response_only=True, status_codes=["400"],
                           value={"code": "invalid_reply",
                                  "detail": "This action's reply names no {{ code }}: it "
                                            "hands out no codes.",
                                  "fields": {"codes": [{"code": "invalid_reply",
                                                        "detail": "..."}]}}),
        ])
    def post(self, request: Request, pk: int, action_id: int) -> Response:
        action = _action(pk, action_id)  # before the body: an unknown action is 404
        if request.content_type.startswith("multipart/form-data"):
            upload = CodesUploadSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            codes = codes_from_csv(upload.validated_data["file"].read())
        else:
            data = CodesSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            codes = data.validated_data["codes"]
        added = reply_codes_add(action=action, codes=codes)
        return Response(CodesAddedSerializer(added).data, status=status.HTTP_201_CREATED)
