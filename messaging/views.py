"""Tenant pages of the messaging domain. Views stay thin: forms check shapes, services and
selectors do the rest."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import tenant_admin_required
from core.confirm import CONFIRM_FIELD, confirmed
from core.errors import DomainError
from core.numbers import small_int
from core.phones import phone_normalize
from messaging import selectors
from messaging.api.survey_views import survey_csv_response
from messaging.inbound import message_receive_simulated
from messaging.models import Survey
from messaging.survey_forms import (
    QUESTIONS_PREFIX,
    QuestionForm,
    SurveyForm,
    question_formset,
    question_rows,
    question_rows_rearrange,
)
from messaging.surveys import MAX_QUESTIONS, survey_delete, survey_save

DEFAULT_CUSTOMER = "+15555550199"
# Ten concatenated segments; the simulator is a test tool, not a way to store novels.
MAX_SIMULATED_BODY = 1600
# Where a service's error field shows on the simulator form.
SIMULATOR_FIELDS = {"to": "sender", "from": "phone", "body": "body"}


class SimulatorForm(forms.Form):
    sender = forms.ChoiceField(label="Sender")
    phone = forms.CharField(label="Customer number", max_length=32,
                            help_text="In international format, e.g. +15555550199.")
    body = forms.CharField(label="Message", max_length=MAX_SIMULATED_BODY,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, senders: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].choices = [(address, address) for address in senders]


@login_required
@require_http_methods(["GET", "POST"])
def simulator(request: HttpRequest) -> HttpResponse:
    """Play a customer's phone: text one of the tenant's simulator senders and watch the
    replies arrive in the thread below."""
    senders = {sender.address: sender for sender in selectors.simulator_sender_list()}
    if not senders:
        return render(request, "messaging/simulator.html", {"senders": senders})
    params = request.POST if request.method == "POST" else request.GET
    address = params.get("sender") if params.get("sender") in senders else next(iter(senders))
    phone = (params.get("phone") or DEFAULT_CUSTOMER).strip()

    if request.method == "POST":
        form = SimulatorForm(request.POST, senders=list(senders))
        if form.is_valid():
            try:
                message = message_receive_simulated(
                    from_address=form.cleaned_data["phone"], to=form.cleaned_data["sender"],
                    body=form.cleaned_data["body"],
                )
            except DomainError as exc:
                form.add_error(SIMULATOR_FIELDS.get(exc.field), exc.detail)
            else:
                messages.success(request, f"Sent from {message.from_address} to "
                                          f"{message.to_address}.")
                query = urlencode({"sender": message.to_address, "phone": message.from_address})
                return redirect(f"{reverse('simulator')}?{query}")
    else:
        form = SimulatorForm(initial={"sender": address, "phone": phone},
                             senders=list(senders))

    try:
        phone = phone_normalize(phone, field="from")
    except DomainError:
        thread = None  # nothing to show for a number that is not one
    else:
        thread = selectors.simulator_thread(sender=senders[address], phone=phone)
    context = {
        "senders": senders, "form": form, "sender": senders[address], "phone": phone,
        "thread": thread,
        "refresh_url": f"{reverse('simulator')}?{urlencode({'sender': address, 'phone': phone})}",
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "messaging/simulator.html", context, status=status)


@tenant_admin_required
@require_GET
def survey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/survey_list.html", {"surveys": selectors.survey_list()})


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest) -> HttpResponse:
    """A blank survey, or one filled in from ``?copy=<id>``: once people have started a
    survey, a copy is how to ask them different questions."""
    source = None
    copy_id = small_int(request.GET.get("copy"))
    if request.method == "GET" and copy_id is not None:
        source = get_object_or_404(Survey, pk=copy_id)
    return _survey_builder(request, survey=None, source=source)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def survey_edit(request: HttpRequest, survey_id: int) -> HttpResponse:
    return _survey_builder(request, survey=get_object_or_404(Survey, pk=survey_id))


def _survey_builder(request: HttpRequest, *, survey: Survey | None,
                    source: Survey | None = None) -> HttpResponse:
    """The builder page: the survey's settings and its questions, saved together by
    ``survey_save`` (all or nothing) or rearranged without saving (see
    ``messaging.survey_forms``). Once people have started the survey its questions are
    shown, not offered for editing, since ``survey_save`` would refuse to change them."""
    heading = f"Edit survey {survey.name}" if survey else "New survey"
    if request.method == "GET":
        shown = survey or source
        initial = SurveyForm.initial_of(shown) if shown else {}
        if source:
            initial["name"] = f"{source.name} (copy)"
        questions = question_formset(initial=[
            QuestionForm.initial_of(question) for question in shown.questions.all()
        ] if shown else [{}])
        return _survey_builder_page(request, survey=survey, heading=heading,
                                    form=SurveyForm(initial=initial), questions=questions)

    form = SurveyForm(request.POST)
    # Absent when the page showed them read-only: then they stay as they are.
    questions = (question_formset(request.POST)
                 if f"{QUESTIONS_PREFIX}-TOTAL_FORMS" in request.POST else None)
    action = request.POST.get("action", "save")
    if questions is not None and action != "save":
        rows = question_rows_rearrange(question_rows(questions), action)
        return _survey_builder_page(
            request, survey=survey, heading=heading,
            form=SurveyForm(initial={name: form[name].value() for name in form.fields}),
            questions=question_formset(initial=rows))

    question_errors: list[str] = []
    if form.is_valid() and (questions is None or questions.is_valid()):
        try:
            saved = survey_save(
                survey=survey, **form.cleaned_data,
                questions=None if questions is None else [q.cleaned_data for q in questions])
        except DomainError as exc:
            question_errors = _survey_refusal_show(exc, form=form, questions=questions)
        else:
            messages.success(request, f"Survey {saved.name} saved.")
            return redirect("survey_list")
    return _survey_builder_page(request, survey=survey, heading=heading, form=form,
                                questions=questions, question_errors=question_errors,
                                status=400)


def _survey_refusal_show(exc: DomainError, *, form: SurveyForm,
                         questions: forms.BaseFormSet | None) -> list[str]:
    """Show ``survey_save``'s refusal next to the field it names (``questions.<i>.<name>``
    is question i's); return it instead when it is about the questions as a whole."""
    where = (exc.field or "").split(".")
    if where[0] != "questions":
        form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        return []
    index = small_int(where[1]) if len(where) == 3 else None
    if questions is not None and index is not None and index < len(questions.forms):
        question = questions.forms[index]
        question.add_error(where[2] if where[2] in question.fields else None, exc.detail)
        return []
    return [exc.detail]


