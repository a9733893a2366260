"""Helpers of the tests generated from the live OpenAPI schema and the URL configuration
(test_isolation_matrix, test_method_matrix): one object of every kind, the operations, and
paths filled with real ids or ids that exist nowhere."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from campaigns.models import Subscription
from messaging.senders import sender_review
from tenants.models import Tenant
from tests.support.messaging import CUSTOMER, SIM_NUMBER, Api, key_for

NEVER = 987654321
OPTED_OUT = "+14155550188"
MEMBER = "+14155550155"


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
    subscriber_list = post("lists", {"name": "VIP club", "keyword": "VIP"})
    post(f"lists/{subscriber_list['id']}/subscribers", {
        "phone": MEMBER, "source": "staff", "evidence": "Asked at the counter"})
    with schema_context(tenant.schema_name):
        member_id = Subscription.objects.get(phone=MEMBER).pk
    list_import = api.client.post(
        f"/api/v1/lists/{subscriber_list['id']}/imports",
        {"file": _csv(b"phone,name\n+14155550144,Bo\n"), "consent_source": "Paper form",
         "evidence": "Kept in the shop"}, **api.headers).json()
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
        "phone": OPTED_OUT, "key": key_id,
        "lists": subscriber_list["id"], "list-member": MEMBER, "member": member_id,
        "list-imports": list_import["id"], "list-slug": subscriber_list["join_url"].rsplit(
            "/", 1)[1],
    }


def page_ids(ids: dict[str, object]) -> dict[str, object]:
    """``seed``'s ids by the names the pages' URL patterns give them."""
    return {"rule_id": ids["keyword-rules"], "endpoint_id": ids["forwarding-endpoints"],
            "subscription_id": ids["webhooks"], "survey_id": ids["surveys"],
            "import_id": ids["imports"], "key_id": ids["key"],
            "conversation_id": ids["conversations"], "contact_id": ids["contacts"],
            "canned_id": ids["canned-responses"], "list_id": ids["lists"],
            "member_id": ids["member"], "list_import_id": ids["list-imports"],
            "list_slug": ids["list-slug"]}


def _csv(content: bytes = b"+14155550166\n") -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", content, content_type="text/csv")


def api_operations(client: Client) -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the API, from the live OpenAPI schema."""
    schema = client.get("/api/schema/?format=json").json()
    return [(method.upper(), path) for path, path_operations in schema["paths"].items()
            for method in path_operations]


def fill(path: str, ids: dict[str, object], *, real: bool) -> str:
    """The path with ``seed``'s ids (real) or ids that exist nowhere. A placeholder takes
    the id of the word before it (``/lists/{id}/imports/{import_id}``: a list's, then
    one of its imports'); a phone is the seeded member's in a list's path."""
    in_list = path.startswith("/api/v1/lists/")

    def value(match: re.Match) -> str:
        if match.group(1) == "phone":
            if not real:
                return "+14155550111"
            return str(ids["list-member"] if in_list else ids["phone"])
        word = path[:match.start()].rstrip("/").rsplit("/", 1)[1]
        if word == "imports" and in_list:
            word = "list-imports"
        return str(ids[word]) if real else str(NEVER)
    return re.sub(r"\{(\w+)\}", value, path)


def tenant_pages() -> list[str]:
    """Every page of the tenant host but sign-in, invitations (token links) and the API."""
    pages = []
    for pattern in get_resolver("cpaas.urls_tenant").url_patterns:
        if isinstance(pattern, URLResolver) or not isinstance(pattern, URLPattern):
            continue
        route = str(pattern.pattern)
        if route.startswith(("api/", "invitations/")):
            continue
        pages.append(route)
    return pages
