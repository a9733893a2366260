"""Reply actions API (scope ``campaigns``): a campaign's actions
(``/campaigns/{id}/reply-actions``), one action (``/reply-actions/{action_id}``) and its
code pool (``/reply-actions/{action_id}/codes``). See ``campaigns.replies``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Campaign, ReplyAction
from campaigns.replies import (
    MAX_CODES,
    MAX_CODES_BYTES,
    codes_from_csv,
    hands_out_codes,
    reply_action_create,
    reply_action_delete,
    reply_action_list,
    reply_codes_add,
)
from core.api_parsers import JSONParser


def _campaign(pk: int) -> Campaign:
    # The current schema's campaigns only: another tenant's id is simply not found.
    return get_object_or_404(Campaign, pk=pk)


def _action(pk: int, action_id: int) -> ReplyAction:
    return get_object_or_404(reply_action_list(campaign=_campaign(pk)), pk=action_id)


class CodeCountsSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="Codes still in the pool.")
    given = serializers.IntegerField(help_text="Codes given out, each to one number.")


class ReplyActionSerializer(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id", read_only=True)
    hands_out_codes = serializers.SerializerMethodField(
        help_text="Whether the reply names `{{ code }}`: each number gets one code of the "
                  "pool (the same again if they ask again), and the fallback text once the "
                  "pool is empty.")
    codes = serializers.SerializerMethodField()

    class Meta:
        model = ReplyAction
        fields = ["id", "campaign", "keyword", "reply", "fallback_text", "hands_out_codes",
                  "codes", "created_at"]
        read_only_fields = fields

    def get_hands_out_codes(self, action: ReplyAction) -> bool:
        return hands_out_codes(action.reply)

    @extend_schema_field(CodeCountsSerializer)
    def get_codes(self, action: ReplyAction) -> dict[str, int]:
        return {"available": action.available, "given": action.given}


class ReplyActionWriteSerializer(serializers.Serializer):
    keyword = serializers.CharField(
        max_length=60, help_text="What a recipient texts, matched like STOP: ignoring case, "
                                 "surrounding spaces and trailing punctuation. Not an opt-out, "
                                 "opt-in or help keyword, nor a list's join keyword.")
    reply = serializers.CharField(
        max_length=1600, help_text="A reply template: `{{ contact.name | default: \"there\" }}`, "
                                   "`{{ contact.phone }}`, `{{ contact.fields.<name> }}`, "
                                   "`{{ sender }}`, and `{{ code }}` to hand out a code of the "
                                   "pool.")
    fallback_text = serializers.CharField(
        max_length=1600, required=False, allow_blank=True, default="",
        help_text="Sent instead once the pool is empty (a reply with `{{ code }}` only); "
                  "empty: a default apology.")


class CodesSerializer(serializers.Serializer):
    codes = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, max_length=MAX_CODES,
        help_text="Single-use codes, 1 to 64 characters without spaces.")


class CodesUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=(
        f"CSV, UTF-8, {MAX_CODES_BYTES // (1024 * 1024)} MB at most: one code per row, in "
        "the first column; a first row `code` is a header."))


class CodesAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Codes new to the pool.")
    duplicates = serializers.IntegerField(
        help_text="Codes dropped: repeated in the upload, or in the pool already.")
    duplicate_codes = serializers.ListField(child=serializers.CharField(),
                                            help_text="The first 100 codes dropped.")
    available = serializers.IntegerField(help_text="Codes in the pool now.")
    given = serializers.IntegerField(help_text="Codes given out so far.")


ACTION_EXAMPLE = {
    "id": 4, "campaign": 12, "keyword": "YES",
    "reply": "Here is your 20% off code: {{ code }}. Show it at the till.",
    "fallback_text": "Thanks {{ contact.name | default: \"there\" }}! Every code has gone; "
                     "watch out for the next offer.",
    "hands_out_codes": True, "codes": {"available": 480, "given": 20},
    "created_at": "2026-11-23T14:00:00Z",
}


class ReplyActionListCreate(GenericAPIView):
    """A campaign's reply actions, newest first: what its recipients get when they text a
    keyword within 72 hours of its message. They answer after STOP/HELP and the lists'
    keywords, before surveys and keyword rules."""

    serializer_class = ReplyActionSerializer
    required_scopes = {"GET": "campaigns", "POST": "campaigns"}

    @extend_schema(summary="List a campaign's reply actions",
                   responses=ReplyActionSerializer(many=True), examples=[
        OpenApiExample("Actions", response_only=True, value=ACTION_EXAMPLE)])
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(reply_action_list(campaign=_campaign(pk)))
        return self.get_paginated_response(ReplyActionSerializer(page, many=True).data)

    @extend_schema(summary="Add a reply action", request=ReplyActionWriteSerializer,
                   responses={201: ReplyActionSerializer}, examples=[
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

    @extend_schema(summary="Get a reply action", examples=[
        OpenApiExample("An action", response_only=True, value=ACTION_EXAMPLE)])
    def get(self, request: Request, pk: int, action_id: int) -> Response:
        return Response(ReplyActionSerializer(_action(pk, action_id)).data)

    @extend_schema(summary="Delete a reply action and its codes", responses={204: None})
    def delete(self, request: Request, pk: int, action_id: int) -> Response:
        reply_action_delete(action=_action(pk, action_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReplyCodesCreate(GenericAPIView):
    """Add single-use codes to an action's pool, as JSON (`{"codes": [...]}`) or a CSV
    upload (`file`, multipart). A code repeated in the upload or already in the pool is
    dropped and reported; anything else wrong refuses the whole upload, adding nothing:
    `invalid_code`, `too_many_codes`, `invalid_file` (not UTF-8 text, or a NUL),
    `file_too_large`, `invalid_reply` (the action's reply names no `{{ code }}`)."""

    serializer_class = CodesSerializer
    parser_classes = [JSONParser, MultiPartParser]
    required_scopes = {"POST": "campaigns"}

    @extend_schema(
        summary="Add codes to a reply action's pool",
        request={"application/json": CodesSerializer,
                 "multipart/form-data": CodesUploadSerializer},
        responses={201: CodesAddedSerializer},
        examples=[
            OpenApiExample("Codes as JSON", request_only=True,
                           value={"codes": ["SPRING-7KQ2", "SPRING-9XD4", "SPRING-7KQ2"]}),
            OpenApiExample("Added, one repeated", response_only=True, status_codes=["201"],
                           value={"added": 2, "duplicates": 1,
                                  "duplicate_codes": ["SPRING-7KQ2"], "available": 482,
                                  "given": 20}),
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
