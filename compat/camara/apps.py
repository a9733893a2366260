from django.apps import AppConfig


class CamaraConfig(AppConfig):
    name = "compat.camara"
    label = "camara"
    verbose_name = "CAMARA ShortMessageService"

    def ready(self) -> None:
        # Messaging publishes its events through core.domain_events; this dialect records
        # the ones its subscriptions want, in the transaction that made the change.
        from compat.camara.notifications import CamaraEventSink
        from core.domain_events import event_sink_install

        event_sink_install(CamaraEventSink())
