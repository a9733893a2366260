from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from accounts.services import member_removed_hook_install
        from core.drf_fields import json_types_make_strict
        from messaging import providers  # noqa: F401 - registers the provider kinds
        from messaging.conversations import conversations_unassign_member

        json_types_make_strict()
        member_removed_hook_install(conversations_unassign_member)
