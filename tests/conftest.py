"""Shared fixtures: one test database per session, tenants `alpha` and `beta` provisioned once
(each its own schema, cloned from the template), tests wrapped in a rolled-back transaction."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Tenant
from tenants.services import public_tenant_ensure, template_tenant_ensure, tenant_provision
from tests.support.db import provisioned_state_record

PASSWORD = "a-long-test-password"


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker) -> Iterator[None]:
    """Create the test database (always: subprocess tests need it even when no test in the
    run asks for `db`), then the public tenant, the template and the two test tenants."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        public_tenant_ensure()
        template_tenant_ensure()
        for slug in ("alpha", "beta"):
            provisioned_state_record(tenant_provision(
                slug=slug, name=slug.title(), owner_email=f"owner@{slug}.example",
                owner_password=PASSWORD,
            ))
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Database access outside a test transaction, for tests whose data another process
    (a Celery worker, a web server) must see. Such a test removes what it created, with
    ``tests.support.db.tenant_data_reset``."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _public_schema_after_test() -> Iterator[None]:
    # The tenant middleware switches the shared connection's schema during a request.
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _fresh_login_rate_limits() -> Iterator[None]:
    """allauth counts sign-ins per IP in the cache (Redis), which outlives a test: without
    this, the suite's many sign-ins from 127.0.0.1 would trip the limit in later tests."""
    yield
    from django.core.cache import cache

    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match="*allauth:rl:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def alpha(db) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def beta(db) -> Tenant:
    return Tenant.objects.get(slug="beta")


def host_client(host: str) -> Client:
    return Client(HTTP_HOST=host)


@pytest.fixture
def alpha_client(alpha) -> Client:
    return host_client("alpha.localhost")


@pytest.fixture
def beta_client(beta) -> Client:
    return host_client("beta.localhost")


@pytest.fixture
def public_client(db) -> Client:
    return host_client(settings.BASE_DOMAIN)


def schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return {row[0] for row in cursor.fetchall()}


def login(client: Client, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def csrf_checked_client(host: str, email: str, password: str = PASSWORD) -> Client:
    """A client that, like a browser, must send the CSRF token with every POST; signed in
    through the login form with the token the form gave it."""
    client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    client.post("/accounts/login/", {"login": email, "password": password,
                                     "csrfmiddlewaretoken": page.cookies["csrftoken"].value})
    return client


@pytest.fixture(scope="session")
def process_env(django_db_setup) -> dict[str, str]:
    """Environment for a subprocess (manage.py, a Celery worker) that must use the test
    database and the suite's embedded Redis."""
    db = connection.settings_dict
    host = db.get("HOST") or ""
    url = f"postgresql://{db['USER']}@/{db['NAME']}?host={quote(host)}"
    if host and not host.startswith("/"):
        url = f"postgresql://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_schema(tenant: Tenant):
    return schema_context(tenant.schema_name)


PUBLIC = get_public_schema_name()


pytest_plugins = ["tests.support.messaging"]
