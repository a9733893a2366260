"""Team, settings and API key pages for owners and admins, and accepting an invitation.
Destructive actions ask first (``core.confirm``); a new key's secret is shown once, on
the GET that follows its creation (``core.shown_once``)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import error_codes, selectors, services
from accounts.error_codes import TeamError
from accounts.forms import (
    AcceptInvitationForm,
    ApiKeyForm,
    InvitationForm,
    RoleForm,
    TenantSettingsForm,
)
from accounts.models import ApiKey, Invitation, User
from accounts.pages import api_keys_sections
from accounts.permissions import tenant_admin_required
from core.confirm import confirm_page, confirmed
from core.shown_once import shown_once_keep, shown_once_take
from tenants.services import tenant_settings_update

API_KEY_SHOWN_ONCE = "api_key"


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


def _team_page(request: HttpRequest, *, form: InvitationForm | None = None,
               role_errors: dict[int, str] | None = None, status: int = 200) -> HttpResponse:
    invitations = list(selectors.invitation_pending_list())
    for invitation in invitations:
        invitation.link = services.invitation_url(invitation)
    members = list(selectors.member_list())
    for member in members:
        member.role_form = RoleForm(initial={"role": member.role}, prefix=f"m{member.pk}",
                                    owner_choice=request.user.role == "owner")
        member.role_error = (role_errors or {}).get(member.pk, "")
    return render(request, "accounts/team.html", {
        "form": form or InvitationForm(), "members": members, "invitations": invitations,
    }, status=status)


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
            # Not "sent": the worker may not reach a mail server. The table says what it did.
            messages.success(request, f"Invitation for {invitation.email} created. Its email "
                                      "leaves in a moment (its state is below); you can also "
                                      "copy the link and send it yourself.")
            return redirect("team")
    return _team_page(request, form=form, status=400 if request.method == "POST" else 200)


@tenant_admin_required
@require_POST
def member_role(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id, is_active=True)
    form = RoleForm(request.POST, prefix=f"m{member.pk}", owner_choice=True)
    try:
        if not form.is_valid():
            raise TeamError(error_codes.INVALID_ROLE, "Choose owner, admin or agent.", "role")
        services.member_role_change(member=member, role=form.cleaned_data["role"],
                                    actor=request.user)
    except TeamError as exc:
        return _team_page(request, role_errors={member.pk: exc.detail}, status=400)
    messages.success(request, f"{member.email} is now {member.get_role_display().lower()}.")
    if member.pk == request.user.pk and not member.is_tenant_admin:
        return redirect("home")  # the team page is no longer theirs
    return redirect("team")


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id, is_active=True)
    error = ""
    if confirmed(request):
        try:
            services.member_remove(member=member, actor=request.user)
        except TeamError as exc:
            error = exc.detail
        else:
            messages.success(request, f"{member.email} was removed from the team.")
            return redirect("team")
    return confirm_page(
        request, title=f"Remove {member.email} from the team?", action="Remove member",
        cancel_url=reverse("team"), error=error, consequences=[
            "They are signed out and can no longer sign in here.",
            "The conversations assigned to them go back to Unassigned.",
            "Conversations, notes and messages keep their name; invite them again to "
            "bring them back."], status=400 if error else 200)


@tenant_admin_required
@require_POST
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, accepted_at__isnull=True)
    try:
        services.invitation_resend(invitation=invitation, actor=request.user)
    except TeamError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"The invitation for {invitation.email} is being sent "
                                  "again, and its link works for another "
                                  f"{settings.INVITATION_MAX_AGE_DAYS} days.")
    return redirect("team")


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, accepted_at__isnull=True)
    if confirmed(request):
        services.invitation_revoke(invitation=invitation, actor=request.user)
        messages.success(request, f"The invitation for {invitation.email} is revoked: its "
                                  "link no longer works.")
        return redirect("team")
    return confirm_page(
        request, title=f"Revoke the invitation for {invitation.email}?",
        action="Revoke invitation", cancel_url=reverse("team"),
        consequences=["Its link stops working at once, even in an email already received."])


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
            # What is stored cannot give the key back: the next page shows it, once.
            shown_once_keep(request, name=API_KEY_SHOWN_ONCE,
                            payload={"id": api_key.pk, "secret": secret})
            return redirect("api_key_created")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/api_keys.html",
                  {"form": form, "api_keys": selectors.api_key_list(),
                   "sections": api_keys_sections(request)}, status=status)


@tenant_admin_required
@never_cache  # the page holds the key itself
@require_GET  # not HEAD: a HEAD would take the secret and show nothing
def api_key_created(request: HttpRequest) -> HttpResponse:
    created = shown_once_take(request, name=API_KEY_SHOWN_ONCE)
    api_key = ApiKey.objects.filter(pk=created["id"]).first() if created else None
    if api_key is None:
        messages.info(request, "A new key is shown only once, right after it is created. "
                               "If it was not copied, revoke it and create another.")
        return redirect("api_keys")
    return render(request, "accounts/api_key_created.html",
                  {"api_key": api_key, "secret": created["secret"]})


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id)
    if confirmed(request):
        services.api_key_revoke(api_key=api_key)
        messages.success(request, f"Key {api_key.name} ({api_key.prefix}) is revoked: it no "
                                  "longer opens the API.")
        return redirect("api_keys")
    return confirm_page(
        request, title=f"Revoke the API key {api_key.name}?", action="Revoke key",
        cancel_url=reverse("api_keys"), consequences=[
            f"Every call made with sk_{api_key.prefix}_… is refused from now on.",
            "This cannot be undone: a system that still needs access needs a new key."])


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
