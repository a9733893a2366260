"""`migrate_schemas` executor: parallel by default, and it skips schemas with nothing to apply.

django-tenants runs Django's whole `migrate` command per schema even when nothing is pending
(about 0.13 s each here: 26 s for 200 tenants, minutes for a thousand). One query per schema
against its ``django_migrations`` finds the schemas that are already up to date; only the
others go to django-tenants' executor. django-tenants chooses the executor from the
``EXECUTOR`` environment variable; here it comes from ``TENANT_MIGRATION_EXECUTOR``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import MigrationExecutor, StandardExecutor
from django_tenants.migration_executors import get_executor as django_tenants_executor

# Options that change what migrate does: with any of them, every schema goes through.
_EXPLICIT = ("app_label", "migration_name", "fake", "fake_initial", "plan", "prune",
             "check_unapplied", "run_syncdb")


def pending_schemas(schemas: Iterable[str]) -> list[str]:
    """The schemas, in order, whose migration history lacks any migration of the project."""
    migrations = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    pending = []
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".django_migrations']
            )
            if not cursor.fetchone()[0]:
                pending.append(schema)
                continue
            cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608
            if not migrations <= set(cursor.fetchall()):
                pending.append(schema)
    return pending


def get_executor(codename: str | None = None) -> type[MigrationExecutor]:
    base = django_tenants_executor(codename or settings.TENANT_MIGRATION_EXECUTOR)

    class SkipUpToDate(base):
        def run_migrations(self, tenants=None):
            tenants = list(tenants or [])
            if any(self.options.get(option) for option in _EXPLICIT):
                return super().run_migrations(tenants=tenants)
            pending = pending_schemas(tenants)
            if self.options.get("verbosity", 1) >= 1 and len(pending) < len(tenants):
                print(f"[migrate] {len(tenants) - len(pending)} schema(s) up to date, "
                      f"{len(pending)} to migrate")
            if len(pending) == 1 or connection.in_atomic_block:
                # A worker pool for one schema only costs start-up, and the pool's executor
                # closes this connection, which is impossible inside a caller's transaction.
                return StandardExecutor(self.args, self.options).run_migrations(tenants=pending)
            if pending:
                return super().run_migrations(tenants=pending)
            return None

    return SkipUpToDate
