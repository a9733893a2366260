from django.contrib import admin

from tenants.models import Domain, Tenant


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "schema_name", "is_template", "created_at"]
    search_fields = ["slug", "name"]
    readonly_fields = ["schema_name", "created_at"]
    inlines = [DomainInline]

    def has_add_permission(self, request) -> bool:
        # Tenants are provisioned by signup or `provision_tenant`, which also create the owner.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting drops the schema with every message in it: not a one-click action.
        return False
