"""Campaign pages (owners and admins): the campaigns, a draft's form and preview, and a
campaign's progress, counts and charts (polled as JSON while it runs), its recipients and
their CSV. Times are shown and entered in the tenant's time zone; every form answers a
successful POST with a redirect.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from campaigns.audience import campaign_preview
from campaigns.models import Campaign, SubscriberList, default_quiet_hours
from campaigns.selectors import (
    campaign_list,
    campaign_recipients,
    campaign_recipients_csv,
    campaign_stats,
    campaign_timeline,
)
from campaigns.sending import (
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaign_update,
)
from core.errors import DomainError
from messaging.models import Message, Sender

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class CampaignForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    sender = forms.ChoiceField(label="Sender")
    body = forms.CharField(
        label="Message", max_length=5000, strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "data-sms-counter": ""}),
        help_text='Personalise with {{ contact.name | default: "there" }}, '
                  "{{ contact.fields.city }}, {{ sender }}. Sent exactly as written: say "
                  "who you are and how to stop.")
    lists = forms.MultipleChoiceField(label="Lists", required=False,
                                      widget=forms.CheckboxSelectMultiple,
                                      help_text="Their subscribed members.")
    tags = forms.CharField(label="Tags", required=False, max_length=500,
                           help_text="Contacts with any of these tags, separated by commas. "
                                     "Each number gets one message; opted-out numbers none.")
    send_at = forms.DateTimeField(
        label="Send at", required=False, input_formats=[LOCAL_FORMAT],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT),
        help_text="In your time zone; empty: when you start it.")
    expires_at = forms.DateTimeField(
        label="Expires at", required=False, input_formats=[LOCAL_FORMAT],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT),
        help_text="Messages still waiting then are canceled. Optional.")
    quiet_hours = forms.BooleanField(label="Only text people between these hours, their "
                                           "local time", required=False, initial=True)
    quiet_start = forms.TimeField(label="From", initial="08:00",
                                  widget=forms.TimeInput(attrs={"type": "time"},
                                                         format="%H:%M"))
    quiet_end = forms.TimeField(label="Until", initial="21:00",
                                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    frequency_cap_hours = forms.IntegerField(
        label="Skip anyone texted in the last (hours)", required=False, min_value=1,
        max_value=8760, help_text="Empty: no cap.")
    track_links = forms.BooleanField(label="Track links (short links that count clicks)",
                                     required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].choices = [
            (s.address, s.address) for s in
            Sender.objects.filter(status=Sender.Status.APPROVED).order_by("id")]
        self.fields["lists"].choices = [(str(pk), name) for pk, name in
                                        SubscriberList.objects.order_by("name")
                                        .values_list("pk", "name")]

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "sender": data["sender"], "body": data["body"],
            "audience": {"lists": [int(pk) for pk in data["lists"]],
                         "tags": [tag.strip() for tag in data["tags"].split(",")
                                  if tag.strip()]},
            "send_at": data["send_at"], "expires_at": data["expires_at"],
            "quiet_hours": ({"start": data["quiet_start"].strftime("%H:%M"),
                             "end": data["quiet_end"].strftime("%H:%M")}
                            if data["quiet_hours"] else None),
            "frequency_cap_hours": data["frequency_cap_hours"],
            "track_links": data["track_links"],
        }


def _initial(campaign: Campaign) -> dict:
    quiet = campaign.quiet_hours or default_quiet_hours()
    return {"name": campaign.name, "sender": campaign.sender.address, "body": campaign.body,
            "lists": [str(pk) for pk in campaign.audience.get("lists", [])],
            "tags": ", ".join(campaign.audience.get("tags", [])),
            "send_at": campaign.send_at, "expires_at": campaign.expires_at,
            "quiet_hours": campaign.quiet_hours is not None, "quiet_start": quiet["start"],
            "quiet_end": quiet["end"], "frequency_cap_hours": campaign.frequency_cap_hours,
            "track_links": campaign.track_links}


def _form_error(form: forms.Form, exc: DomainError) -> None:
    field = {"audience": "tags", "quiet_hours": "quiet_start"}.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.detail)


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(campaign_list(), pk=campaign_id)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def campaigns(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list(), 25).get_page(request.GET.get("page"))
    rows = [(campaign, campaign_stats(campaign=campaign)) for campaign in page]
    return render(request, "campaigns/campaigns.html", {"page": page, "rows": rows})


def _edit(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    with timezone.override(request.tenant.zone):
        form = CampaignForm(request.POST or None,
                            initial=_initial(campaign) if campaign else {})
        if form.is_valid():
            try:
                if campaign is None:
                    campaign = campaign_create(**form.values(), actor=request.user)
                else:
                    campaign = campaign_update(campaign_id=campaign.pk, **form.values())
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Saved the draft {campaign.name}.")
                return redirect("campaign_preview", campaign_id=campaign.pk)
        return render(request, "campaigns/campaign_edit.html", {
            "form": form, "campaign": campaign, "zone": request.tenant.zone,
        }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        messages.error(request, "Only a draft can be changed.")
        return redirect("campaign_detail", campaign_id=campaign.pk)
    return _edit(request, campaign)


@tenant_admin_required
@require_GET
def campaign_preview_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    preview = campaign_preview(campaign=campaign, samples=10)
    with timezone.override(request.tenant.zone):
        return render(request, "campaigns/campaign_preview.html", {
            "campaign": campaign, "preview": preview, "zone": request.tenant.zone,
            "skipped": [(SKIP_LABELS.get(reason, reason), count)
                        for reason, count in preview.skipped.items()],
        })


def _progress(campaign: Campaign) -> dict:
    """What the detail page shows and polls."""
    stats = campaign_stats(campaign=campaign)
    left = stats["queued"] + stats["waiting_quiet_hours"]
    done = stats["recipients"] - left
    # JsonResponse writes datetimes as ISO 8601.
    return {"status": campaign.status, "status_label": campaign.get_status_display(),
            "preparing": campaign.status == Campaign.Status.SENDING
            and campaign.audience_done_at is None,
            "stats": stats, "left": stats["sent"] + stats["delivered"] + stats["undelivered"],
            "percent": round(100 * done / stats["recipients"]) if stats["recipients"] else 0,
            "timeline": campaign_timeline(campaign=campaign)}


FIGURES = (("recipients", "Recipients"), ("queued", "Waiting to leave"),
           ("waiting_quiet_hours", "Waiting for quiet hours"), ("sent", "Sent"),
           ("delivered", "Delivered"), ("failed", "Failed"), ("undelivered", "Undelivered"),
           ("canceled", "Canceled"), ("replies", "Replies"), ("opt_outs", "Opt-outs"),
           ("clicks", "Clicks"))
SKIP_LABELS = {"opted_out": "opted out", "body_too_long": "too long",
               "frequency_cap": "texted recently", "quota_exceeded": "over quota",
               "empty_body": "empty"}


@tenant_admin_required
@require_GET
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    progress = _progress(campaign)
    stats, timeline = progress["stats"], progress["timeline"]
    with timezone.override(request.tenant.zone):
        return render(request, "campaigns/campaign_detail.html", {
            "campaign": campaign, "progress": progress, "stats": stats,
            "figures": [(key, label, stats[key]) for key, label in FIGURES],
            "left": progress["left"],
            "timeline_rows": list(zip(timeline["hours"], timeline["replies"],
                                      timeline["opt_outs"], timeline["clicks"],
                                      strict=True)),
            "audience_lists": SubscriberList.objects.filter(
                pk__in=campaign.audience.get("lists", [])).order_by("name"),
            "zone": request.tenant.zone,
            "running": campaign.status in (Campaign.Status.SCHEDULED,
                                           Campaign.Status.SENDING, Campaign.Status.PAUSED),
        })


@tenant_admin_required
@require_GET
def campaign_progress(request: HttpRequest, campaign_id: int) -> JsonResponse:
    """Polled every 1.5 s by the detail page while the campaign runs."""
    return JsonResponse(_progress(_campaign(campaign_id)))


def _action(request: HttpRequest, campaign_id: int, action, done: str) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        action(campaign_id=campaign.pk)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)
    return redirect("campaign_detail", campaign_id=campaign.pk)


@tenant_admin_required
@require_POST
def campaign_start_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _action(request, campaign_id, campaign_start, "Started.")


@tenant_admin_required
@require_POST
def campaign_pause_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _action(request, campaign_id, campaign_pause,
                   "Paused: nothing more is sent until you resume.")


@tenant_admin_required
@require_POST
def campaign_resume_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _action(request, campaign_id, campaign_resume, "Resumed.")


@tenant_admin_required
@require_POST
def campaign_cancel_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _action(request, campaign_id, campaign_cancel,
                   "Canceled: messages that had not left will not be sent.")


@tenant_admin_required
@require_POST
def campaign_delete_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        campaign_delete(campaign_id=campaign.pk)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("campaign_detail", campaign_id=campaign.pk)
    messages.success(request, f"Deleted the draft {campaign.name}.")
    return redirect("campaigns")


@tenant_admin_required
@require_GET
def campaign_recipients_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    status = request.GET.get("status", "")
    status = status if status in Message.Status.values else ""
    query = request.GET.get("q", "").strip()[:100]
    recipients = campaign_recipients(campaign=campaign, status=status or None,
                                     search=query or None)
    with timezone.override(request.tenant.zone):
        return render(request, "campaigns/campaign_recipients.html", {
            "campaign": campaign, "status": status, "query": query,
            "statuses": [(value, label) for value, label in Message.Status.choices
                         if value not in ("received", "processed")],
            "page": Paginator(recipients, 50).get_page(request.GET.get("page")),
        })


@tenant_admin_required
@require_GET
def campaign_export(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = _campaign(campaign_id)
    response = StreamingHttpResponse(campaign_recipients_csv(campaign=campaign),
                                     content_type="text/csv")
    response["Content-Disposition"] = (f'attachment; filename="campaign-{campaign.pk}'
                                       '-recipients.csv"')
    return response
