"""The suppression list's pages (owners and admins): add or remove a number with a reason,
import a CSV with a progress bar, export."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from messaging.error_codes import MessagingError
from messaging.phones import phone_normalize
from optout.actions import do_opt_in, do_opt_out
from optout.imports import optout_import_create, optouts_csv
from optout.models import ConsentEvent, OptOutImport
from optout.selectors import optout_list


class OptOutForm(forms.Form):
    phone = forms.CharField(label="Phone number", max_length=32,
                            help_text="In international format, e.g. +14155550123.")
    reason = forms.CharField(label="Reason", max_length=500, required=False)

    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"], field="phone")
        except MessagingError as exc:
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
    form = OptOutForm(request.POST)
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
        except MessagingError as exc:
            messages.error(request, exc.detail)
        else:
            return redirect("optout_import_progress", import_id=job.pk)
    else:
        messages.error(request, "Choose a CSV file to import.")
    return redirect("optouts")


@tenant_admin_required
def optout_import_progress(request: HttpRequest, import_id: int) -> HttpResponse:
    job = get_object_or_404(OptOutImport.objects.defer("content"), pk=import_id)
    return render(request, "optout/import.html", {"job": job})


@tenant_admin_required
def optouts_export(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(optouts_csv(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="optouts.csv"'
    return response
