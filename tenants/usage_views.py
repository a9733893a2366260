"""Operator console pages for a tenant's status and plan, usage, prices and the billing
export (public host, operator staff; routed by ``cpaas/urls_public.py`` behind the
console's sign-in)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_tenants.utils import get_public_schema_name

from tenants.billing import billing_csv, month_parse, price_delete, price_set
from tenants.models import Price, QuotaUsage, Tenant, TenantStatusChange
from tenants.status import (
    MAX_MONTHLY_SEGMENTS,
    MAX_SEGMENTS_PER_SECOND,
    MAX_SENDERS,
    tenant_customer_get,
    tenant_plan_set,
    tenant_status_set,
)
from tenants.usage import usage_month_by_tenant

OPERATOR_PERMISSION = "tenants.change_tenant"


def _operator_only(request: HttpRequest) -> None:
    if not request.user.has_perm(OPERATOR_PERMISSION):
        raise PermissionDenied("This page needs the permission to change tenants.")


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Tenant.Status.choices)
    reason = forms.CharField(max_length=500, required=False,
                             help_text="Shown to the tenant's staff on the sign-in page.")


class PlanForm(forms.Form):
    monthly_segment_cap = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_MONTHLY_SEGMENTS,
        label="Segments per month", help_text="Empty: no cap.")
    segments_per_second_cap = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_SEGMENTS_PER_SECOND,
        label="Segments per second (all senders)", help_text="Empty: no cap.")
    max_senders = forms.IntegerField(required=False, min_value=1, max_value=MAX_SENDERS,
                                     label="Senders", help_text="Empty: no cap.")


def _customer(slug: str) -> Tenant:
    try:
        return tenant_customer_get(slug)
    except ValidationError:
        raise Http404("No such tenant.") from None


def _apply(form: forms.Form, action) -> bool:
    """Run ``action`` with the form's data; put a refusal next to its field."""
    try:
        action(**form.cleaned_data)
    except ValidationError as exc:
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return False
    return True


@require_http_methods(["GET", "POST"])
def tenant_status_view(request: HttpRequest, slug: str) -> HttpResponse:
    _operator_only(request)
    tenant = _customer(slug)
    status_form = StatusForm(initial={"status": tenant.status, "reason": tenant.status_reason})
    plan_form = PlanForm(initial={"monthly_segment_cap": tenant.monthly_segment_cap,
                                  "segments_per_second_cap": tenant.segments_per_second_cap,
                                  "max_senders": tenant.max_senders})
    if request.method == "POST" and request.POST.get("action") == "plan":
        plan_form = PlanForm(request.POST)
        if plan_form.is_valid() and _apply(plan_form, lambda **caps: tenant_plan_set(
                tenant=tenant, actor=_actor(request), **caps)):
            messages.success(request, f"{tenant.slug}: plan saved.")
            return redirect(reverse("operator_tenant_status", args=[tenant.slug]))
    elif request.method == "POST":
        status_form = StatusForm(request.POST)
        if status_form.is_valid() and _apply(status_form, lambda **data: tenant_status_set(
                tenant=tenant, actor=_actor(request), **data)):
            messages.success(request, f"{tenant.slug} is now {tenant.status}.")
            return redirect(reverse("operator_tenant_status", args=[tenant.slug]))
    month = timezone.now().date().replace(day=1)
    used = (QuotaUsage.objects.filter(tenant=tenant, month=month)
            .values_list("segments", flat=True).first() or 0)
    usage = usage_month_by_tenant(month=month)
    context = {
        **admin.site.each_context(request),
        "title": f"{tenant.name} ({tenant.slug}): status and plan",
        "customer": tenant,
        "status_form": status_form,
        "plan_form": plan_form,
        "month": month,
        "quota_used": used,
        "usage_in": usage.get((tenant.pk, "inbound"), {}),
        "usage_out": usage.get((tenant.pk, "outbound"), {}),
        "changes": TenantStatusChange.objects.filter(tenant=tenant)[:50],
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "tenants/usage/tenant_status.html", context, status=status)


class PriceForm(forms.Form):
    prefix = forms.CharField(max_length=7, help_text="Digits after the plus: 1, 44, 4477.")
    price_per_segment = forms.CharField(max_length=20, label="Price per segment")
    currency = forms.CharField(max_length=3, initial="USD")


@require_http_methods(["GET", "POST"])
def usage_view(request: HttpRequest) -> HttpResponse:
    """This month's (or ``?month=``'s) figures per tenant, and the price table."""
    _operator_only(request)
    form = PriceForm()
    if request.method == "POST" and request.POST.get("action") == "delete":
        prefix = request.POST.get("prefix", "")
        if price_delete(prefix=prefix):
            messages.success(request, f"Price for {prefix} removed.")
        return redirect(reverse("operator_usage"))
    if request.method == "POST":
        form = PriceForm(request.POST)
        if form.is_valid() and _apply(form, price_set):
            messages.success(request, f"Price for {form.cleaned_data['prefix']} saved.")
            return redirect(reverse("operator_usage"))
    month_text = request.GET.get("month") or f"{timezone.now():%Y-%m}"
    try:
        month = month_parse(month_text)
    except ValidationError:
        month, month_text = timezone.now().date().replace(day=1), f"{timezone.now():%Y-%m}"
        messages.error(request, "Give the month as YYYY-MM; showing this month.")
    usage = usage_month_by_tenant(month=month)
    tenants = (Tenant.objects.filter(is_template=False)
               .exclude(schema_name=get_public_schema_name()).order_by("slug"))
    rows = [{"tenant": tenant, "inbound": usage.get((tenant.pk, "inbound"), {}),
             "outbound": usage.get((tenant.pk, "outbound"), {})} for tenant in tenants]
    context = {
        **admin.site.each_context(request),
        "title": f"Usage in {month:%Y-%m}",
        "month": month_text,
        "rows": rows,
        "prices": Price.objects.all(),
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "tenants/usage/usage.html", context, status=status)


@require_GET
def usage_export_view(request: HttpRequest) -> HttpResponse:
    """The billing export of ``?month=YYYY-MM`` as a CSV download."""
    _operator_only(request)
    try:
        month = month_parse(request.GET.get("month", ""))
    except ValidationError as exc:
        return HttpResponse(exc.message_dict["month"][0], status=400,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(billing_csv(month=month), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{month:%Y-%m}.csv"'
    return response
