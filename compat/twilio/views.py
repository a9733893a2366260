"""The dialect's endpoints: thin views that read Twilio's parameters, call the services
and answer Twilio's resources. Routed by ``compat.twilio.urls`` on every host
(``compat.twilio.middleware``)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict

from compat.twilio.credentials import Principal
from compat.twilio.errors import BAD_REQUEST, NOT_FOUND, TwilioError
from compat.twilio.http import (
    form_params,
    not_found_error,
    resource_response,
    twilio_endpoint,
)
from compat.twilio.messages import (
    MessageFilters,
    SendRequest,
    message_get,
    message_page,
    service_get,
    twilio_message_create,
    twilio_message_delete,
    twilio_message_list,
    twilio_message_update,
)
from compat.twilio.messaging_services import (
    service_create,
    service_delete,
    service_list,
    service_sender_add,
    service_sender_remove,
    service_update,
)
from compat.twilio.numbers import number_get, number_list, number_settings, number_update
from compat.twilio.resources import (
    message_resource,
    number_resource,
    service_number_resource,
    service_resource,
)
from core.numbers import small_int

# List filters that the paging links keep, in the order Twilio writes them.
MESSAGE_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")


def _changes(params: QueryDict) -> dict[str, str]:
    return {name: params.get(name, "") for name in params}


def _list_uri(path: str, params: QueryDict, kept: tuple[str, ...], **paging: object) -> str:
    query = [(name, params[name]) for name in kept if params.get(name)]
    query += [(name, str(value)) for name, value in paging.items() if value is not None]
    return f"{path}?{urlencode(query)}"


def _envelope(key: str, items: list[dict], *, request: HttpRequest, params: QueryDict,
              kept: tuple[str, ...], number: int, size: int, start: int,
              next_token: str | None = None, previous_token: str | None = None,
              has_next: bool, has_previous: bool) -> dict:
    """Twilio's 2010-04-01 page: the records under ``key`` and only Twilio's paging keys
    (the official clients take the one other key as the records), with relative links
    that keep the filters and the page size."""
    path = request.path
    return {
        key: items,
        "end": start + len(items) - 1 if items else start,
        "first_page_uri": _list_uri(path, params, kept, PageSize=size, Page=0),
        "next_page_uri": _list_uri(path, params, kept, PageSize=size, Page=number + 1,
                                   PageToken=next_token) if has_next else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": _list_uri(path, params, kept, PageSize=size,
                                       Page=max(number - 1, 0), PageToken=previous_token)
        if has_previous else None,
        "start": start,
        "uri": request.get_full_path(),
    }


# --- Messages ------------------------------------------------------------------------------


@twilio_endpoint("GET", "POST")
def messages(request: HttpRequest, principal: Principal) -> HttpResponse:
    params = form_params(request)
    account_sid = principal.account.sid
    if request.method == "POST":
        message = twilio_message_create(principal=principal, request=SendRequest(
            to=params.get("To", ""), from_=params.get("From", ""),
            service_sid=params.get("MessagingServiceSid", ""), body=params.get("Body"),
            status_callback=params.get("StatusCallback", ""),
            has_media=bool(params.getlist("MediaUrl")),
            schedule_type=params.get("ScheduleType", ""), send_at=params.get("SendAt", "")))
        return resource_response(message_resource(message, account_sid=account_sid), 201)
    rows = twilio_message_list(filters=MessageFilters(
        to=params.get("To", ""), from_=params.get("From", ""),
        date_sent=params.get("DateSent", ""), date_sent_before=params.get("DateSent<", ""),
        date_sent_after=params.get("DateSent>", "")))
    page = message_page(rows, account_sid=account_sid, page_size=params.get("PageSize", ""),
                        page=params.get("Page", ""), page_token=params.get("PageToken", ""))
    return resource_response(_envelope(
        "messages", [message_resource(m, account_sid=account_sid) for m in page.messages],
        request=request, params=params, kept=MESSAGE_FILTERS, number=page.number,
        size=page.size, start=page.start, next_token=page.next_token,
        previous_token=page.previous_token, has_next=page.next_token is not None,
        has_previous=page.previous_token is not None))


@twilio_endpoint("GET", "POST", "DELETE")
def message(request: HttpRequest, principal: Principal, sid: str) -> HttpResponse:
    account_sid = principal.account.sid
    found = message_get(sid, account_sid=account_sid)
    if found is None:
        raise not_found_error(request)
    if request.method == "DELETE":
        twilio_message_delete(message=found)
        return HttpResponse(status=204)
    if request.method == "POST":
        params = form_params(request)
        found = twilio_message_update(message=found, body=params.get("Body"),
                                      status=params.get("Status"))
    return resource_response(message_resource(found, account_sid=account_sid))


# --- IncomingPhoneNumbers -------------------------------------------------------------------


def _offset_page(rows: QuerySet, params: QueryDict) -> tuple[list, int, int, bool]:
    """A page of a short list (numbers, services) by position: its rows, number, size,
    and whether a next page exists."""
    size, number = small_int(params.get("PageSize", "50")), small_int(params.get("Page", "0"))
    if size is None or not 1 <= size <= 1000 or number is None:
        raise TwilioError(BAD_REQUEST, "PageSize must be 1 to 1000 and Page a whole number.")
    found = list(rows[number * size:(number + 1) * size + 1])
    return found[:size], number, size, len(found) > size


@twilio_endpoint("GET", "POST")
def numbers(request: HttpRequest, principal: Principal) -> HttpResponse:
    params = form_params(request)
    if request.method == "POST":
        raise TwilioError(BAD_REQUEST, "Numbers are not bought through this API: register "
                                       "a sender in the portal; once approved it is listed "
                                       "here.")
    account_sid = principal.account.sid
    rows, number, size, has_next = _offset_page(
        number_list(phone_number=params.get("PhoneNumber", ""),
                    friendly_name=params.get("FriendlyName", "")), params)
    return resource_response(_envelope(
        "incoming_phone_numbers",
        [number_resource(s, number_settings(s), account_sid=account_sid) for s in rows],
        request=request, params=params, kept=("PhoneNumber", "FriendlyName"), number=number,
        size=size, start=number * size, has_next=has_next, has_previous=number > 0))


@twilio_endpoint("GET", "POST")
def number(request: HttpRequest, principal: Principal, sid: str) -> HttpResponse:
    account_sid = principal.account.sid
    sender = number_get(sid, account_sid=account_sid)
    if sender is None:
        raise not_found_error(request)
    webhooks = number_settings(sender)
    if request.method == "POST":
        webhooks = number_update(sender=sender, changes=_changes(form_params(request)))
    return resource_response(number_resource(sender, webhooks, account_sid=account_sid))


# --- Messaging Services (v1) ----------------------------------------------------------------


def _base_url(request: HttpRequest) -> str:
    """v1 links are absolute: on the host the client called, which serves them too."""
    return request.build_absolute_uri("/").rstrip("/")


def _meta_page(key: str, items: list[dict], *, request: HttpRequest, number: int, size: int,
               has_next: bool) -> dict:
    """Twilio's v1 page: the records under ``key`` and a ``meta`` object with absolute
    links."""
    base = _base_url(request) + request.path

    def link(page: int) -> str:
        return f"{base}?{urlencode({'PageSize': size, 'Page': page})}"

    return {key: items, "meta": {
        "first_page_url": link(0), "key": key,
        "next_page_url": link(number + 1) if has_next else None, "page": number,
        "page_size": size, "previous_page_url": link(number - 1) if number > 0 else None,
        "url": link(number)}}


def _service(request: HttpRequest, sid: str):
    service = service_get(sid)
    if service is None:
        raise not_found_error(request)
    return service


@twilio_endpoint("GET", "POST", account_in_path=False)
def services(request: HttpRequest, principal: Principal) -> HttpResponse:
    params = form_params(request)
    account_sid, base = principal.account.sid, _base_url(request)
    if request.method == "POST":
        service = service_create(changes=_changes(params))
        return resource_response(service_resource(service, account_sid=account_sid,
                                                  base_url=base), 201)
    rows, number, size, has_next = _offset_page(service_list(), params)
    return resource_response(_meta_page(
        "services", [service_resource(s, account_sid=account_sid, base_url=base) for s in rows],
        request=request, number=number, size=size, has_next=has_next))


@twilio_endpoint("GET", "POST", "DELETE", account_in_path=False)
def service(request: HttpRequest, principal: Principal, sid: str) -> HttpResponse:
    found = _service(request, sid)
    if request.method == "DELETE":
        service_delete(service=found)
        return HttpResponse(status=204)
    if request.method == "POST":
        found = service_update(service=found, changes=_changes(form_params(request)))
    return resource_response(service_resource(found, account_sid=principal.account.sid,
                                              base_url=_base_url(request)))


@twilio_endpoint("GET", "POST", account_in_path=False)
def service_numbers(request: HttpRequest, principal: Principal, sid: str) -> HttpResponse:
    found = _service(request, sid)
    params = form_params(request)
    account_sid, base = principal.account.sid, _base_url(request)
    if request.method == "POST":
        sender = number_get(params.get("PhoneNumberSid", ""), account_sid=account_sid)
        if sender is None:
            raise TwilioError(NOT_FOUND, "PhoneNumberSid is not an approved phone number of "
                                         "this account.", status=404)
        service_sender_add(service=found, sender=sender)
        return resource_response(service_number_resource(found, sender, account_sid=account_sid,
                                                         base_url=base), 201)
    rows, number, size, has_next = _offset_page(found.senders.order_by("pk"), params)
    return resource_response(_meta_page(
        "phone_numbers", [service_number_resource(found, s, account_sid=account_sid,
                                                  base_url=base) for s in rows],
        request=request, number=number, size=size, has_next=has_next))


@twilio_endpoint("GET", "DELETE", account_in_path=False)
def service_number(request: HttpRequest, principal: Principal, sid: str,
                   number_sid: str) -> HttpResponse:
    found = _service(request, sid)
    account_sid = principal.account.sid
    sender = number_get(number_sid, account_sid=account_sid)
    if sender is None or not found.senders.filter(pk=sender.pk).exists():
        raise not_found_error(request)
    if request.method == "DELETE":
        service_sender_remove(service=found, sender=sender)
        return HttpResponse(status=204)
    return resource_response(service_number_resource(found, sender, account_sid=account_sid,
                                                     base_url=_base_url(request)))
