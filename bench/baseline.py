"""The baseline the ingest figure is compared with (issue: "a bare Django view that does one
INSERT under the same server settings"): Django, the same database settings and gunicorn
workers, no middleware, a view that parses the Twilio form and INSERTs one row.

Served by `make bench` as ``gunicorn bench.baseline:application``.
"""

from __future__ import annotations

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "cpaas.settings"

from django.conf import settings

settings.MIDDLEWARE = []
settings.ROOT_URLCONF = __name__
# Only what the view needs: allauth, for one, insists on its middleware.
settings.INSTALLED_APPS = ["django.contrib.contenttypes"]

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

TABLE = "bench_baseline_inbound"


@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    form = request.POST
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{TABLE} (sid, sender, recipient, body) "  # noqa: S608
            "VALUES (%s, %s, %s, %s)",
            [form["MessageSid"], form["From"], form["To"], form["Body"]],
        )
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                        content_type="text/xml")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("webhook", webhook), path("healthz", healthz)]
application = get_wsgi_application()
