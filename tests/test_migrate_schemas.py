from django.core.management import call_command
from django.db import connection

from tenants.migration_executor import pending_schemas


def test_up_to_date_schemas_are_skipped_and_a_behind_one_is_found(alpha, beta):
    schemas = ["public", "tenant_template", alpha.schema_name, beta.schema_name]
    assert pending_schemas(schemas) == []

    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{beta.schema_name}".django_migrations '
            "WHERE app = 'accounts' AND name = '0001_initial'"
        )
    assert pending_schemas(schemas) == [beta.schema_name]


def test_migrate_schemas_with_nothing_to_apply_touches_no_schema(db, capsys):
    call_command("migrate_schemas", executor="standard", interactive=False, verbosity=1)
    out = capsys.readouterr().out
    assert "schema(s) up to date, 0 to migrate" in out
    assert "Applying" not in out
