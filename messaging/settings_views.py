"""Pages for owners and admins: keyword rules, business hours, forwarding endpoints and
their attempt log, canned responses, and the tenant's senders with the operator's review.
Forms check shapes; the services the API uses decide."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import User
from accounts.permissions import tenant_admin_required
from core.confirm import confirm_page, confirmed
from core.errors import DomainError
from messaging.canned import canned_response_delete, canned_response_save
from messaging.forwarding import endpoint_save
from messaging.hours import business_hours_get, business_hours_update
from messaging.models import (
    CannedResponse,
    ForwardAttempt,
    ForwardingEndpoint,
    KeywordRule,
    Sender,
    Survey,
)
from messaging.rules import keyword_rule_delete, keyword_rule_save
from messaging.selectors import canned_response_list
from messaging.senders import sender_list, sender_register
from tenants.connections import connection_names_active
from tenants.routes import ROUTE_PREFIX, route_names

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"),
            (5, "Saturday"), (6, "Sunday")]


def _apply(form: forms.Form, save, **fields):
    """Run a service; show its refusal on the field it names. Returns the result or None."""
    try:
        return save(**fields)
    except DomainError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.detail)
        return None


class RuleForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every day.")

    class Meta:
        model = KeywordRule
        fields = ["keyword", "match", "reply", "priority", "active", "sender", "weekdays",
                  "active_from", "active_until", "add_tag", "assign_to", "forward_to",
                  "start_survey"]
        widgets = {"reply": forms.Textarea(attrs={"rows": 3}),
                   "active_from": forms.TimeInput(attrs={"type": "time"}),
                   "active_until": forms.TimeInput(attrs={"type": "time"})}
        help_texts = {
            "reply": 'Placeholders: {{ contact.name }}, {{ contact.fields.plan }}, '
                     '{{ sender }}; {{ contact.name | default: "there" }} when it may be '
                     'missing.',
            "priority": "Lower numbers are tried first.",
            "sender": "Only messages to this sender; empty for all.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].queryset = Sender.objects.filter(status=Sender.Status.APPROVED)
        self.fields["assign_to"].queryset = User.objects.filter(is_active=True)
        self.fields["forward_to"].queryset = ForwardingEndpoint.objects.filter(active=True)
        self.fields["start_survey"].queryset = Survey.objects.filter(active=True)


def _save_rule(form: RuleForm, rule: KeywordRule | None) -> KeywordRule | None:
    fields = dict(form.cleaned_data)
    sender = fields.pop("sender")
    return _apply(form, keyword_rule_save, rule=rule, sender=sender.address if sender else "",
                  **fields)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest) -> HttpResponse:
    form = RuleForm(request.POST or None)
    if form.is_valid() and _save_rule(form, None):
        messages.success(request, "Rule added.")
        return redirect("rules")
    return render(request, "messaging/rules.html", {
        "form": form,
        "rules": KeywordRule.objects.select_related("sender", "assign_to", "forward_to"),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(KeywordRule, pk=rule_id)
    form = RuleForm(request.POST or None, instance=rule)
    if form.is_valid() and _save_rule(form, rule):
        messages.success(request, "Rule saved.")
        return redirect("rules")
    return render(request, "messaging/rule_edit.html", {"form": form, "rule": rule},
                  status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(KeywordRule, pk=rule_id)
    if not confirmed(request):
        return confirm_page(
            request, title=f"Delete the rule {rule.keyword}?", action="Delete rule",
            cancel_url=reverse("rule_edit", args=[rule.pk]), consequences=[
                f"Customers texting {rule.keyword} are no longer answered by it; the next "
                "matching rule, or the inbox, takes their texts."])
    keyword_rule_delete(rule=rule)
    messages.success(request, f"Rule {rule.keyword} deleted.")
    return redirect("rules")


TIME_RANGE = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?")


def _day_ranges(text: str) -> list[list[str]]:
    """``"9-12:30, 13:30-17:00"`` as ``[["09:00", "12:30"], ["13:30", "17:00"]]``; raises
    ``forms.ValidationError`` in words an admin reads (not the API's list syntax)."""
    ranges = []
    for span in (part.strip() for part in text.split(",")):
        found = TIME_RANGE.fullmatch(span)
        if not found:
            raise forms.ValidationError(
                f"“{span}” is not a time range: write it like 09:00-17:00, and separate "
                "several with commas.", code="invalid_hours")
        opens_h, opens_m, closes_h, closes_m = (int(value or 0) for value in found.groups())
        if opens_h > 23 or closes_h > 24 or opens_m > 59 or closes_m > 59 \
                or (closes_h == 24 and closes_m):
            raise forms.ValidationError(f"“{span}” is not a time of day: hours go from 00 to "
                                        "23 and minutes from 00 to 59.", code="invalid_hours")
        opens, closes = f"{opens_h:02}:{opens_m:02}", f"{closes_h:02}:{closes_m:02}"
        if closes == "24:00":
            closes = "23:59"
        if closes <= opens:
            raise forms.ValidationError(
                f"“{span}” closes before it opens. A range ends the same day: for hours past "
                "midnight, close at 23:59 and open the next day at 00:00.",
                code="invalid_hours")
        ranges.append([opens, closes])
    return ranges


class HoursForm(forms.Form):
    enabled = forms.BooleanField(label="Send the away reply when closed", required=False)
    away_reply = forms.CharField(
        label="Away reply", required=False, max_length=1600,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Empty: a default that names your business.")

    def __init__(self, *args, hours, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for day, name in WEEKDAYS:
            ranges = hours.opening_hours.get(str(day), [])
            self.fields[f"day_{day}"] = forms.CharField(
                label=name, required=False, max_length=100,
                initial=", ".join(f"{opens[:5]}-{closes[:5]}" for opens, closes in ranges),
                help_text="e.g. 09:00-12:30, 13:30-17:00; empty: closed" if day == 0 else "")

    def clean(self) -> dict:
        cleaned = super().clean()
        for day, _ in WEEKDAYS:
            text = (cleaned.get(f"day_{day}") or "").strip()
            try:
                cleaned[f"day_{day}"] = _day_ranges(text) if text else []
            except forms.ValidationError as exc:
                self.add_error(f"day_{day}", exc)
        return cleaned

    def opening_hours(self) -> dict[str, list[list[str]]]:
        return {str(day): self.cleaned_data[f"day_{day}"] for day, _ in WEEKDAYS
                if self.cleaned_data[f"day_{day}"]}


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def hours(request: HttpRequest) -> HttpResponse:
    current = business_hours_get()
    form = HoursForm(request.POST or None, hours=current,
                     initial={"enabled": current.enabled, "away_reply": current.away_reply})
    if form.is_valid() and _apply(form, business_hours_update,
                                  enabled=form.cleaned_data["enabled"],
                                  away_reply=form.cleaned_data["away_reply"],
                                  opening_hours=form.opening_hours()):
        messages.success(request, "Business hours saved.")
        return redirect("hours")
    return render(request, "messaging/hours.html", {"form": form},
                  status=400 if form.errors else 200)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")

    class Meta:
        model = ForwardingEndpoint
        fields = ["name", "url", "timeout_seconds", "active"]
        labels = {"timeout_seconds": "Timeout (seconds)"}


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def forwarding(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    created = None
    if form.is_valid():
        created = _apply(form, endpoint_save, **form.cleaned_data)
        if created:
            form = EndpointForm()
    return render(request, "messaging/forwarding.html", {
        "form": form, "created": created, "endpoints": ForwardingEndpoint.objects.all(),
    }, status=400 if form.errors else 200)


@tenant_admin_required
def forwarding_attempts(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(ForwardingEndpoint, pk=endpoint_id)
    attempts = (ForwardAttempt.objects.filter(forward__endpoint=endpoint)
                .select_related("forward__message")[:200])
    return render(request, "messaging/forwarding_attempts.html",
                  {"endpoint": endpoint, "attempts": attempts})


class CannedResponseForm(forms.Form):
    shortcode = forms.CharField(
        help_text="Up to 30 lowercase letters, digits, - and _; staff type /shortcode in the "
                  "reply box.")
    # The SMS counter (static/js/sms_counter.js) follows the text and holds back the save
    # button past 10 segments, which canned_response_save would refuse.
    body = forms.CharField(
        label="Response", widget=forms.Textarea(attrs={
            "rows": 4, "data-sms-counter": "body-counter", "data-sms-send": "canned-save",
            "aria-describedby": "id_body_helptext body-counter"}),
        help_text='Placeholders: {{ contact.name }}, {{ contact.fields.plan }}, {{ sender }}; '
                  '{{ contact.name | default: "there" }} when it may be missing.')


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def canned_responses(request: HttpRequest) -> HttpResponse:
    form = CannedResponseForm(request.POST or None)
    if form.is_valid() and _apply(form, canned_response_save, **form.cleaned_data):
        messages.success(request, "Canned response added.")
        return redirect("canned_responses")
    return render(request, "messaging/canned_responses.html", {
        "form": form, "canned_responses": canned_response_list(),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def canned_response_edit(request: HttpRequest, canned_id: int) -> HttpResponse:
    canned = get_object_or_404(CannedResponse, pk=canned_id)
    form = CannedResponseForm(request.POST or None,
                              initial={"shortcode": canned.shortcode, "body": canned.body})
    if form.is_valid() and _apply(form, canned_response_save, canned=canned,
                                  **form.cleaned_data):
        messages.success(request, f"Saved /{canned.shortcode}.")
        return redirect("canned_responses")
    return render(request, "messaging/canned_response_edit.html",
                  {"form": form, "canned": canned}, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def canned_response_remove(request: HttpRequest, canned_id: int) -> HttpResponse:
    canned = get_object_or_404(CannedResponse, pk=canned_id)
    if not confirmed(request):
        return confirm_page(
            request, title=f"Delete the canned response /{canned.shortcode}?",
            action="Delete canned response",
            cancel_url=reverse("canned_response_edit", args=[canned.pk]),
            consequences=[f"Your team can no longer insert /{canned.shortcode}; messages "
                          "already sent with it stay as they are."])
    canned_response_delete(canned=canned)
    messages.success(request, f"Deleted /{canned.shortcode}.")
    return redirect("canned_responses")


class SenderForm(forms.Form):
    address = forms.CharField(
        max_length=50, help_text="A number in international format (+14155550123), a short "
                                 "code, or an alphanumeric ID of up to 11 characters.")
    kind = forms.ChoiceField(choices=Sender.Kind.choices)
    connection = forms.ChoiceField(help_text="The provider connection it sends through, or the "
                                             "operator's route over several.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [(name, name) for name in connection_names_active()] + [
            (ROUTE_PREFIX + name, ROUTE_PREFIX + name) for name in route_names()]


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def senders(request: HttpRequest) -> HttpResponse:
    """The tenant's senders with the operator's review (status, reason, time), and
    registering another, which then waits for that review."""
    form = SenderForm(request.POST or None)
    if form.is_valid():
        sender = _apply(form, sender_register, **form.cleaned_data)
        if sender:
            messages.success(request, f"Registered {sender.address}: it can send once the "
                                      "operator approves it.")
            return redirect("senders")
    return render(request, "messaging/senders.html", {
        "form": form, "senders": sender_list(),
    }, status=400 if form.errors else 200)
