"""The API's cross-cutting contract (docs/API.md): JSON errors for every status, keys bound to
their tenant, Idempotency-Key, throttling with Retry-After, and the OpenAPI documents."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db_connection
from django.test import override_settings
from django.urls import get_resolver
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import IdempotentRequest
from core.rate_limit import _client as redis_client
from cpaas.sweeps import tenant_sweep
from messaging.models import Message
from tests.conftest import host_client
from tests.support.browser import chromium
from tests.support.live import portal_server
from tests.support.messaging import CUSTOMER, SIM_NUMBER, Api, key_for

SEND = {"from": SIM_NUMBER, "to": CUSTOMER, "body": "Your order has shipped"}


def test_no_key_a_bad_key_and_another_tenants_key_answer_401_json(api, alpha, beta):
    client = host_client("alpha.localhost")
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer sk_nonsense"},
                    {"HTTP_AUTHORIZATION": f"Bearer {key_for(beta)}"}):
        response = client.get("/api/v1/messages", **headers)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_another_tenants_object_ids_answer_404_as_if_absent(api, alpha, beta, sim_sender):
    message = api.post("messages", SEND).json()
    beta_api = Api(beta, key_for(beta))
    unknown = beta_api.get("messages/999999")
    foreign = beta_api.get(f"messages/{message['id']}")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() == {"code": "not_found",
                                                "detail": "No Message matches the given query."}


def test_every_error_status_is_json_with_a_code(api, sim_sender):
    no_path = api.get("no-such-thing")
    assert (no_path.status_code, no_path.json()["code"]) == (404, "not_found")
    wrong_method = api.client.delete("/api/v1/messages", **api.headers)
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405,
                                                                       "method_not_allowed")
    form = api.client.post("/api/v1/messages", SEND, **api.headers)
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    broken = api.client.post("/api/v1/messages", "{not json", content_type="application/json",
                             **api.headers)
    assert (broken.status_code, broken.json()["code"]) == (400, "parse_error")
    invalid = api.post("messages", {"from": SIM_NUMBER})
    assert invalid.status_code == 400
    assert invalid.json()["fields"]["to"][0]["code"] == "required"


def test_a_body_over_the_size_limit_is_413_json_and_a_large_import_still_fits(api, alpha):
    """Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; the API says so in
    its own format (it was an HTML 400), and the limit leaves room for the documented
    imports, read whole when they carry an Idempotency-Key."""
    csv = b"".join(b"+1415555%04d\n" % (n % 10_000) for n in range(250_000))  # 3.25 MB
    upload = api.client.post(
        "/api/v1/optouts/imports", {"file": SimpleUploadedFile("numbers.csv", csv)},
        **api.headers, HTTP_IDEMPOTENCY_KEY="big-import")
    assert upload.status_code == 202, upload.content[:300]
    bulk = json.dumps({"messages": [SEND] * 100})
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=len(bulk) - 1):
        for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": "big-bulk"}):
            refused = api.client.post("/api/v1/messages/bulk", bulk,
                                      content_type="application/json", **api.headers,
                                      **headers)
            assert refused.status_code == 413, headers
            assert refused["Content-Type"] == "application/json"
            assert refused.json()["code"] == "payload_too_large"
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists()


def test_a_retried_post_returns_the_first_answer_and_sends_once(api, alpha, sim_sender):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-1234-shipped"}
    first = api.client.post("/api/v1/messages", json.dumps(SEND),
                            content_type="application/json", **api.headers, **headers)
    again = api.client.post("/api/v1/messages", json.dumps(SEND),
                            content_type="application/json", **api.headers, **headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other_body = api.client.post("/api/v1/messages", json.dumps({**SEND, "body": "Other"}),
                                 content_type="application/json", **api.headers, **headers)
    assert (other_body.status_code, other_body.json()["code"]) == (422,
                                                                   "idempotency_key_reused")
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 1


def test_idempotency_keys_belong_to_one_key_and_refusals_are_remembered(api, alpha,
                                                                      sim_sender):
    other = Api(alpha, key_for(alpha))
    headers = {"HTTP_IDEMPOTENCY_KEY": "same-key"}
    for client in (api, other):
        response = client.client.post("/api/v1/messages", json.dumps(SEND),
                                      content_type="application/json", **client.headers,
                                      **headers)
        assert response.status_code == 202
    bad = {**SEND, "to": "12"}
    refused = [api.client.post("/api/v1/messages", json.dumps(bad),
                               content_type="application/json", **api.headers,
                               HTTP_IDEMPOTENCY_KEY="bad-number") for _ in range(2)]
    assert [r.json()["code"] for r in refused] == ["invalid_phone_number"] * 2
    assert refused[1]["Idempotent-Replayed"] == "true"
    too_long = api.client.post("/api/v1/messages", json.dumps(SEND),
                               content_type="application/json", **api.headers,
                               HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert (too_long.status_code, too_long.json()["code"]) == (400, "invalid_idempotency_key")
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 2


def test_five_concurrent_posts_with_one_key_create_one_message(committed_alpha):
    api = Api(committed_alpha, key_for(committed_alpha))
    start = threading.Barrier(5)
    answers: list = []

    def post() -> None:
        start.wait()
        answers.append(api.client.post(
            "/api/v1/messages", json.dumps(SEND), content_type="application/json",
            **api.headers, HTTP_IDEMPOTENCY_KEY="race-1"))
        db_connection.close()

    threads = [threading.Thread(target=post) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [202] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.get("Idempotent-Replayed") == "true" for a in answers) == 4
    with schema_context(committed_alpha.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 1


@override_settings(API_THROTTLE_RATE=3)
def test_a_key_over_its_rate_gets_429_with_retry_after(api, alpha, beta):
    redis_client().delete(*redis_client().keys("ratelimit:api:*") or ["none"])
    answers = [api.get("messages") for _ in range(5)]
    assert [a.status_code for a in answers][:3] == [200, 200, 200]
    throttled = answers[-1]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) >= 1
    # Another key (here another tenant's) has its own allowance.
    assert Api(beta, key_for(beta)).get("messages").status_code == 200


def _schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_describes_every_operation_with_errors_and_the_bearer_scheme(alpha_client):
    schema = _schema(alpha_client)
    assert schema["openapi"].startswith("3.")
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    documented = set(schema["paths"])
    routed = {"/api/v1/" + str(p.pattern) for p in get_resolver("cpaas.urls_api").url_patterns}
    # drf-spectacular names a primary key `id` in paths.
    routed = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", p).replace("{pk}", "{id}") for p in routed}
    assert routed == documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "429"} <= codes, (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]
            if method == "post":
                assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    send = schema["paths"]["/api/v1/messages"]["post"]
    assert set(send["responses"]) >= {"202", "415", "422"}
    listing = schema["paths"]["/api/v1/messages"]["get"]
    assert {"direction", "status", "contact", "conversation", "since", "until", "cursor",
            "limit"} <= {p["name"] for p in listing["parameters"]}


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_everything_from_this_host(alpha_client, page):
    response = alpha_client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    references += re.findall(r'"(/static/[^"]+)"', html)
    assert references
    assert not [ref for ref in references if re.match(r"(https?:)?//", ref)]
    for ref in {r for r in references if r.startswith("/")}:
        assert alpha_client.get(ref).status_code == 200, ref
    assert "/api/schema/" in html


@pytest.mark.slow  # a real browser
@pytest.mark.parametrize(("page", "rendered"), [
    ("/api/docs/", ".opblock-tag"), ("/api/redoc/", "[data-section-id]")])
def test_the_docs_render_in_a_browser_with_no_request_leaving_the_machine(
        committed_db, page, rendered):
    requested: list[str] = []
    with portal_server() as port, chromium() as browser:
        host = f"alpha.localhost:{port}"
        tab = browser.new_page()
        tab.on("request", lambda request: requested.append(request.url))
        tab.goto(f"http://{host}{page}", wait_until="networkidle")
        tab.wait_for_selector(rendered, timeout=15_000)
        assert "SMS portal API" in tab.content()
    assert requested
    # Not even a try the Content-Security-Policy would stop (Redoc's logo was one).
    assert [url for url in requested
            if not url.startswith((f"http://{host}/", f"blob:http://{host}/", "data:"))] == []


def test_the_sweep_forgets_idempotency_keys_after_a_day_and_the_key_sends_anew(
        api, alpha, sim_sender):
    """A key older than the 24 hours a retry may come in is forgotten by the periodic
    sweep: the same key then sends a new message instead of replaying the old answer."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "nightly-reminder"}

    def send():
        return api.client.post("/api/v1/messages", json.dumps(SEND),
                               content_type="application/json", **api.headers, **headers)

    first = send()
    with schema_context(alpha.schema_name):
        IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
        tenant_sweep(schema=alpha.schema_name)
        assert not IdempotentRequest.objects.exists()
    again = send()
    assert again.status_code == 202
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
