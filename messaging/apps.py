from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from core.drf_fields import json_types_make_strict
        from messaging import providers  # noqa: F401 - registers the provider kinds

        json_types_make_strict()
