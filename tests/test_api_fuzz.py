"""Contract testing: schemathesis fuzzes the live OpenAPI schema of a tenant with data,
positive and negative cases, over real HTTP. No answer may be a server error, and every
answer must match the schema (status code, content type, headers, body)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from campaigns.models import Campaign
from cpaas.celery import app as celery_app
from messaging.models import Sender
from messaging.senders import sender_review
from tenants.models import Domain, SenderRoute, Tenant
from tenants.services import tenant_provision
from tests.conftest import PASSWORD
from tests.support.live import portal_server
from tests.support.messaging import CUSTOMER, key_for

pytestmark = pytest.mark.slow  # a real browser or a fuzzer (README: the fast inner loop)

FUZZ_NUMBER = "+14155550177"
EXAMPLE_SENDER = "+14155550100"
# The whole run's budget keeps `make test` bounded (docs/ARCHITECTURE.md#testing).
MAX_SECONDS = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "150"))


@pytest.fixture
def fuzz_tenant(committed_db) -> Iterator[Tenant]:
    """A tenant of its own, reached at 127.0.0.1 (what schemathesis calls), removed with
    its schema afterwards: whatever the fuzzer creates goes with it."""
    tenant = tenant_provision(slug="fuzz", name="Fuzz", owner_email="owner@fuzz.example",
                              owner_password=PASSWORD)
    Domain.objects.create(domain="127.0.0.1", tenant=tenant, is_primary=False)
    try:
        yield tenant
    finally:
        SenderRoute.objects.filter(tenant=tenant).delete()
        tenant.delete(force_drop=True)
        # Tasks the fuzzer's requests enqueued belong to a tenant that no longer exists.
        celery_app.control.purge()


def _seed(tenant: Tenant, key: str) -> None:
    """Data for every resource, created through the API as a client would."""
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(path: str, body: dict) -> dict:
        response = client.post(f"/api/v1/{path}", json.dumps(body),
                               content_type="application/json")
        assert response.status_code in (200, 201, 202), (path, response.content)
        return response.json()

    post("senders", {"address": FUZZ_NUMBER, "kind": "long_code", "connection": "simulator"})
    sender_review(tenant=tenant, address=FUZZ_NUMBER, decision="approve")
    post("simulator/inbound", {"from": CUSTOMER, "to": FUZZ_NUMBER, "body": "Hello"})
    post("messages", {"from": FUZZ_NUMBER, "to": CUSTOMER, "body": "Hi, how can we help?"})
    post("keyword-rules", {"keyword": "hours", "match": "exact", "reply": "9 to 5"})
    post("surveys", {"name": "Visit", "questions": [
        {"kind": "yes_no", "text": "Happy with your visit?"}]})
    post("optouts", {"phone": "+14155550188", "reason": "asked by phone"})
    post("canned-responses", {"shortcode": "thanks", "body": "Thanks, we will call you back."})
    post("forwarding-endpoints", {"name": "Orders", "url": "http://127.0.0.1:9/orders"})
    subscriber_list = post("lists", {"name": "VIP club", "keyword": "VIP"})
    post(f"lists/{subscriber_list['id']}/subscribers", {"phone": CUSTOMER, "source": "api"})
    with schema_context(tenant.schema_name):
        campaign = Campaign.objects.create(name="Spring", body="Spring sale!",
                                           sender=Sender.objects.get(address=FUZZ_NUMBER))
    action = post(f"campaigns/{campaign.pk}/reply-actions",
                  {"keyword": "YES", "reply": "Your code: {{ code }}"})
    post(f"campaigns/{campaign.pk}/reply-actions/{action['id']}/codes",
         {"codes": ["SPRING-1", "SPRING-2"]})
    post("webhooks", {"url": "http://127.0.0.1:9/events", "events": ["message.received"]})


# Most of the fuzzer's path values name the objects `_seed` made (the first of each kind in
# a new schema, the customer's and the opted-out number), so operations on existing objects
# are tested too, not only their 404s.
SEEDED = f"""
[dictionaries.ids]
values = [1, 2]

[dictionaries.phones]
values = ["{CUSTOMER}", "+14155550188"]

[parameters]
"path.id" = {{ dictionary = "ids", probability = 0.8 }}
"path.phone" = {{ dictionary = "phones", probability = 0.8 }}
"""


@override_settings(API_THROTTLE_RATE=100_000)  # the fuzzer, not the limit, is under test
def test_schemathesis_finds_no_server_error_and_no_schema_violation(fuzz_tenant, tmp_path):
    with schema_context(fuzz_tenant.schema_name):
        key = key_for(fuzz_tenant)
    _seed(fuzz_tenant, key)
    report = tmp_path / "report"
    config = tmp_path / "schemathesis.toml"
    config.write_text(SEEDED)
    with portal_server() as port:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run",
             f"http://127.0.0.1:{port}/api/schema/?format=json",
             "--header", f"Authorization: Bearer {key}",
             # Every check: no server error, and every status code, header and body as
             # documented (status_code_conformance, response_schema_conformance), ...
             "--checks", "all",
             # ... but valid by the schema is not always valid for the domain (a phone
             # number pattern cannot say which numbers exist): a 4xx to positive data is fine.
             "--exclude-checks", "positive_data_acceptance",
             # The documented examples, then the boundaries of every field and parameter,
             # then random data until the budget is spent.
             "--phases", "examples,coverage,fuzzing",
             "--mode", "all", "--max-examples", "25", "--max-time", str(MAX_SECONDS),
             "--seed", "20261123", "--workers", "1", "--request-timeout", "10",
             "--report", "junit", "--report-dir", str(report),
             "--suppress-health-check", "all", "--no-color"],
            capture_output=True, text=True, timeout=MAX_SECONDS + 120)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]


@override_settings(API_THROTTLE_RATE=100_000)
def test_schemathesis_finds_nothing_wrong_in_the_camara_dialect(fuzz_tenant):
    """The CAMARA dialect, fuzzed from its own document (/sms/v0alpha1/openapi.json)."""
    with schema_context(fuzz_tenant.schema_name):
        key = key_for(fuzz_tenant)
    _seed(fuzz_tenant, key)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    # The sender of the document's examples: they send, rather than only being refused.
    client.post("/api/v1/senders", {"address": EXAMPLE_SENDER, "kind": "long_code",
                                    "connection": "simulator"}, content_type="application/json")
    sender_review(tenant=fuzz_tenant, address=EXAMPLE_SENDER, decision="approve")
    client.post(
        "/sms-delivery-notification-subscriptions/v0alpha1/subscriptions", json.dumps({
            "subscriptionDetail": {"senderId": FUZZ_NUMBER,
                                   "type": "org.camaraproject.sms.v0.sms-received"},
            "webhook": {"notificationUrl": "http://127.0.0.1:9/camara"}}),
        content_type="application/json")
    seconds = min(MAX_SECONDS, 60)
    with portal_server() as port:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run",
             f"http://127.0.0.1:{port}/sms/v0alpha1/openapi.json",
             "--header", f"Authorization: Bearer {key}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--mode", "all", "--max-examples", "25", "--max-time", str(seconds),
             "--seed", "20261123", "--workers", "1", "--request-timeout", "10",
             "--suppress-health-check", "all", "--no-color"],
            capture_output=True, text=True, timeout=seconds + 120)
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
