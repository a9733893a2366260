"""Tenant isolation, every endpoint and page: tenant A's credentials on tenant B's host are
refused, and A's object ids through B's credentials answer exactly as ids that never
existed, so nothing reveals what another tenant holds.

The operations come from the live OpenAPI schema, the Twilio dialect's URL configuration
and the pages from the URL configuration: an endpoint or page added later is covered
without editing this file."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from compat.twilio.models import MessagingService
from messaging.models import Message
from tests.conftest import PASSWORD, host_client, login
from tests.support.matrix import (
    NEVER,
    api_operations,
    fill,
    page_ids,
    seed,
    tenant_pages,
    twilio_fill,
    twilio_operations,
    twilio_seed,
)
from tests.support.messaging import SIM_NUMBER_2, key_for


def _call(client: Client, method: str, path: str, headers: dict):
    body = {"content_type": "application/json", "data": json.dumps({})} \
        if method in ("POST", "PUT", "PATCH") else {}
    return getattr(client, method.lower())(path, **body, **headers)


def test_alphas_key_on_betas_host_is_refused_for_every_operation(alpha, beta):
    alpha_key = key_for(alpha)
    client = host_client("beta.localhost")
    operations = api_operations(client)
    assert len(operations) > 40
    for method, path in operations:
        filled = re.sub(r"\{\w+\}", "1", path)
        response = _call(client, method, filled, {"HTTP_AUTHORIZATION": f"Bearer {alpha_key}"})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["code"] == "not_authenticated"


def test_alphas_ids_through_betas_key_look_like_ids_that_never_existed(alpha, beta):
    ids = seed(alpha)
    beta_key = {"HTTP_AUTHORIZATION": f"Bearer {key_for(beta)}"}
    client = host_client("beta.localhost")
    checked = 0
    for method, path in api_operations(client):
        if "{" not in path:
            continue
        real = _call(client, method, fill(path, ids, real=True), beta_key)
        never = _call(client, method, fill(path, ids, real=False), beta_key)
        assert real.status_code == never.status_code, (method, path)
        if real.status_code == 200:  # a list about a phone number: empty either way
            assert real.json() == never.json() == {"results": [], "next": None}, path
        else:
            assert real.status_code in (400, 404), (method, path, real.status_code)
            assert real.json()["code"] == never.json()["code"], (method, path)
        checked += 1
    assert checked >= 20


def test_a_session_of_alpha_opens_no_page_of_beta(alpha, beta):
    client = Client(HTTP_HOST="alpha.localhost")
    assert login(client, "owner@alpha.example").status_code == 302
    assert client.get("/").status_code == 200
    for route in tenant_pages():
        path = "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)
        response = client.get(path, HTTP_HOST="beta.localhost")
        assert response.status_code in (302, 404), (path, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), path


@pytest.mark.parametrize("who", ["owner@beta.example"])
def test_betas_admin_gets_404_for_alphas_object_pages(alpha, beta, who):
    by_name = page_ids(seed(alpha))
    client = Client(HTTP_HOST="beta.localhost")
    assert client.post("/accounts/login/", {"login": who, "password": PASSWORD}
                       ).status_code == 302
    checked = 0
    for route in tenant_pages():
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not names:
            continue
        real = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(by_name[m.group(1)]), route)
        never = "/" + re.sub(r"<(?:\w+:)?(\w+)>", str(NEVER), route)
        for method in ("get", "post"):
            answers = [getattr(client, method)(path) for path in (real, never)]
            assert answers[0].status_code == answers[1].status_code, (method, real)
            assert answers[0].status_code in (404, 405), (method, real, answers[0].status_code)
        checked += 1
    assert checked >= 8


# --- The Twilio dialect (its operations come from its URL configuration) -------------------


def _basic(sid: str, token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}


def _twilio_call(client: Client, method: str, path: str, headers: dict):
    body = {"data": {}} if method == "POST" else {}
    return getattr(client, method.lower())(path, **body, **headers)


def test_alphas_twilio_credentials_open_nothing_of_beta_on_any_host(alpha, beta):
    alpha_ids, beta_ids = twilio_seed(alpha), twilio_seed(beta, SIM_NUMBER_2)
    alpha_creds = _basic(alpha_ids["account_sid"], alpha.twilio_account.auth_token)
    operations = twilio_operations()
    assert len(operations) >= 15
    for method, path in operations:
        # Beta's account in the path, on the public host and on both tenants' hosts.
        for host in (settings.BASE_DOMAIN, "alpha.localhost", "beta.localhost"):
            response = _twilio_call(host_client(host), method,
                                    twilio_fill(path, beta_ids, real=True), alpha_creds)
            where = (host, method, path, response.status_code)
            if "{account_sid}" not in path:
                continue  # the v1 APIs name no account: checked below
            assert response.status_code == 401, where
            assert response.json() == {"code": 20003, "message": "Authenticate",
                                       "more_info": "https://www.twilio.com/docs/errors/20003",
                                       "status": 401}, where
        # Alpha's own account and objects, on beta's host.
        response = _twilio_call(host_client("beta.localhost"), method,
                                twilio_fill(path, alpha_ids, real=True), alpha_creds)
        assert (response.status_code, response.json()["code"]) == (401, 20003), (method, path)


def test_alphas_twilio_sids_through_betas_credentials_look_like_sids_never_made(alpha, beta):
    alpha_ids, beta_ids = twilio_seed(alpha), twilio_seed(beta, SIM_NUMBER_2)
    beta_creds = _basic(beta_ids["account_sid"], beta.twilio_account.auth_token)
    alphas = dict(alpha_ids, account_sid=beta_ids["account_sid"])
    client = host_client(settings.BASE_DOMAIN)
    checked = 0
    for method, path in twilio_operations():
        if "{sid}" not in path:
            continue
        real = _twilio_call(client, method, twilio_fill(path, alphas, real=True), beta_creds)
        never = _twilio_call(client, method, twilio_fill(path, alphas, real=False), beta_creds)
        assert (real.status_code, real.json()) == (never.status_code, never.json()) or (
            real.status_code == never.status_code == 404
            and real.json()["code"] == never.json()["code"] == 20404), (method, path)
        assert real.status_code == 404, (method, path, real.status_code)
        checked += 1
    assert checked >= 10
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(direction="outbound").count() == 1  # nothing deleted
        assert MessagingService.objects.count() == 1
