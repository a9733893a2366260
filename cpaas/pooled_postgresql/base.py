"""django-tenants' PostgreSQL backend for a transaction-mode pooler such as PgBouncer
(``DATABASE_POOLED``; docs/ARCHITECTURE.md#pooled-connections).

A transaction-mode pooler lends a server connection for one transaction only, so a session
``SET search_path`` (what django-tenants issues, once per schema change) and the query after
it may run on two server connections, the second still set to another tenant's schema. Here
the schema travels with the work instead: the first statement of every transaction, and
every statement run in autocommit, is sent as ``SET LOCAL search_path = ...; <statement>``
in one message. PostgreSQL runs the two in one transaction, which the pooler keeps on one
server connection, and ``SET LOCAL`` ends with that transaction, so nothing is left on the
server connection for the next client. It costs no extra round trip.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.backends.postgresql.base import Cursor
from django.db.backends.postgresql.creation import DatabaseCreation
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import quote_schema_name
from psycopg import pq, sql

# Statements PostgreSQL refuses inside a transaction block, which a multi-statement message
# is; none of them reads the search_path.
_OUTSIDE_TRANSACTIONS = re.compile(
    r"^\s*((CREATE|DROP|ALTER)\s+DATABASE|VACUUM|ALTER\s+SYSTEM)\b|\bCONCURRENTLY\b", re.I)


def _text(query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    return query if isinstance(query, str) else ""


class PooledCursor(Cursor):
    """Django's client-side-binding cursor, which sends each statement with the simple query
    protocol and so may send two at once."""

    tenant_connection: DatabaseWrapper | None = None

    def _schema_statement(self, query: Any) -> str | None:
        wrapper = self.tenant_connection
        if wrapper is None:
            return None
        status = self.connection.info.transaction_status
        if status == pq.TransactionStatus.INERROR:
            return None  # the statement fails anyway; the rollback comes next
        wanted = wrapper.search_path_wanted()
        if status == pq.TransactionStatus.INTRANS:
            if wrapper.search_path_in_transaction == wanted:
                return None
        elif self.connection.autocommit:
            wrapper.search_path_in_transaction = None
            if _OUTSIDE_TRANSACTIONS.search(_text(query)):
                return None
            return wrapper.search_path_statement(wanted)
        wrapper.search_path_in_transaction = wanted
        return wrapper.search_path_statement(wanted)

    def execute(self, query, params=None, *, prepare=None, binary=None):
        statement = self._schema_statement(query)
        if statement is None:
            return super().execute(query, params, prepare=prepare, binary=binary)
        if params is not None:
            statement = statement.replace("%", "%%")
        if isinstance(query, str):
            combined: Any = f"{statement}; {query}"
        elif isinstance(query, bytes):
            combined = f"{statement}; ".encode() + query
        else:
            combined = sql.Composed([sql.SQL(statement + "; "), query])
        super().execute(combined, params, prepare=prepare, binary=binary)
        self.nextset()  # past the SET's result, to the statement's own
        return self

    def executemany(self, query, params_seq, *, returning=False):
        statement = self._schema_statement(query)
        if statement is None:
            return super().executemany(query, params_seq, returning=returning)
        if self.connection.autocommit:
            with self.connection.transaction():
                super().execute(statement)
                return super().executemany(query, params_seq, returning=returning)
        super().execute(statement)
        return super().executemany(query, params_seq, returning=returning)


class PooledDatabaseCreation(DatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        # The pooler keeps idle server connections to the test database open; FORCE ends
        # them (PostgreSQL 13 and later).
        with self._nodb_cursor() as cursor:
            cursor.execute(
                f"DROP DATABASE {self.connection.ops.quote_name(test_database_name)} "
                "WITH (FORCE)")


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    creation_class = PooledDatabaseCreation

    def __init__(self, *args, **kwargs) -> None:
        # The search_path this connection's open transaction was given, None outside one.
        self.search_path_in_transaction: list[str] | None = None
        super().__init__(*args, **kwargs)

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params["cursor_factory"] = PooledCursor
        return params

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if isinstance(cursor, PooledCursor):
            cursor.tenant_connection = self
        return cursor

    def _handle_search_path(self, cursor=None) -> None:
        """The cursor sets the schema inside each transaction instead of once per session."""

    def search_path_wanted(self) -> list[str]:
        return self._get_cursor_search_paths()

    @staticmethod
    def search_path_statement(paths: list[str]) -> str:
        return "SET LOCAL search_path = " + ",".join(quote_schema_name(p) for p in paths)

    def _forget_search_path(self) -> None:
        self.search_path_in_transaction = None

    def close(self) -> None:
        self._forget_search_path()
        super().close()

    def rollback(self) -> None:
        self._forget_search_path()
        super().rollback()

    def savepoint_rollback(self, sid) -> None:
        # ROLLBACK TO SAVEPOINT undoes a SET LOCAL issued after the savepoint.
        try:
            super().savepoint_rollback(sid)
        finally:
            self._forget_search_path()
