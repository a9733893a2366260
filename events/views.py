"""Event webhook pages for owners and admins: the list with the create form (the secret
is shown once, in the answer to the create), and each webhook's page with its settings,
on/off, a test event, deletion and the delivery log. Forms check shapes; the services the
API uses decide."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from core.confirm import confirm_page, confirmed
from events.actions import (
    subscription_create,
    subscription_delete,
    subscription_test_send,
    subscription_update,
)
from events.error_codes import EventsError
from events.models import SUBSCRIBABLE_TYPES, WebhookSubscription
from events.selectors import delivery_list, subscription_list

LOG_LENGTH = 100


class SubscriptionForm(forms.Form):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label="Events", choices=[(t, t) for t in SUBSCRIBABLE_TYPES],
        widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label="Description", max_length=200, required=False)


def _apply(form: forms.Form, save, **fields):
    """Run a service; show its refusal on the field it names. Returns the result or None."""
    try:
        return save(**fields)
    except EventsError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        return None


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    created = None
    if form.is_valid():
        created = _apply(form, subscription_create, **form.cleaned_data)
        if created:
            form = SubscriptionForm()
    return render(request, "events/webhooks.html", {
        "form": form, "created": created, "subscriptions": subscription_list(),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=subscription_id)
    form = SubscriptionForm(request.POST or None, initial={
        "url": subscription.url, "events": subscription.events,
        "description": subscription.description})
    if form.is_valid() and _apply(form, subscription_update, subscription=subscription,
                                  **form.cleaned_data):
        messages.success(request, "Webhook saved.")
        return redirect("webhook_detail", subscription.pk)
    return render(request, "events/webhook_detail.html", {
        "subscription": subscription, "form": form,
        "deliveries": delivery_list(subscription=subscription)[:LOG_LENGTH],
        "log_length": LOG_LENGTH,
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_POST
def webhook_active(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=subscription_id)
    active = request.POST.get("active") == "on"
    subscription_update(subscription=subscription, active=active)
    messages.success(request, "Webhook turned on: pending deliveries resume." if active
                     else "Webhook turned off: nothing is sent until it is turned on.")
    return redirect("webhook_detail", subscription.pk)


@tenant_admin_required
@require_POST
def webhook_test(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=subscription_id)
    try:
        delivery = subscription_test_send(subscription=subscription)
    except EventsError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Test event {delivery.event.public_id} sent; its "
                                  "delivery appears in the log below.")
    return redirect("webhook_detail", subscription.pk)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=subscription_id)
    if not confirmed(request):
        return confirm_page(
            request, title=f"Delete the webhook to {subscription.url}?",
            action="Delete webhook",
            cancel_url=reverse("webhook_detail", args=[subscription.pk]), consequences=[
                "Nothing more is sent to it, pending deliveries included.",
                "Its delivery log is deleted with it."])
    subscription_delete(subscription=subscription)
    messages.success(request, "Webhook deleted.")
    return redirect("webhooks")
