from django.apps import AppConfig


class CompatConfig(AppConfig):
    """The dialects' layer; each dialect that keeps data is an app of its own inside it
    (``compat.camara``)."""

    name = "compat"
    verbose_name = "API dialects"
