"""Helpers of the tests generated from the live OpenAPI schemas and the URL configuration
(test_isolation_matrix, test_method_matrix): one object of every kind, the operations (of
/api/v1, of the Twilio dialect from its URLs, and of the CAMARA dialect from its own
document), and paths filled with real ids or ids that exist nowhere."""

from __future__ import annotations

import json
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import api_key_create, invitation_create
from campaigns.links import links_rewrite_many
from campaigns.models import Campaign, Subscription
from compat.camara import urls as camara_urls
from compat.twilio.credentials import twilio_account_ensure, twilio_api_key_create
from messaging.models import Sender
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
        teammate = User.objects.create_user(f"teammate@{tenant.slug}.example", role=Role.AGENT)
        invitation = invitation_create(email=f"invited@{tenant.slug}.example", role=Role.AGENT,
                                       invited_by=User.objects.get(role=Role.OWNER))
    twilio_key_id = twilio_api_key_create(account=twilio_account_ensure(tenant=tenant),
                                          name="spare")[0].pk
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
    campaign = post("campaigns", {"name": "Sale", "sender": SIM_NUMBER, "body": "20% off",
                                  "audience": {"lists": [subscriber_list["id"]]}})
    camara = api.client.post(
        "/sms-delivery-notification-subscriptions/v0alpha1/subscriptions", json.dumps({
            "subscriptionDetail": {"senderId": SIM_NUMBER,
                                   "type": "org.camaraproject.sms.v0.sms-received"},
            "webhook": {"notificationUrl": "http://127.0.0.1:9/camara"}}),
        content_type="application/json", **api.headers)
    assert camara.status_code == 201, camara.content
    with schema_context(tenant.schema_name):
        [short] = links_rewrite_many(campaign=Campaign.objects.get(pk=campaign["id"]),
                                     texts=[(CUSTOMER, "20% off: https://shop.example/sale")])
    reply_action = post(f"campaigns/{campaign['id']}/reply-actions", {
        "keyword": "YES", "reply": "Your code: {{ code }}"})
    post(f"campaigns/{campaign['id']}/reply-actions/{reply_action['id']}/codes",
         {"codes": ["SPRING-1"]})
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
        "phone": OPTED_OUT, "key": key_id, "twilio_key": twilio_key_id,
        "lists": subscriber_list["id"], "list-member": MEMBER, "member": member_id,
        "list-imports": list_import["id"], "list-slug": subscriber_list["join_url"].rsplit(
            "/", 1)[1],
        "subscriptions": camara.json()["subscriptionId"],
        "campaigns": campaign["id"], "reply-actions": reply_action["id"],
        "link": short.rsplit("/", 1)[1],
        "user": teammate.pk, "invitation": invitation.pk,
    }


def page_ids(ids: dict[str, object]) -> dict[str, object]:
    """``seed``'s ids by the names the pages' URL patterns give them."""
    return {"rule_id": ids["keyword-rules"], "endpoint_id": ids["forwarding-endpoints"],
            "subscription_id": ids["webhooks"], "survey_id": ids["surveys"],
            "import_id": ids["imports"], "key_id": ids["key"],
            "twilio_key_id": ids["twilio_key"],
            "conversation_id": ids["conversations"], "contact_id": ids["contacts"],
            "canned_id": ids["canned-responses"], "list_id": ids["lists"],
            "member_id": ids["member"], "list_import_id": ids["list-imports"],
            "list_slug": ids["list-slug"], "campaign_id": ids["campaigns"],
            "action_id": ids["reply-actions"], "code": ids["link"],
            "user_id": ids["user"], "invitation_id": ids["invitation"]}


def _csv(content: bytes = b"+14155550166\n") -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", content, content_type="text/csv")


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


# --- The Twilio dialect --------------------------------------------------------------------


def twilio_operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the Twilio dialect, from its URL configuration:
    ``/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json`` and the like."""
    operations = []
    for pattern in get_resolver("compat.twilio.urls").url_patterns:
        route = str(pattern.pattern).lstrip("^").rstrip("$").replace("\\.", ".")
        template = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
        template = re.sub(r"\{(\w+)\}\{\d+\}", r"{\1}", template)
        operations += [(method, template) for method in pattern.callback.twilio_methods]
    return operations


def twilio_seed(tenant: Tenant, address: str = SIM_NUMBER) -> dict[str, str]:
    """A message, a number (``address``, approved on the simulator) and a Messaging
    Service of the tenant's Twilio-dialect account; their SIDs (and the account's) by path
    parameter."""
    from compat.twilio.models import MessagingService
    from compat.twilio.resources import message_sid, number_sid
    from compat.twilio.sids import sid_new
    from messaging.outbound import message_send

    account = twilio_account_ensure(tenant=tenant)
    with schema_context(tenant.schema_name):
        sender = Sender.objects.filter(address=address).first()
        if sender is None:
            Api(tenant, key_for(tenant)).post("senders", {
                "address": address, "kind": "long_code", "connection": "simulator"})
            sender = sender_review(tenant=tenant, address=address, decision="approve")
        message = message_send(from_address=address, to=CUSTOMER, body="Hi", origin="api")
        service = MessagingService.objects.create(sid=sid_new("MG"), friendly_name="Pool")
        service.senders.add(sender)
    return {"account_sid": account.sid,
            "message": message_sid(message.pk, account_sid=account.sid),
            "number": number_sid(sender.pk, account_sid=account.sid), "service": service.sid}


def twilio_fill(path: str, ids: dict[str, str], *, real: bool) -> str:
    """The dialect path with ``twilio_seed``'s SIDs (real) or SIDs that exist nowhere; the
    account is always ``ids``'s."""
    never = {"message": "SM" + "1" * 32, "number": "PN" + "1" * 32, "service": "MG" + "1" * 32}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "account_sid":
            return ids["account_sid"]
        kind = ("service" if "/Services/" in path and name == "sid" else
                "number" if name == "number_sid" or "IncomingPhoneNumbers" in path else
                "message")
        return ids[kind] if real else never[kind]
    return re.sub(r"\{(\w+)\}", value, path)
