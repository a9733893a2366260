"""Helpers of the tests generated from the live OpenAPI schemas and the URL configuration
(test_isolation_matrix, test_method_matrix): one object of every kind, the operations (of
/api/v1 and of the CAMARA dialect, which has its own document and error envelope), and
paths filled with real ids or ids that exist nowhere."""

from __future__ import annotations

import json
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from compat.camara import urls as camara_urls
from messaging.senders import sender_review
from tenants.models import Tenant
from tests.support.messaging import CUSTOMER, SIM_NUMBER, Api, key_for

NEVER = 987654321
OPTED_OUT = "+14155550188"


def seed(tenant: Tenant) -> dict[str, object]:
    """One object of every kind in the tenant, made through its API; their ids by path
    word."""
    api = Api(tenant, key_for(tenant))

    def post(path: str, body: dict) -> dict:
        response = api.post(path, body)
        assert response.status_code in (200, 201, 202), (path, response.content)
        return response.json()

    post("senders", {"address": SIM_NUMBER, "kind": "long_code", "connection": "simulator"})
    sender_review(tenant=tenant, address=SIM_NUMBER, decision="approve")
    post("simulator/inbound", {"from": CUSTOMER, "to": SIM_NUMBER, "body": "Hi"})
    message = post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Hello"})
    survey = post("surveys", {"name": "Visit", "questions": [
        {"kind": "yes_no", "text": "Happy?"}]})
    with schema_context(tenant.schema_name):
        key_id = api_key_create(name="spare")[0].pk
    canned = post("canned-responses", {"shortcode": "thanks", "body": "Thanks!"})
    post("optouts", {"phone": OPTED_OUT, "reason": "asked"})
    contact = post("contacts", {"phone": "+14155550177", "name": "Ann"})
    camara = api.client.post(
        "/sms-delivery-notification-subscriptions/v0alpha1/subscriptions", json.dumps({
            "subscriptionDetail": {"senderId": SIM_NUMBER,
                                   "type": "org.camaraproject.sms.v0.sms-received"},
            "webhook": {"notificationUrl": "http://127.0.0.1:9/camara"}}),
        content_type="application/json", **api.headers)
    assert camara.status_code == 201, camara.content
    return {
        "messages": message["id"], "conversations": message["conversation"],
        "contacts": contact["id"], "surveys": survey["id"], "canned-responses": canned["id"],
        "keyword-rules": post("keyword-rules", {"keyword": "hours", "reply": "9-5"})["id"],
        "forwarding-endpoints": post("forwarding-endpoints", {
            "name": "Orders", "url": "http://127.0.0.1:9/orders"})["id"],
        "webhooks": post("webhooks", {"url": "http://127.0.0.1:9/events",
                                      "events": ["message.received"]})["id"],
        "imports": api.client.post(
            "/api/v1/optouts/imports", {"file": _csv()}, **api.headers).json()["id"],
        "phone": OPTED_OUT, "key": key_id, "subscriptions": camara.json()["subscriptionId"],
    }


def page_ids(ids: dict[str, object]) -> dict[str, object]:
    """``seed``'s ids by the names the pages' URL patterns give them."""
    return {"rule_id": ids["keyword-rules"], "endpoint_id": ids["forwarding-endpoints"],
            "subscription_id": ids["webhooks"], "survey_id": ids["surveys"],
            "import_id": ids["imports"], "key_id": ids["key"],
            "conversation_id": ids["conversations"], "contact_id": ids["contacts"],
            "canned_id": ids["canned-responses"]}


def _csv() -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", b"+14155550166\n", content_type="text/csv")


def api_operations(client: Client) -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the API, from the live OpenAPI schema."""
    return _operations(client.get("/api/schema/?format=json").json())


def camara_operations(client: Client) -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the CAMARA dialect, from its live document."""
    return _operations(client.get("/sms/v0alpha1/openapi.json").json())


def _operations(schema: dict) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, path_operations in schema["paths"].items()
            for method in path_operations]


def fill(path: str, ids: dict[str, object], *, real: bool) -> str:
    """The path with ``seed``'s ids (real) or ids that exist nowhere."""
    def value(match: re.Match) -> str:
        if match.group(1) == "phone":
            return str(ids["phone"]) if real else "+14155550111"
        word = "imports" if "/imports/" in path else path.split("/")[3]
        return str(ids[word]) if real else str(NEVER)
    return re.sub(r"\{(\w+)\}", value, path)


def tenant_pages() -> list[str]:
    """Every page of the tenant host but sign-in, invitations (token links) and the APIs."""
    pages = []
    for pattern in get_resolver("cpaas.urls_tenant").url_patterns:
        if isinstance(pattern, URLResolver) or not isinstance(pattern, URLPattern):
            continue
        route = str(pattern.pattern)
        if route.startswith(("api/", "invitations/")):
            continue
        pages.append(route)
    return pages


def camara_paths() -> tuple[str, ...]:
    """The CAMARA dialect's base paths (an API, not pages)."""
    return (camara_urls.SMS, camara_urls.SUBSCRIPTIONS)
