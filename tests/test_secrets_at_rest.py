"""Secrets at rest: a database dump shows no provider credential and no signing secret;
the product reads them; keys rotate without losing a secret."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from compat.public.models import TwilioAccount
from compat.twilio.credentials import twilio_account_ensure, twilio_token_rotate
from core import secrets
from events.actions import subscription_create
from messaging.forwarding import endpoint_save
from messaging.models import ForwardingEndpoint
from tenants.connections import connection_add
from tenants.models import ProviderConnection

TOKEN = "twilio-auth-token-0123456789"


@pytest.fixture(autouse=True)
def _fresh_keys():
    secrets._fernet.cache_clear()
    yield
    secrets._fernet.cache_clear()


def _raw(sql: str, *params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return str(cursor.fetchone()[0])


def test_provider_credentials_are_encrypted_and_the_rest_readable(db):
    connection_add(name="tw-secret", kind="twilio", settings={
        "account_sid": "AC" + "1" * 32, "auth_token": TOKEN,
        "api_base_url": "http://127.0.0.1:9"})
    stored = _raw("SELECT settings::text FROM tenants_providerconnection WHERE name = %s",
                  "tw-secret")
    assert TOKEN not in stored and "enc:" in stored
    assert "AC" + "1" * 32 in stored  # which account: not a secret
    assert ProviderConnection.objects.get(name="tw-secret").settings["auth_token"] == TOKEN


def test_signing_secrets_are_encrypted_in_the_tenants_schema(alpha):
    with schema_context(alpha.schema_name):
        endpoint = endpoint_save(name="Orders", url="http://127.0.0.1:9/orders")
        subscription = subscription_create(url="http://127.0.0.1:9/events",
                                           events=["message.received"])
        for table, secret, pk in (("messaging_forwardingendpoint", endpoint.secret, endpoint.pk),
                                  ("events_webhooksubscription", subscription.secret,
                                   subscription.pk)):
            assert secret.startswith("whsec_")
            stored = _raw(f"SELECT secret FROM {table} WHERE id = %s", pk)
            assert stored.startswith("enc:") and secret not in stored
        assert ForwardingEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_twilio_dialect_auth_tokens_are_encrypted(alpha):
    account = twilio_account_ensure(tenant=alpha)
    secondary = twilio_token_rotate(account=account)
    stored = _raw("SELECT auth_token || ' ' || secondary_token FROM "
                  "compat_public_twilioaccount WHERE id = %s", account.pk)
    assert stored.count("enc:") == 2
    assert account.auth_token not in stored and secondary not in stored
    assert TwilioAccount.objects.get(pk=account.pk).secondary_token == secondary


def _keys(*keys: str):
    secrets._fernet.cache_clear()
    return override_settings(FIELD_ENCRYPTION_KEYS=list(keys))


def test_keys_rotate_the_old_one_still_reads_until_reencrypted(alpha, capsys):
    with _keys("old-key"):
        account = twilio_account_ensure(tenant=alpha)
        with schema_context(alpha.schema_name):
            endpoint = endpoint_save(name="Orders", url="http://127.0.0.1:9/orders")
    with _keys("new-key", "old-key"):
        with schema_context(alpha.schema_name):
            assert ForwardingEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
        call_command("secrets_reencrypt")
    assert "re-encrypted with the first key" in capsys.readouterr().out
    with _keys("new-key"):
        assert TwilioAccount.objects.get(pk=account.pk).auth_token == account.auth_token
        with schema_context(alpha.schema_name):
            assert ForwardingEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    with _keys("unrelated"), schema_context(alpha.schema_name), \
            pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        ForwardingEndpoint.objects.get(pk=endpoint.pk)


def test_a_secret_stored_before_encryption_is_read_as_is(alpha):
    with schema_context(alpha.schema_name):
        endpoint = endpoint_save(name="Legacy", url="http://127.0.0.1:9/legacy")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE messaging_forwardingendpoint SET secret = %s WHERE id = %s",
                           ["whsec_plain", endpoint.pk])
        assert ForwardingEndpoint.objects.get(pk=endpoint.pk).secret == "whsec_plain"


