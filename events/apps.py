from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Event webhooks"

    def ready(self) -> None:
        # The domains below this app publish through core.domain_events; this app is
        # where their events are stored and delivered.
        from core.domain_events import event_sink_install
        from events.actions import WebhookEventSink

        event_sink_install(WebhookEventSink())
