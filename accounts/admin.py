from django.contrib import admin

from accounts.models import User


@admin.register(User)
class OperatorUserAdmin(admin.ModelAdmin):
    """Operator staff (the admin only runs on the public host, so only public-schema users)."""

    list_display = ["email", "name", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    fields = ["email", "name", "is_active", "is_staff", "is_superuser", "last_login"]
    readonly_fields = ["last_login"]
