"""Django's admin, for superusers only, at ``/operator/admin/`` on the public host: out of
the operator's way (their console is the ``console`` app), kept for the rare repair.
A tenant's slug and schema never change here either."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from tenants.connections import connection_add
from tenants.forms import connection_form_for, setting_field
from tenants.models import Domain, ProviderConnection, Tenant
from tenants.provider_kinds import provider_kind


def _superuser_only(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = _superuser_only
admin.site.site_header = "SMS portal: Django admin (superusers)"
admin.site.site_title = "Django admin"


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "schema_name", "is_template", "created_at"]
    search_fields = ["slug", "name"]
    # Status and plan change on /operator/tenants/<slug>/status, which audits them.
    readonly_fields = ["slug", "schema_name", "created_at", "status", "status_reason",
                       "monthly_segment_cap", "segments_per_second_cap", "max_senders"]
    inlines = [DomainInline]

    def has_add_permission(self, request) -> bool:
        # Tenants are provisioned by signup or `provision_tenant`, which also create the owner.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting drops the schema with every message in it: not a one-click action.
        return False


# --- Provider connections -------------------------------------------------------------------


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
