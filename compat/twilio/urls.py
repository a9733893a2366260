"""The dialect's routes. ``compat.twilio.middleware`` routes requests under these
prefixes here, on the public host and every tenant host; cpaas lists the middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from compat.twilio import views
from compat.twilio.errors import INTERNAL_ERROR, NOT_FOUND, error_response

ACCOUNT = r"(?P<account_sid>AC[0-9a-f]{32})"
SID = r"(?P<sid>[A-Z]{2}[0-9a-f]{32})"

urlpatterns = [
    re_path(rf"^2010-04-01/Accounts/{ACCOUNT}/Messages\.json$", views.messages,
            name="twilio_messages"),
    re_path(rf"^2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}\.json$", views.message,
            name="twilio_message"),
    re_path(rf"^2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers\.json$", views.numbers,
            name="twilio_numbers"),
    re_path(rf"^2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{SID}\.json$",
            views.number, name="twilio_number"),
    path("v1/Services", views.services, name="twilio_services"),
    re_path(rf"^v1/Services/{SID}$", views.service, name="twilio_service"),
    re_path(rf"^v1/Services/{SID}/PhoneNumbers$", views.service_numbers,
            name="twilio_service_numbers"),
    re_path(rf"^v1/Services/{SID}/PhoneNumbers/(?P<number_sid>[A-Z]{{2}}[0-9a-f]{{32}})$",
            views.service_number, name="twilio_service_number"),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(NOT_FOUND, f"The requested resource {request.path} was not found", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(INTERNAL_ERROR, "An internal server error occurred.", 500)


handler404 = not_found
handler500 = server_error
