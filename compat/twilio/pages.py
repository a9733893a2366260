"""The Twilio dialect's part of the portal: the Account SID, auth tokens and API keys in a
section of the API keys page (owners and admins), and the forms that change them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.pages import PageSection
from accounts.permissions import tenant_admin_required
from compat.public.models import TwilioApiKey
from compat.twilio.credentials import (
    twilio_account_ensure,
    twilio_api_key_create,
    twilio_api_key_list,
    twilio_api_key_revoke,
    twilio_token_promote,
    twilio_token_rotate,
)
from core.confirm import confirm_page, confirmed
from core.errors import DomainError
from core.shown_once import shown_once_keep, shown_once_take

# The API keys page has its own key form: the prefix keeps the two forms' fields apart.
KEY_FORM_PREFIX = "twilio"
KEY_SHOWN_ONCE = "twilio_api_key"


class TwilioKeyForm(forms.Form):
    name = forms.CharField(label="Name of the Twilio API key",
                           max_length=TwilioApiKey._meta.get_field("name").max_length)


def api_keys_section(request: HttpRequest) -> PageSection:
    """The section of the API keys page (``accounts.pages.api_keys_section_install``)."""
    account = twilio_account_ensure(tenant=request.tenant)
    return PageSection("compat/twilio_credentials.html", {
        "account": account, "keys": twilio_api_key_list(account=account),
        "form": TwilioKeyForm(prefix=KEY_FORM_PREFIX),
        "base_url": request.build_absolute_uri("/").rstrip("/")})


@tenant_admin_required
@require_POST
def token_rotate(request: HttpRequest) -> HttpResponse:
    twilio_token_rotate(account=twilio_account_ensure(tenant=request.tenant))
    messages.success(request, "A secondary auth token is ready: it works beside the primary "
                              "until you promote it.")
    return redirect("api_keys")


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def token_promote(request: HttpRequest) -> HttpResponse:
    if not confirmed(request):
        return confirm_page(
            request, title="Promote the secondary auth token?", action="Promote the token",
            cancel_url=reverse("api_keys"), consequences=[
                "The secondary token becomes the auth token.",
                "The current auth token stops working at once: every system still using "
                "it is refused."])
    try:
        twilio_token_promote(account=twilio_account_ensure(tenant=request.tenant))
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The secondary token is now the auth token; the old one "
                                  "no longer works.")
    return redirect("api_keys")


@tenant_admin_required
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    form = TwilioKeyForm(request.POST, prefix=KEY_FORM_PREFIX)
    account = twilio_account_ensure(tenant=request.tenant)
    if form.is_valid():
        try:
            key, secret = twilio_api_key_create(account=account, name=form.cleaned_data["name"],
                                                created_by_label=request.user.email)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            # Post/Redirect/Get: the next page shows the secret, once.
            shown_once_keep(request, name=KEY_SHOWN_ONCE,
                            payload={"id": key.pk, "secret": secret})
            return redirect("twilio_key_created")
    else:
        messages.error(request, "A Twilio API key needs a name of 1 to 64 characters.")
    return redirect("api_keys")


@tenant_admin_required
@never_cache  # the page holds the key's secret
@require_GET  # not HEAD: a HEAD would take the secret and show nothing
def key_created(request: HttpRequest) -> HttpResponse:
    created = shown_once_take(request, name=KEY_SHOWN_ONCE)
    account = twilio_account_ensure(tenant=request.tenant)
    key = (TwilioApiKey.objects.filter(pk=created["id"], account=account).first()
           if created else None)
    if key is None:
        messages.info(request, "A Twilio API key's secret is shown only once, right after "
                               "the key is created. If it was not copied, revoke the key and "
                               "create another.")
        return redirect("api_keys")
    return render(request, "compat/twilio_key_created.html",
                  {"key": key, "secret": created["secret"], "account": account})


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, twilio_key_id: int) -> HttpResponse:
    key = TwilioApiKey.objects.filter(pk=twilio_key_id,
                                      account__tenant=request.tenant).first()
    if key is None:
        raise Http404("No such key.")
    if not confirmed(request):
        return confirm_page(
            request, title=f"Revoke the Twilio API key {key.name}?", action="Revoke key",
            cancel_url=reverse("api_keys"), consequences=[
                f"Every call authenticated as {key.sid} is refused from now on.",
                "The Account SID, the auth token and the other keys keep working."])
    twilio_api_key_revoke(key=key)
    messages.success(request, f"Twilio API key {key.name} ({key.sid}) is revoked.")
    return redirect("api_keys")
