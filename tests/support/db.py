"""Cleaning up after tests whose data is committed (another process had to see it): by
schema, not by a list of models that goes stale as the apps grow; and what PostgreSQL's
planner believes of a table."""

from __future__ import annotations

from django.db import connection

from compat.public.models import TwilioAccount
from tenants.models import (
    LinkRoute,
    MessageRoute,
    QuotaUsage,
    SenderRoute,
    Tenant,
    TenantStatusChange,
    UsageCounter,
)

# Per schema, the tables provisioning filled (the owner, per-tenant settings): recorded once
# right after the session's tenants are provisioned, and never emptied.
_provisioned: dict[str, frozenset[str]] = {}


def _tables_with_rows(schema: str) -> tuple[frozenset[str], frozenset[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        tables = frozenset(row[0] for row in cursor.fetchall())
        filled = set()
        for table in tables:
            cursor.execute(f'SELECT EXISTS (SELECT FROM "{schema}"."{table}")')
            if cursor.fetchone()[0]:
                filled.add(table)
    return tables, frozenset(filled)


def provisioned_state_record(tenant: Tenant) -> None:
    """Remember which of ``tenant``'s tables provisioning filled."""
    _provisioned[tenant.schema_name] = _tables_with_rows(tenant.schema_name)[1]


def tenant_data_reset(tenant: Tenant) -> None:
    """Empty every table of ``tenant``'s schema that provisioning left empty (messages,
    contacts, senders, keys, ... whatever the apps add later), and drop the public routes
    to it, its Twilio-dialect account, its usage counters and its audit. Tables
    provisioning filled are kept: a test that changes them restores them."""
    schema = tenant.schema_name
    tables, _ = _tables_with_rows(schema)
    emptied = sorted(tables - _provisioned[schema] - {"django_migrations"})
    with connection.cursor() as cursor:
        if emptied:
            names = ", ".join(f'"{schema}"."{table}"' for table in emptied)
            cursor.execute(f"TRUNCATE {names} CASCADE")
    SenderRoute.objects.filter(tenant=tenant).delete()
    MessageRoute.objects.filter(schema_name=schema).delete()
    LinkRoute.objects.filter(schema_name=schema).delete()
    TwilioAccount.objects.filter(tenant=tenant).delete()
    UsageCounter.objects.filter(tenant=tenant).delete()
    QuotaUsage.objects.filter(tenant=tenant).delete()
    TenantStatusChange.objects.filter(tenant=tenant).delete()


def measured_rows(table: str) -> float:
    """The rows PostgreSQL's planner believes ``table`` (in the current schema) holds, as
    ``ANALYZE`` last measured them (``pg_class.reltuples``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]
