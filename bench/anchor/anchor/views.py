"""The anchor's one view: parse a Twilio inbound form and store it with one INSERT ... ON
CONFLICT DO NOTHING (a retried webhook stores nothing twice), as the product's webhook
does before its own work."""

from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_anchor_inbound"


@csrf_exempt
def webhook(request):
    form = request.POST
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{TABLE} (sid, sender, recipient, body) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (sid) DO NOTHING",
            [form["MessageSid"], form["From"], form["To"], form["Body"]],
        )
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                        content_type="text/xml")


def healthz(request):
    return HttpResponse("ok")
