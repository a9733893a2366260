from django.apps import AppConfig


class CompatPublicConfig(AppConfig):
    """A shared app: its tables live in the public schema only (the tenant-schema half of
    the dialects is the ``compat`` app)."""

    name = "compat.public"
    label = "compat_public"
    verbose_name = "API dialects (public lookups)"
