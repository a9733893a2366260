import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD, host_client, login, schema_names

VALID = {
    "name": "Acme Ltd",
    "slug": "acme",
    "owner_email": "boss@acme.example",
    "owner_password": PASSWORD,
}


def test_signup_creates_a_tenant_whose_owner_signs_in_on_its_own_host(public_client):
    response = public_client.post("/signup/", VALID)

    assert response.status_code == 200
    assert b"http://acme.localhost:8000/accounts/login/" in response.content
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.schema_name in schema_names()
    assert Domain.objects.get(tenant=tenant).domain == "acme.localhost"

    client = host_client("acme.localhost")
    assert login(client, "boss@acme.example").status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert b"Acme Ltd" in home.content
    assert b"Owner" in home.content


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"slug": "ab"}, "slug", b"3-30 lowercase"),
        ({"slug": "Bad_Slug"}, "slug", b"3-30 lowercase"),
        ({"slug": "-acme"}, "slug", b"3-30 lowercase"),
        ({"slug": "a" * 31}, "slug", b"at most 30"),
        ({"slug": "operator"}, "slug", b"reserved"),
        ({"slug": "www"}, "slug", b"reserved"),
        ({"slug": "alpha"}, "slug", b"already taken"),
        ({"owner_email": "not-an-email"}, "owner_email", b"valid email"),
        ({"owner_password": "short"}, "owner_password", b"too short"),
        ({"name": ""}, "name", b"required"),
    ],
)
def test_bad_signup_shows_the_error_and_creates_nothing(public_client, change, field, message):
    schemas_before = schema_names()
    tenants_before = Tenant.objects.count()

    response = public_client.post("/signup/", {**VALID, **change})

    assert response.status_code == 400
    assert message in response.content
    assert field in response.context["form"].errors
    assert schema_names() == schemas_before
    assert Tenant.objects.count() == tenants_before


def test_signup_page_escapes_what_was_typed(public_client):
    response = public_client.post("/signup/", {**VALID, "name": "<script>x()</script>",
                                                "slug": "x"})
    assert b"<script>x()</script>" not in response.content
    assert b"&lt;script&gt;" in response.content


def test_signups_are_limited_per_address_and_hour(public_client):
    taken = {**VALID, "slug": "alpha"}  # refused by validation: no schema to clone
    for _ in range(settings.SIGNUP_LIMIT_PER_HOUR):
        assert public_client.post("/signup/", taken).status_code == 400

    refused = public_client.post("/signup/", VALID)
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many signups from your network" in page
    assert 'value="Acme Ltd"' in page and PASSWORD not in page
    assert not Tenant.objects.filter(slug="acme").exists()
    assert public_client.get("/signup/").status_code == 200

    elsewhere = public_client.post("/signup/", taken, REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 400


def test_signup_is_only_on_the_public_host(alpha_client):
    assert alpha_client.get("/signup/").status_code == 404


def test_provision_tenant_command_creates_tenant_and_owner(db, capsys):
    call_command(
        "provision_tenant", "globex", "--name", "Globex", "--domain", "sms.globex.example",
        "--owner-email", "hank@globex.example", "--owner-password", PASSWORD,
    )

    assert "sign in at http://sms.globex.example:8000/accounts/login/" in capsys.readouterr().out
    tenant = Tenant.objects.get(slug="globex")
    assert tenant.primary_host == "sms.globex.example"
    client = host_client("sms.globex.example")
    assert login(client, "hank@globex.example").status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Not_A_Slug"], "SLUG: Use 3-30 lowercase"),
        (["alpha"], "SLUG: 'alpha' is already taken."),
        (["newco", "--owner-email", "nope"], "--owner-email: Enter a valid email address."),
        (["newco", "--domain", "alpha.localhost"], "--domain: The host 'alpha.localhost'"),
    ],
)
def test_provision_tenant_refuses_bad_input_and_creates_nothing(db, args, message):
    slug, *extra = args
    options = {"--name": "New Co", "--owner-email": "a@newco.example", "--owner-password": PASSWORD}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        options[flag] = value
    argv = [slug] + [item for pair in options.items() for item in pair]
    schemas_before = schema_names()
    tenants_before = Tenant.objects.count()

    with pytest.raises(CommandError) as excinfo:
        call_command("provision_tenant", *argv)

    assert message in str(excinfo.value)
    assert schema_names() == schemas_before
    assert Tenant.objects.count() == tenants_before
