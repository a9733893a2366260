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

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(responses={201: SurveySerializer})
    def post(self, request: Request) -> Response:
        data = SurveySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        survey = survey_save(**data.validated_data)
        return Response(SurveySerializer(survey).data, status=status.HTTP_201_CREATED)


class SurveyDetail(GenericAPIView):
    serializer_class = SurveySerializer
    required_scopes = {"GET": "settings", "PUT": "settings", "DELETE": "settings"}
    queryset = SURVEYS

    def get(self, request: Request, pk: int) -> Response:
        return Response(SurveySerializer(self.get_object()).data)

    def put(self, request: Request, pk: int) -> Response:
        survey = self.get_object()
        data = SurveySerializer(survey, data=request.data)
        data.is_valid(raise_exception=True)
        survey = survey_save(survey=survey, **data.validated_data)
        return Response(SurveySerializer(Survey.objects.get(pk=survey.pk)).data)

    def delete(self, request: Request, pk: int) -> Response:
        survey_delete(survey=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SurveyStart(GenericAPIView):
    """Send the survey's first question to ``to`` from the sender ``from``; the contact's
    replies to that sender answer it."""

    serializer_class = SurveyStartSerializer
    required_scopes = {"POST": "messages:send"}
    queryset = Survey.objects.all()

    @extend_schema(responses={202: SurveySessionSerializer})
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

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR, description="The results, one row per session.")})
    def get(self, request: Request, pk: int) -> HttpResponse:
        return survey_csv_response(self.get_object())
