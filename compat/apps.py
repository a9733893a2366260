from django.apps import AppConfig


class CompatConfig(AppConfig):
    """The dialects' tenant-schema half (their public lookups are ``compat.public``)."""

    name = "compat"
    verbose_name = "API dialects"

    def ready(self) -> None:
        # The Twilio dialect reaches into the apps below it through their extension
        # points: a step of the automatic reactions (SmsUrl), a sink of the domain events
        # (StatusCallback on each status change), a source of inbox notices, a section of
        # the API keys page.
        from accounts.pages import api_keys_section_install
        from compat.twilio.callbacks import StatusCallbackSink
        from compat.twilio.pages import api_keys_section
        from compat.twilio.webhooks import sms_app_step, sms_webhook_notices
        from core.domain_events import event_sink_install
        from messaging.automation import APP_STEP_ORDER, inbound_step_register
        from messaging.selectors import thread_source_install

        inbound_step_register(order=APP_STEP_ORDER, name="twilio:sms_url", run=sms_app_step)
        event_sink_install(StatusCallbackSink())
        thread_source_install(sms_webhook_notices)
        api_keys_section_install(api_keys_section)
