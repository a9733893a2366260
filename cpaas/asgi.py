"""ASGI entry point, for completeness only: serve the portal with WSGI (DESIGN §2)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")

application = get_asgi_application()
