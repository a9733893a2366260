from django.apps import AppConfig


class SmppConfig(AppConfig):
    name = "smpp"
    verbose_name = "SMPP"
