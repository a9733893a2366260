"""The operator console: Django admin at ``/operator/`` on the public host.

Besides the public models it offers the review of tenants' senders, which live in the
tenants' schemas and so are not admin models: ``sender_review_view``, routed at
``/operator/senders/`` by ``cpaas/urls_public.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.views.decorators.http import require_http_methods
from django_tenants.utils import get_public_schema_name, schema_context

from core.errors import DomainError
from core.numbers import small_int
from messaging.models import Sender
from messaging.senders import sender_review
from tenants.connections import (
    NAME_PATTERN,
    connection_add,
    settings_problems,
)
from tenants.models import Domain, ProviderConnection, Tenant, mask_secret
from tenants.provider_kinds import provider_kind

admin.site.index_template = "admin/operator_index.html"


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "schema_name", "is_template", "created_at"]
    search_fields = ["slug", "name"]
    # Status and plan change on /operator/tenants/<slug>/status, which audits them.
    readonly_fields = ["schema_name", "created_at", "status", "status_reason",
                       "monthly_segment_cap", "segments_per_second_cap", "max_senders"]
    inlines = [DomainInline]

    def has_add_permission(self, request) -> bool:
        # Tenants are provisioned by signup or `provision_tenant`, which also create the owner.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting drops the schema with every message in it: not a one-click action.
        return False


# --- Provider connections -------------------------------------------------------------------


def setting_field(key: str) -> str:
    return f"setting_{key}"


class ProviderConnectionForm(forms.ModelForm):
    """Name, kind and state as model fields; settings as one field per key of the kind.

    Secrets are write-only: their inputs start blank and a blank secret keeps the stored
    value, so the page never carries a credential back to the browser.
    """

    setting_keys: tuple[str, ...] = ()

    class Meta:
        model = ProviderConnection
        fields = ["name", "kind", "is_active"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not NAME_PATTERN.match(name or ""):
            raise forms.ValidationError(
                "Use 1-50 lowercase letters, digits, hyphens and underscores (it appears in "
                "the webhook URLs).")
        return name

    def clean(self) -> dict:
        cleaned = super().clean()
        kind = self.instance.kind if self.instance.pk else cleaned.get("kind")
        declared = provider_kind(kind or "")
        if declared is None:
            return cleaned
        settings = dict(self.instance.settings) if self.instance.pk else {}
        for key in self.setting_keys:
            value = cleaned.get(setting_field(key)) or ""
            if value:
                settings[key] = value
            elif key not in declared.secrets:
                settings.pop(key, None)  # a cleared plain setting is removed
        for key, message in settings_problems(kind, settings):
            field = setting_field(key) if key in self.setting_keys else None
            self.add_error(field, message)
        self.new_settings = settings
        return cleaned


def connection_form_for(kind: str | None, instance: ProviderConnection | None):
    """A form class with one field per setting of ``kind`` (none while it is unknown)."""
    declared = provider_kind(kind or "")
    keys = tuple(sorted(declared.keys)) if declared else ()
    current = instance.settings if instance is not None else {}
    attrs: dict = {"setting_keys": keys}
    for key in keys:
        if key in declared.secrets:
            help_text = ("Secret. Leave blank to keep the current value "
                         f"({mask_secret(str(current[key]))})." if key in current
                         else "Secret; shown masked once saved.")
            attrs[setting_field(key)] = forms.CharField(
                label=key, required=False, strip=False, help_text=help_text,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            )
        else:
            default = declared.default(key)
            attrs[setting_field(key)] = forms.CharField(
                label=key, required=False, initial=current.get(key, ""),
                help_text=" ".join(filter(None, [
                    "Leave blank to remove it." if key in current else "",
                    f"Default: {default}." if default else ""])),
            )
    return type(f"{(kind or 'Any').title()}ConnectionForm", (ProviderConnectionForm,), attrs)


@admin.register(ProviderConnection)
class ProviderConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]

    def _kind(self, request: HttpRequest, obj: ProviderConnection | None) -> str | None:
        if obj is not None:
            return obj.kind
        kind = request.POST.get("kind") or request.GET.get("kind")
        return kind if provider_kind(kind or "") is not None else None

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = connection_form_for(self._kind(request, obj), obj)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The name is in webhook URLs and senders refer to it; the kind decides the settings.
        return ["name", "kind", "created_at", "current_settings"] if obj is not None else []

    def get_fieldsets(self, request, obj=None):
        kind = self._kind(request, obj)
        declared = provider_kind(kind or "")
        keys = sorted(declared.keys) if declared else []
        setting_fields = [setting_field(key) for key in keys]
        if obj is None:
            description = ("Choose the kind and save: its settings appear (or open this page "
                           "with ?kind=twilio, vonage, http or smpp)." if kind is None else "")
            return [(None, {"fields": ["name", "kind", "is_active"], "description": description}),
                    ("Settings", {"fields": setting_fields})]
        return [
            (None, {"fields": ["name", "kind", "is_active", "created_at"]}),
            ("Settings", {
                "fields": ["current_settings", *setting_fields],
                "description": "Secrets are shown masked and never sent back to the browser: "
                               "type a new value to replace one, leave it blank to keep it.",
            }),
        ]

    @admin.display(description="Current settings")
    def current_settings(self, obj: ProviderConnection) -> str:
        masked = obj.masked_settings()
        if not masked:
            declared = provider_kind(obj.kind)
            return "None." if declared and declared.keys else "None: this kind has none."
        return format_html_join("", "<div><code>{}</code>: {}</div>", masked.items())

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.settings = form.new_settings
            obj.save()
            return
        # New connections go through the same service as `add_provider_connection`.
        created = connection_add(name=obj.name, kind=obj.kind, settings=form.new_settings)
        if not obj.is_active:
            created.is_active = False
            created.save(update_fields=["is_active"])
        obj.pk, obj.created_at, obj.settings = created.pk, created.created_at, created.settings
        obj._state.adding, obj._state.db = False, created._state.db

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.name == ProviderConnection.SIMULATOR_NAME:
            return False  # a connection named simulator always exists
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # The bulk delete would not ask has_delete_permission per row (the simulator).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


# --- Sender review --------------------------------------------------------------------------

REVIEW_PERMISSION = "tenants.change_senderroute"
STATUS_ORDER = {Sender.Status.PENDING: 0, Sender.Status.APPROVED: 1,
                Sender.Status.SUSPENDED: 2, Sender.Status.REJECTED: 3}


@dataclass(frozen=True)
class TenantSender:
    tenant: Tenant
    sender: Sender


def tenant_sender_list(*, status: str | None = None) -> list[TenantSender]:
    """Every customer tenant's senders, pending first (one query per tenant: fine while
    tenants number in the hundreds)."""
    rows = []
    tenants = Tenant.objects.filter(is_template=False).exclude(
        schema_name=get_public_schema_name())
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            senders = Sender.objects.all()
            if status:
                senders = senders.filter(status=status)
            rows += [TenantSender(tenant, sender) for sender in senders]
    rows.sort(key=lambda row: (STATUS_ORDER.get(row.sender.status, 9), row.tenant.slug,
                               row.sender.address))
    return rows


@require_http_methods(["GET", "POST"])
def sender_review_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("Reviewing senders needs the permission to change sender routes.")
    status = request.GET.get("status")
    status = status if status in Sender.Status.values else None
    if request.method == "POST":
        _sender_review_post(request)
        url = reverse("sender_review")
        return redirect(f"{url}?{urlencode({'status': status})}" if status else url)
    context = {
        **admin.site.each_context(request),
        "title": "Review senders",
        "rows": tenant_sender_list(status=status),
        "status": status,
        "statuses": Sender.Status.values,
    }
    return TemplateResponse(request, "admin/sender_review.html", context)


def _sender_review_post(request: HttpRequest) -> None:
    decision = request.POST.get("decision")
    address = request.POST.get("address", "")
    reason = request.POST.get("reason", "").strip()
    tenant_id = small_int(request.POST.get("tenant"))
    tenant = (Tenant.objects.filter(pk=tenant_id, is_template=False)
              .exclude(schema_name=get_public_schema_name()).first()
              if tenant_id is not None else None)
    if tenant is None or decision not in ("approve", "reject", "suspend"):
        messages.error(request, "Choose a tenant's sender and a decision.")
        return
    if decision == "reject" and not reason:
        messages.error(request, f"Give a reason to reject {address}; nothing was changed.")
        return
    try:
        sender = sender_review(tenant=tenant, address=address, decision=decision,
                               reason="" if decision == "approve" else reason)
    except DomainError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    except ProviderConnection.DoesNotExist:
        messages.error(request, f"{address} names a connection that no longer exists.")
    else:
        messages.success(request, f"{tenant.slug}: {sender.address} is now {sender.status}.")
