"""Opt-out pages (owners and admins): the keyword settings, and the suppression list: add
or remove a number with a reason, import a CSV with a progress bar, export."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from core.confirm import confirm_page, confirmed
from core.errors import DomainError
from core.phones import phone_normalize
from optout.actions import do_opt_in, do_opt_out, optout_settings_get, optout_settings_update
from optout.imports import optout_import_create, optouts_csv
from optout.models import ConsentEvent, OptOutImport, OptOutSettings
from optout.selectors import consent_history, optout_list


class OptOutForm(forms.Form):
    phone = forms.CharField(label="Phone number", max_length=32,
                            help_text="In international format, e.g. +14155550123.")
    reason = forms.CharField(label="Reason", max_length=500, required=False)

    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"], field="phone")
        except DomainError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file",
                           help_text="One number per line in international format, "
                                     "optionally followed by a reason.")


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def optouts(request: HttpRequest) -> HttpResponse:
    form = OptOutForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        added = do_opt_out(phone=form.cleaned_data["phone"], source=ConsentEvent.Source.ADMIN,
                           reason=form.cleaned_data["reason"], actor=request.user)
        phone = form.cleaned_data["phone"]
        messages.success(request, f"{phone} is opted out." if added
                         else f"{phone} was already opted out.")
        return redirect("optouts")
    query = request.GET.get("phone", "").strip()
    entries = optout_list()
    if query:
        entries = entries.filter(phone__contains=query)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "optout/optouts.html", {
        "form": form, "import_form": ImportForm(), "page": page, "query": query,
        "imports": OptOutImport.objects.defer("content")[:5],
    })


@tenant_admin_required
@require_POST
def optout_remove(request: HttpRequest) -> HttpResponse:
    """Opt a number back in, once confirmed: from then on it is sent to again."""
    form = OptOutForm(request.POST)
    if form.is_valid() and not confirmed(request):
        phone, reason = form.cleaned_data["phone"], form.cleaned_data["reason"]
        return confirm_page(
            request, title=f"Opt {phone} back in?", action="Opt back in",
            cancel_url=reverse("optouts"), carry={"phone": phone, "reason": reason},
            consequences=[
                "Your senders may text this number again: the API, the inbox, rules, "
                "surveys and campaigns.",
                "Only do this when the person asked for it; the consent log records it as "
                "your decision" + (f": {reason}" if reason else ".")])
    if form.is_valid():
        phone = form.cleaned_data["phone"]
        do_opt_in(phone=phone, source=ConsentEvent.Source.ADMIN,
                  reason=form.cleaned_data["reason"], actor=request.user)
        messages.success(request, f"{phone} is opted back in.")
    else:
        messages.error(request, "That is not a phone number on the list.")
    return redirect("optouts")


@tenant_admin_required
@require_POST
def optout_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = optout_import_create(file_name=upload.name or "", content=upload.read(),
                                       actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            return redirect("optout_import_progress", import_id=job.pk)
    else:
        messages.error(request, "Choose a CSV file to import.")
    return redirect("optouts")


@tenant_admin_required
def optout_import_progress(request: HttpRequest, import_id: int) -> HttpResponse:
    """The import's page; ``?format=json`` is its progress, which the page polls
    (``static/js/import_progress.js``) while the task runs."""
    polled = request.GET.get("format") == "json"
    job = get_object_or_404(OptOutImport.objects.defer("content", *(["errors"] if polled else [])),
                            pk=import_id)
    if polled:
        return JsonResponse({
            "status": job.status, "status_display": job.get_status_display(),
            "finished": job.status in (OptOutImport.Status.DONE, OptOutImport.Status.FAILED),
            "percent": job.percent, "processed_rows": job.processed_rows,
            "total_rows": job.total_rows, "added": job.added, "already": job.already,
            "error_count": job.error_count})
    return render(request, "optout/import.html", {"job": job})


@tenant_admin_required
def optouts_export(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(optouts_csv(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="optouts.csv"'
    return response


class SettingsForm(forms.Form):
    optout_keywords = forms.CharField(label="Opt-out keywords", max_length=500,
                                      help_text="Comma-separated. STOP cannot be removed.")
    optin_keywords = forms.CharField(label="Opt-in keywords", max_length=500, required=False,
                                     help_text="YES also opts back in, but only a contact "
                                               "who is opted out.")
    help_keywords = forms.CharField(label="Help keywords", max_length=500,
                                    help_text="HELP and INFO cannot be removed.")
    optout_reply = forms.CharField(label="Opt-out confirmation", required=False,
                                   max_length=480, widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text="Empty: the default, which names your business.")
    optin_reply = forms.CharField(label="Opt-in confirmation", required=False, max_length=480,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    help_reply = forms.CharField(label="Help text", required=False, max_length=480,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    scope = forms.ChoiceField(label="A STOP stops", choices=[
        (OptOutSettings.Scope.TENANT, "every sender of this account"),
        (OptOutSettings.Scope.SENDER, "only the sender it was sent to"),
    ])

    def keywords(self, field: str) -> list[str]:
        return [word for word in self.cleaned_data[field].split(",") if word.strip()]


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def optout_settings(request: HttpRequest) -> HttpResponse:
    current = optout_settings_get()
    initial = {field: ", ".join(getattr(current, field))
               for field in ("optout_keywords", "optin_keywords", "help_keywords")}
    initial |= {field: getattr(current, field)
                for field in ("optout_reply", "optin_reply", "help_reply", "scope")}
    form = SettingsForm(request.POST or None, initial=initial)
    if form.is_valid():
        try:
            optout_settings_update(
                optout_keywords=form.keywords("optout_keywords"),
                optin_keywords=form.keywords("optin_keywords"),
                help_keywords=form.keywords("help_keywords"),
                **{field: form.cleaned_data[field]
                   for field in ("optout_reply", "optin_reply", "help_reply", "scope")},
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, "Opt-out settings saved.")
            return redirect("optout_settings")
    return render(request, "optout/settings.html", {"form": form},
                  status=400 if form.errors else 200)


@tenant_admin_required
def optout_history(request: HttpRequest) -> HttpResponse:
    """A number's consent log: every opt-out and opt-in, with its source and actor."""
    raw = request.GET.get("phone", "")
    try:
        phone = phone_normalize(raw, field="phone")
    except DomainError as exc:
        phone, events, problem = raw, [], exc.detail if raw else ""
    else:
        events, problem = consent_history(phone=phone)[:500], ""
    return render(request, "optout/history.html",
                  {"phone": phone, "events": events, "problem": problem})
