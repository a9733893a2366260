"""A campaign's reply actions page (owners and admins): the actions with their code pools,
a form to add one, a CSV upload of codes per action, and deleting one. See
``campaigns.replies``.

Every form works without JavaScript and answers a successful POST with a redirect.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from campaigns.models import Campaign, ReplyAction
from campaigns.replies import (
    DEFAULT_FALLBACK,
    codes_from_csv,
    hands_out_codes,
    reply_action_create,
    reply_action_delete,
    reply_action_list,
    reply_codes_add,
)
from core.errors import DomainError


class ReplyActionForm(forms.Form):
    keyword = forms.CharField(label="Keyword", max_length=30,
                              help_text="What recipients text back, e.g. YES. Case and "
                                        "trailing punctuation do not matter.")
    reply = forms.CharField(
        label="Reply", max_length=1600, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Placeholders: {{ contact.name }}, {{ contact.fields.<name> }}, "
                  "{{ sender }}, and {{ code }} to hand out a code from the pool.")
    fallback_text = forms.CharField(
        label="When the codes run out", max_length=1600, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=f"Sent instead once the pool is empty. Empty: \u201c{DEFAULT_FALLBACK}\u201d")


class CodesForm(forms.Form):
    file = forms.FileField(label="CSV of codes",
                           help_text="One code per row, in the first column; a first row "
                                     "'code' is skipped.")


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign, pk=campaign_id)


def _action(campaign: Campaign, action_id: int) -> ReplyAction:
    return get_object_or_404(ReplyAction, pk=action_id, campaign=campaign)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def reply_actions(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = ReplyActionForm(request.POST or None)
    if form.is_valid():
        try:
            action = reply_action_create(campaign=campaign, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            messages.success(request, f"Recipients who text {action.keyword} within 72 hours "
                                      "now get the reply.")
            return redirect("reply_actions", campaign_id=campaign.pk)
    actions = [(action, hands_out_codes(action.reply)) for action in
               reply_action_list(campaign=campaign)]
    return render(request, "campaigns/reply_actions.html", {
        "campaign": campaign, "form": form, "actions": actions,
        "codes_form": CodesForm(),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_POST
def reply_action_codes(request: HttpRequest, campaign_id: int, action_id: int) -> HttpResponse:
    """Add a CSV of codes to the pool; what was added and dropped is said on the page."""
    campaign = _campaign(campaign_id)
    action = _action(campaign, action_id)
    form = CodesForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file of codes.")
        return redirect("reply_actions", campaign_id=campaign.pk)
    try:
        added = reply_codes_add(action=action,
                                codes=codes_from_csv(form.cleaned_data["file"].read()))
    except DomainError as exc:
        messages.error(request, f"No codes added: {exc.detail}")
    else:
        dropped = ""
        if added.duplicates:
            shown = ", ".join(added.duplicate_codes[:10])
            more = "…" if added.duplicates > 10 else ""
            dropped = (f" {added.duplicates} duplicate{'s' if added.duplicates > 1 else ''} "
                       f"dropped: {shown}{more}.")
        messages.success(request, f"Added {added.added} code{'s' if added.added != 1 else ''} "
                                  f"to {action.keyword}; {added.available} available, "
                                  f"{added.given} given.{dropped}")
    return redirect("reply_actions", campaign_id=campaign.pk)


@tenant_admin_required
@require_POST
def reply_action_remove(request: HttpRequest, campaign_id: int, action_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    action = _action(campaign, action_id)
    reply_action_delete(action=action)
    messages.success(request, f"Deleted the reply to {action.keyword} and its codes.")
    return redirect("reply_actions", campaign_id=campaign.pk)
