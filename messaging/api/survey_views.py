"""Surveys API: CRUD (scope ``settings``), starting one for a contact (``messages:send``),
and results as JSON and CSV (``settings``)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import refusals
from messaging.api.serializers import (
    SurveyResultsSerializer,
    SurveySerializer,
    SurveySessionSerializer,
    SurveyStartSerializer,
)
from messaging.models import Survey
from messaging.selectors import survey_csv_write, survey_results
from messaging.surveys import do_survey_start, survey_delete, survey_save

SURVEYS = Survey.objects.prefetch_related("questions")
SURVEY_CODES = ("invalid_survey", "invalid_question", "invalid_branch")
SETTINGS = "Scope `settings`."


def survey_csv_response(survey: Survey) -> HttpResponse:
    """The results as a CSV download; the tenant UI serves the same file."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-results.csv"'
    survey_csv_write(survey=survey, out=response)
    return response


class SurveyListCreate(ListModelMixin, GenericAPIView):
    serializer_class = SurveySerializer
    required_scopes = {"GET": "settings", "POST": "settings"}
    queryset = SURVEYS

    @extend_schema(summary="List surveys", description=(
        f"Your surveys, newest first, each with its questions. {SETTINGS}"))
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(summary="Create a survey", description=(
        f"Questions asked by SMS one at a time, in order: choices, yes/no, a number in a "
        f"range or free text, with branching on answers. A keyword rule (`start_survey`) or "
        f"`POST /surveys/{{id}}/start` starts it. {SETTINGS}"),
        responses={201: SurveySerializer, **refusals({400: SURVEY_CODES})})
    def post(self, request: Request) -> Response:
        data = SurveySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        survey = survey_save(**data.validated_data)
        return Response(SurveySerializer(survey).data, status=status.HTTP_201_CREATED)


class SurveyDetail(GenericAPIView):
    serializer_class = SurveySerializer
    required_scopes = {"GET": "settings", "PUT": "settings", "DELETE": "settings"}
    queryset = SURVEYS

    @extend_schema(summary="Get a survey", description=f"One survey. {SETTINGS}")
    def get(self, request: Request, pk: int) -> Response:
        return Response(SurveySerializer(self.get_object()).data)

    @extend_schema(summary="Replace a survey", description=(
        f"Saves the survey as given. Once started, its questions are fixed "
        f"(`survey_locked`); the rest may change. {SETTINGS}"),
        responses={200: SurveySerializer,
                   **refusals({400: (*SURVEY_CODES, "survey_locked")})})
    def put(self, request: Request, pk: int) -> Response:
        survey = self.get_object()
        data = SurveySerializer(survey, data=request.data)
        data.is_valid(raise_exception=True)
        survey = survey_save(survey=survey, **data.validated_data)
        return Response(SurveySerializer(Survey.objects.get(pk=survey.pk)).data)

    @extend_schema(summary="Delete a survey", description=(
        f"Deletes the survey with its sessions and answers; one a keyword rule starts is "
        f"`survey_in_use`. {SETTINGS}"), responses={204: None,
                                                   **refusals({400: ("survey_in_use",)})})
    def delete(self, request: Request, pk: int) -> Response:
        survey_delete(survey=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SurveyStart(GenericAPIView):
    """Send the survey's first question to ``to`` from the sender ``from``; the contact's
    replies to that sender answer it."""

    serializer_class = SurveyStartSerializer
    required_scopes = {"POST": "messages:send"}
    queryset = Survey.objects.all()

    @extend_schema(summary="Start a survey", description=(
        "Texts the survey's intro and first question to `to` from the sender `from`; the "
        "customer's replies to that sender answer it. Answers 202 with the session. Scope "
        "`messages:send`."),
        responses={202: SurveySessionSerializer, **refusals({400: (
            "invalid_phone_number", "unknown_sender", "sender_not_approved",
            "recipient_opted_out", "survey_inactive", "survey_deleted")})})
    def post(self, request: Request, pk: int) -> Response:
        survey = self.get_object()
        data = SurveyStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = do_survey_start(survey=survey, phone=data.validated_data["to"],
                                  sender_address=data.validated_data["from"])
        return Response(SurveySessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)


class SurveyResults(GenericAPIView):
    """Sessions by status; per question, counts per answer (choice, yes/no), min, max and
    mean (number), or the number of answers (text)."""

    serializer_class = SurveyResultsSerializer
    required_scopes = {"GET": "settings"}
    queryset = Survey.objects.all()

    @extend_schema(summary="Get a survey's results", description=(
        f"Sessions by status and, per question, the counts per answer (choice, yes/no), "
        f"the lowest, highest and mean answer (number), or the number of answers (text). "
        f"{SETTINGS}"))
    def get(self, request: Request, pk: int) -> Response:
        return Response(SurveyResultsSerializer(survey_results(survey=self.get_object())).data)


class SurveyResultsCsv(GenericAPIView):
    """One row per session: phone, status, started_at, then one column per question."""

    required_scopes = {"GET": "settings"}
    queryset = Survey.objects.all()

    def get_serializer_class(self):
        return SurveySerializer

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The body is CSV whatever the client accepts; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(summary="Download a survey's results", description=(
        f"A CSV file, one row per session: phone, status, started_at, then one column per "
        f"question. {SETTINGS}"), responses={(200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR, description="The results, one row per session.")})
    def get(self, request: Request, pk: int) -> HttpResponse:
        return survey_csv_response(self.get_object())
