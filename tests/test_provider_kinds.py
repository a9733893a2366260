"""Each provider kind declares its settings once, beside its backend: the declaration alone
decides what a connection accepts, what is required, what is a URL to check, what is a
secret stored encrypted, and the defaults the backend and the SMPP connector use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from messaging.providers import backend_for
from smpp.config import config_from
from tenants.connections import connection_add
from tenants.forms import connection_form_for
from tenants.models import ProviderConnection
from tenants.provider_kinds import (
    ProviderKind,
    Setting,
    _kinds,
    provider_kind_names,
    provider_kind_register,
)


@pytest.fixture
def pager_kind() -> Iterator[ProviderKind]:
    """A kind no backend ships, declared the way a backend declares its own."""
    kind = ProviderKind("pager", settings=(
        Setting("token", required=True, secret=True),
        Setting("hook", url=True, default="http://127.0.0.1:9/hook"),
        Setting("speed", parse=int, expected="a whole number"),
    ))
    provider_kind_register(kind)
    yield kind
    _kinds.pop("pager")


def _stored(connection_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT settings::text FROM tenants_providerconnection WHERE id = %s",
                       [connection_id])
        return cursor.fetchone()[0]


def test_a_declared_kind_is_accepted_checked_and_its_secret_encrypted(db, pager_kind):
    assert "pager" in provider_kind_names()
    with pytest.raises(ValidationError) as refused:
        connection_add(name="pager-1", kind="pager",
                       settings={"speed": "fast", "hook": "http://10.1.2.3/x", "colour": "red"})
    messages = " ".join(refused.value.message_dict["settings"])
    assert "'colour' is not a pager setting" in messages
    assert "'token' is required for pager" in messages
    assert "speed: 'fast' is not a whole number" in messages
    assert "hook:" in messages and "10.1.2.3" in messages
    added = connection_add(name="pager-1", kind="pager",
                           settings={"token": "sekrit-token-1234", "speed": "3"})
    assert "sekrit-token-1234" not in _stored(added.pk)
    assert ProviderConnection.objects.get(pk=added.pk).settings["token"] == "sekrit-token-1234"
    assert added.masked_settings()["token"] == "****1234"


def test_the_operator_form_has_one_field_per_declared_setting(db, pager_kind):
    form = connection_form_for("pager", None)()
    assert set(form.fields) >= {"setting_token", "setting_hook", "setting_speed"}
    assert "Default: http://127.0.0.1:9/hook." in form.fields["setting_hook"].help_text
    assert form.fields["setting_token"].widget.input_type == "password"


def test_backends_and_the_smpp_connector_take_the_declared_defaults(db):
    twilio = ProviderConnection(name="t", kind="twilio",
                                settings={"account_sid": "AC1", "auth_token": "x"})
    assert backend_for(twilio).setting("api_base_url") == "https://api.twilio.com"
    config = config_from("smsc", {"host": "127.0.0.1", "port": "2775", "system_id": "esme",
                                  "password": "pw"})
    assert (config.bind_mode, config.window, config.unanswered_submits) == (
        "transceiver", 10, "fail")
    assert config.ton_npi["alphanumeric"] == (5, 0)


def test_a_value_the_kind_declares_a_check_for_is_refused_when_saved(db):
    with pytest.raises(ValidationError) as refused:
        connection_add(name="vonage-x", kind="vonage",
                       settings={"api_key": "k", "api_secret": "s", "signature_method": "rot13"})
    assert "signature_method: 'rot13' is not" in " ".join(
        refused.value.message_dict["settings"])