def _survey_builder_page(request: HttpRequest, *, survey: Survey | None, heading: str,
                         form: SurveyForm, questions: forms.BaseFormSet | None,
                         question_errors: list[str] | None = None,
                         status: int = 200) -> HttpResponse:
    """The builder; a started survey's questions read-only, whatever was posted for them
    (from a page opened before anyone started it)."""
    if survey is not None and selectors.survey_started(survey=survey):
        questions = None
    return render(request, "messaging/survey_edit.html", {
        "survey": survey, "heading": heading, "form": form, "questions": questions,
        "question_errors": question_errors or [], "max_questions": MAX_QUESTIONS,
    }, status=status)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def survey_remove(request: HttpRequest, survey_id: int) -> HttpResponse:
    """Delete a survey after a confirmation page (GET) that says what goes with it, since
    its results cannot come back; its form's POST (``core.confirm``) deletes through
    ``survey_delete``, as the API does, and shows its refusal (a keyword rule starts the
    survey) on the page. Any other POST shows the page again."""
    survey = get_object_or_404(Survey, pk=survey_id)
    # No fields: the form carries the service's refusal, shown as every form shows one.
    form = forms.Form(request.POST if confirmed(request) else None)
    if form.is_bound:
        try:
            survey_delete(survey=survey)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Survey {survey.name} deleted.")
            return redirect("survey_list")
    return render(request, "messaging/survey_delete.html", {
        "survey": survey, "form": form, "confirm_field": CONFIRM_FIELD,
        "summary": selectors.survey_deletion_summary(survey=survey),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_GET
def survey_results(request: HttpRequest, survey_id: int) -> HttpResponse:
    """A chart per question; answers are customers' text, shown escaped like all text."""
    survey = get_object_or_404(Survey, pk=survey_id)
    return render(request, "messaging/survey_results.html",
                  {"survey": survey, "report": selectors.survey_report(survey=survey)})


@tenant_admin_required
@require_GET
def survey_results_csv(request: HttpRequest, survey_id: int) -> HttpResponse:
    return survey_csv_response(get_object_or_404(Survey, pk=survey_id))
