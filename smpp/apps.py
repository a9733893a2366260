from django.apps import AppConfig


class SmppConfig(AppConfig):
    name = "smpp"
    verbose_name = "SMPP"

    def ready(self) -> None:
        # The smpp kind sits above messaging, whose backend registry it joins.
        from messaging.providers import backend_register
        from smpp.backend import SmppBackend

        backend_register(SmppBackend)
