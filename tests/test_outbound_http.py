"""URLs the product calls for tenants and the operator (DESIGN §8): loopback only outside
production, public addresses only in production."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from core.outbound_http import UnsafeURLError, url_check
from tenants.connections import connection_add
from tenants.models import ProviderConnection


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/x", "https://localhost/hook",
                                 "http://[::1]:8080/"])
def test_loopback_is_allowed_outside_production(url):
    url_check(url)


@pytest.mark.parametrize("url", ["http://10.0.0.5/", "https://8.8.8.8/", "ftp://127.0.0.1/",
                                 "not a url", "http:///nohost"])
def test_anything_else_is_refused_outside_production(url):
    with pytest.raises(UnsafeURLError):
        url_check(url)


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://localhost:8000/",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]/",
                                 "http://[fd00::1]/", "http://0.0.0.0/"])
def test_production_refuses_internal_addresses(url):
    with pytest.raises(UnsafeURLError):
        url_check(url)


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
def test_production_allows_public_addresses():
    url_check("https://8.8.8.8/webhook")


def test_a_connection_with_an_unsafe_base_url_is_refused_and_not_saved(db):
    with pytest.raises(ValidationError) as refused:
        connection_add(name="evil", kind="twilio", settings={
            "account_sid": "AC1", "auth_token": "t", "api_base_url": "http://10.0.0.5"})
    assert "api_base_url" in str(refused.value)
    assert not ProviderConnection.objects.filter(name="evil").exists()
