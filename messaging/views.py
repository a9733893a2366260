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
from messaging import selectors
from messaging.api.survey_views import survey_csv_response
from messaging.error_codes import MessagingError
from messaging.inbound import message_receive_simulated
from messaging.models import Survey
from messaging.phones import phone_normalize

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
            except MessagingError as exc:
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
    except MessagingError:
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
