from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import AcceptInvitationForm, ApiKeyForm, InvitationForm, TenantSettingsForm
from accounts.models import ApiKey
from accounts.pages import api_keys_sections
from accounts.permissions import tenant_admin_required
from tenants.services import tenant_settings_update


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(invited_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("team")
    context = {
        "form": form,
        "members": selectors.member_list(),
        "invitations": selectors.invitation_pending_list(),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/team.html", context, status=status)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def tenant_settings(request: HttpRequest) -> HttpResponse:
    """The business's name and timezone, for owners and admins."""
    tenant = request.tenant
    form = TenantSettingsForm(request.POST or None,
                              initial={"name": tenant.name, "timezone": tenant.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            tenant_settings_update(tenant=tenant, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("tenant_settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/tenant_settings.html", {"form": form}, status=status)


@tenant_admin_required
@never_cache  # the answer to a create holds the key itself
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api_key, secret = services.api_key_create(created_by=request.user,
                                                      **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            # Shown on this answer only: what is stored cannot give the key back.
            return render(request, "accounts/api_key_created.html",
                          {"api_key": api_key, "secret": secret})
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/api_keys.html",
                  {"form": form, "api_keys": selectors.api_key_list(),
                   "sections": api_keys_sections(request)}, status=status)


@tenant_admin_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id)
    services.api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.name} ({api_key.prefix}) is revoked: it no "
                              "longer opens the API.")
    return redirect("api_keys")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, invitation_id: int, token: str) -> HttpResponse:
    invitation = services.invitation_get_usable(invitation_id=invitation_id, token=token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(invitation=invitation, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation},
        status=status,
    )
