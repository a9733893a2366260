"""HEAD answers as GET does, to every caller of every API operation and page: whoever is
refused a GET is refused its HEAD with the same status, and learns nothing from its headers
(a HEAD that ran the query would tell the size of the answer in Content-Length); a page may
instead not serve HEAD at all (405). A method an API view does not name with its scope is
refused, whoever asks.

The operations come from the live OpenAPI schema, the Twilio dialect's URL configuration
and the pages from the URL configuration: an endpoint or page added later is covered
without editing this file."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from accounts.models import ApiKey, Role, User
from tests.conftest import PASSWORD, PUBLIC, host_client, login
from tests.support.matrix import (
    api_operations,
    fill,
    page_ids,
    seed,
    twilio_fill,
    twilio_operations,
    twilio_seed,
)
from tests.support.messaging import key_for

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture(autouse=True)
def _unthrottled(settings) -> None:
    # Hundreds of calls per key within seconds: the per-key limit is not what is tested here.
    settings.API_THROTTLE_RATE = 1_000_000


def _agent(tenant) -> Client:
    email = f"agent@{tenant.slug}.example"
    with schema_context(tenant.schema_name):
        User.objects.create_user(email, PASSWORD, role=Role.AGENT)
    client = host_client(f"{tenant.slug}.localhost")
    assert login(client, email).status_code == 302
    return client


def _owner(tenant) -> Client:
    client = host_client(f"{tenant.slug}.localhost")
    assert login(client, f"owner@{tenant.slug}.example").status_code == 302
    return client


def _assert_head_as_get(client: Client, path: str, headers: dict, *, page: bool) -> int:
    """GET and HEAD the path as one caller; HEAD must answer as GET did. A page may also
    not serve HEAD at all (405, from the methods it lists): that tells nothing about the
    caller's rights or the data. Returns GET's status."""
    get = client.get(path, **headers)
    head = client.head(path, **headers)
    where = (path, headers, get.status_code, head.status_code)
    if page and head.status_code == 405:
        return get.status_code
    assert head.status_code == get.status_code, where
    if get.status_code != 200:
        # Refused: the headers are those of the refusal, not of the data behind it.
        assert head.get("Content-Length") in (None, str(len(get.content))), where
        assert head.get("Location") == get.get("Location"), where
    return get.status_code


def test_head_answers_every_api_operation_as_get_does_for_every_caller(alpha):
    ids = seed(alpha)
    host = "alpha.localhost"
    callers: dict[str, tuple[Client, dict]] = {
        "anonymous": (host_client(host), {}),
        "agent": (_agent(alpha), {}),
        "owner": (_owner(alpha), {}),
    }
    for scope in ApiKey.SCOPES:  # each key lacks every other scope
        callers[scope] = (host_client(host),
                          {"HTTP_AUTHORIZATION": f"Bearer {key_for(alpha, [scope])}"})
    refused: dict[str, int] = dict.fromkeys(callers, 0)
    paths = [fill(path, ids, real=True) for method, path in api_operations(host_client(host))
             if method == "GET"]
    assert len(paths) > 25
    for path in paths:
        for who, (client, headers) in callers.items():
            status = _assert_head_as_get(client, path, headers, page=False)
            assert status in (200, 401, 403), (who, path, status)
            refused[who] += status != 200
    assert refused["anonymous"] == len(paths)
    assert refused["owner"] == 0
    assert refused["agent"] > 0
    assert all(refused[scope] > 0 for scope in ApiKey.SCOPES)


def test_an_api_view_refuses_exactly_the_methods_it_does_not_name(alpha):
    """Every method outside the schema's operations of a path (OPTIONS included) answers
    405, for a key with every scope and for an owner's session, never 200 with data; every
    operation of the schema gets past that check (ids that exist nowhere keep the calls
    from changing anything)."""
    ids = seed(alpha)
    host = "alpha.localhost"
    callers = [(host_client(host), {"HTTP_AUTHORIZATION": f"Bearer {key_for(alpha)}"}),
               (_owner(alpha), {})]
    named: dict[str, set[str]] = {}
    for method, path in api_operations(host_client(host)):
        named.setdefault(path, set()).add(method)
    refused = 0
    for path, methods in named.items():
        for method in METHODS:
            for client, headers in callers:
                response = client.generic(method, fill(path, ids, real=False), "{}",
                                          "application/json", **headers)
                where = (method, path, response.status_code)
                if method in methods:
                    assert response.status_code != 405, where
                    continue
                assert response.status_code == 405, where
                assert response.json()["code"] == "method_not_allowed"
                refused += 1
    assert refused > 100


class _HalfNamed(GenericAPIView):
    """A view whose DELETE was added without naming its scope."""

    required_scopes = {"GET": "messages:read"}

    def get(self, request):
        return Response({"kept": "secret"})

    def delete(self, request):
        return Response({"deleted": True})


def test_a_handler_without_a_named_scope_is_refused_even_to_a_key_with_every_scope(alpha):
    secret = key_for(alpha)
    view = _HalfNamed.as_view()
    factory = APIRequestFactory()
    with schema_context(alpha.schema_name):
        for method, status in (("get", 200), ("head", 200), ("delete", 405)):
            request = getattr(factory, method)("/", HTTP_AUTHORIZATION=f"Bearer {secret}")
            assert view(request).status_code == status, method


def _routes(patterns, prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _pages(urlconf: str, ids: dict[str, object]) -> list[str]:
    """Every page of the URL configuration (the API aside, which the schema covers), its
    parameters filled with the seeded ids the names match, else with 1 (a choice of words:
    the first)."""
    def sample(match: re.Match) -> str:
        name, choices = match.group(1) or match.group(3), match.group(4)
        if choices and re.fullmatch(r"\w+(\|\w+)*", choices):
            return choices.split("|")[0]
        return str(ids.get(name, 1))

    pages = []
    for route in _routes(get_resolver(urlconf).url_patterns):
        if route.startswith("api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>|(\(\?P<(\w+)>([^)]*)\))", sample, route)
        pages.append("/" + path.replace("^", "").replace("$", ""))
    return pages


def test_head_answers_every_tenant_page_as_get_does_for_every_caller(alpha):
    pages = _pages("cpaas.urls_tenant", page_ids(seed(alpha)))
    assert len(pages) > 40
    agent, owner = _agent(alpha), _owner(alpha)
    for client in (host_client("alpha.localhost"), agent, owner):
        for path in pages:
            _assert_head_as_get(client, path, {}, page=True)
    for client in (agent, owner):  # the walk signed nobody out
        assert client.get("/").status_code == 200
    forbidden = [path for path in pages if agent.get(path).status_code == 403]
    assert "/webhooks/" in forbidden and "/settings/api-keys/" in forbidden


def test_head_answers_every_operator_page_as_get_does_for_a_non_staff_user(db, settings):
    with schema_context(PUBLIC):
        member = User.objects.create_user("member@operator.example", PASSWORD)
    signed_in = host_client(settings.BASE_DOMAIN)
    signed_in.force_login(member)
    pages = _pages("cpaas.urls_public", {})
    assert len(pages) > 40
    for client in (host_client(settings.BASE_DOMAIN), signed_in):
        for path in pages:
            _assert_head_as_get(client, path, {}, page=True)
    assert signed_in.get("/operator/senders/").status_code == 302


# --- The cases the probe found --------------------------------------------------------------


def test_a_messages_read_key_learns_nothing_about_contacts_from_head(alpha, api):
    api.post("contacts", {"phone": "+14155550177", "name": "Ann"})
    reader = {"HTTP_AUTHORIZATION": f"Bearer {key_for(alpha, ['messages:read'])}"}
    client = host_client("alpha.localhost")
    answers = [client.head(f"/api/v1/contacts?{query}", **reader)
               for query in ("q=Ann", "q=Zed", "phone=%2B14155550177")]
    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert len({answer.get("Content-Length") for answer in answers}) == 1
    assert client.get("/api/v1/contacts?q=Ann", **reader).status_code == 403


def test_an_agents_session_cannot_head_the_webhooks(alpha):
    agent = _agent(alpha)
    response = agent.head("/api/v1/webhooks")
    assert response.status_code == 403
    assert response.get("Content-Length") == str(len(agent.get("/api/v1/webhooks").content))


# --- The Twilio dialect (its operations come from its URL configuration) -------------------


def test_the_twilio_dialect_answers_head_as_get_and_refuses_the_methods_it_does_not_name(
        alpha):
    ids = twilio_seed(alpha)

    def basic(password: str) -> dict[str, str]:
        pair = base64.b64encode(f"{ids['account_sid']}:{password}".encode()).decode()
        return {"HTTP_AUTHORIZATION": f"Basic {pair}"}

    right = basic(alpha.twilio_account.auth_token)
    callers = {"anonymous": {}, "wrong token": basic("0" * 32), "account": right}
    named: dict[str, set[str]] = {}
    for method, path in twilio_operations():
        named.setdefault(path, set()).add(method)
    client = host_client(settings.BASE_DOMAIN)
    refused = 0
    for path, methods in named.items():
        # SIDs that exist nowhere: no call changes anything.
        filled = twilio_fill(path, ids, real=False)
        if "GET" in methods:
            for headers in callers.values():
                _assert_head_as_get(client, filled, headers, page=False)
        for method in METHODS:
            response = client.generic(method, filled, "", **right)
            where = (method, path, response.status_code)
            if method in methods:
                assert response.status_code != 405, where
                continue
            assert (response.status_code, response.json()["code"]) == (405, 20004), where
            anonymous = client.generic(method, filled, "")
            assert (anonymous.status_code, anonymous.json()["code"]) == (401, 20003), where
            refused += 1
    assert refused >= 30
