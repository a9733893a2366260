"""The tenant cloner must reproduce the template exactly: later migrations find constraints
and indexes by name, and identity columns must keep counting from the copied rows."""

import pytest
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from accounts.models import User
from tenants.cloning import TemplateNotCloneable, schema_clone

CATALOG = """
SELECT 'table ' || c.relname || ' ' || string_agg(
         a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text::text
         || ':' || a.attidentity::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
         ',' ORDER BY a.attnum)
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(schema)s::regnamespace AND c.relkind = 'r'
 GROUP BY c.relname
UNION ALL
SELECT 'constraint ' || k.conname || ' ' || replace(pg_get_constraintdef(k.oid), %(schema)s, 'S')
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
 WHERE c.relnamespace = %(schema)s::regnamespace
UNION ALL
SELECT 'index ' || x.relname || ' ON ' || c.relname || ' unique:' || i.indisunique::text
       || ' columns:' || (SELECT string_agg(a.attname, ',' ORDER BY a.attname)
                          FROM pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
       || ' partial:' || (i.indpred IS NOT NULL)::text
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid
 WHERE c.relnamespace = %(schema)s::regnamespace
"""


def catalog(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(CATALOG, {"schema": schema})
        return {row[0] for row in cursor.fetchall()}


def count(schema: str, table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
        return cursor.fetchone()[0]


def test_a_provisioned_tenant_has_exactly_the_templates_structure_and_rows(alpha):
    template = settings.TENANT_BASE_SCHEMA
    assert catalog(alpha.schema_name) == catalog(template)
    for table in ("django_migrations", "django_content_type", "auth_permission"):
        assert count(alpha.schema_name, table) == count(template, table) > 0


def test_identity_columns_continue_after_the_copied_rows(alpha):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT max(id) FROM "{alpha.schema_name}".django_migrations')
        highest = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO \"{alpha.schema_name}\".django_migrations (app, name, applied) "
            "VALUES ('probe', 'probe', now()) RETURNING id"
        )
        assert cursor.fetchone()[0] == highest + 1


def test_foreign_keys_point_inside_the_new_schema(alpha, beta):
    # An email address row of alpha must reference alpha's users, not the template's.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE c.relnamespace = %s::regnamespace AND k.contype = 'f' "
            "AND c.relname = 'account_emailaddress'",
            [alpha.schema_name],
        )
        (definition,) = cursor.fetchone()
    assert f"REFERENCES {alpha.schema_name}.accounts_user" in definition
    with tenant_context(alpha):
        assert User.objects.filter(emailaddress__email="owner@alpha.example").exists()


def test_a_template_with_objects_the_cloner_cannot_copy_is_refused(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA clone_src")
        cursor.execute("CREATE TABLE clone_src.t (id int primary key)")
        cursor.execute("CREATE VIEW clone_src.v AS SELECT id FROM clone_src.t")
    with (
        pytest.raises(TemplateNotCloneable, match="view or materialized view v"),
        transaction.atomic(),
    ):
        schema_clone(source="clone_src", target="clone_dst")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'clone_dst'")
        assert cursor.fetchone() is None
