"""ASGI entry point, for completeness only: serve the portal with WSGI
(docs/ARCHITECTURE.md#measured-constraints)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")

application = get_asgi_application()
