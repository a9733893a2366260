"""Inserting many rows with one statement whose size does not grow with their number.

``QuerySet.bulk_create`` compiles a placeholder and converts a value for every field of
every row; for a thousand messages of thirty columns that cost more than PostgreSQL's
work. Here each column is one parameter: the value every row shares, or an array that
``unnest`` turns back into rows.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model

# Field types whose Python values PostgreSQL takes in an array as they are; any other
# field's values go through the field's own conversion first.
PLAIN_TYPES = frozenset({"CharField", "TextField", "IntegerField", "PositiveIntegerField",
                          "PositiveSmallIntegerField", "SmallIntegerField", "BigIntegerField",
                          "BooleanField", "DateTimeField", "ForeignKey"})


def rows_insert(objects: list[Model], *, conflict_target: str = "") -> list:
    """Insert ``objects`` (all of one model, in the current schema), set their ids and
    return the ids inserted.

    Every concrete field is written as the objects hold it: fields Django fills on save
    (``auto_now``, ``auto_now_add``) must be set beforehand. With ``conflict_target`` (a
    column list such as ``"(phone)"``), rows that conflict there are skipped, and no
    object gets its id (read them back by their unique columns); the ids returned are
    those of the rows inserted, in no particular order.
    """
    if not objects:
        return []
    model = type(objects[0])
    inserted = _insert(model, {
        field.attname: [getattr(obj, field.attname) for obj in objects]
        for field in _fields(model)
    }, len(objects), conflict_target)
    if not conflict_target:
        for obj, pk_value in zip(objects, inserted, strict=True):
            obj.pk = pk_value
            obj._state.adding = False
    return inserted


def values_insert(model: type[Model], rows: list[dict[str, Any]], *,
                  conflict_target: str = "", update: tuple[str, ...] = (),
                  returning: tuple[str, ...] = ()) -> list:
    """``rows_insert`` for rows given as ``{attribute name: value}``, without building a
    model object per row; an attribute a row leaves out takes the field's default
    (``auto_now`` fields have none: give them).

    With ``update`` (attribute names), a row that conflicts on ``conflict_target`` has
    those columns set from the new row instead of being skipped, and is returned too (no
    two rows may conflict with the same one). With ``returning`` (attribute names), each
    row returned is a tuple of those instead of an id."""
    if not rows:
        return []
    columns = {}
    for field in _fields(model):
        default = field.get_default()
        columns[field.attname] = [row.get(field.attname, default) for row in rows]
    return _insert(model, columns, len(rows), conflict_target, update, returning)


def _fields(model: type[Model]) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert(model: type[Model], columns: dict[str, list], count: int,
            conflict_target: str, update: tuple[str, ...] = (),
            returning: tuple[str, ...] = ()) -> list:
    quote = connection.ops.quote_name
    column = {field.attname: field.column for field in model._meta.concrete_fields}
    names, selects, params, arrays = [], [], [], []
    for field in _fields(model):
        values = columns[field.attname]
        names.append(quote(field.column))
        if all(value == values[0] for value in values):
            selects.append(f"%s::{field.cast_db_type(connection)}")
            params.append(field.get_db_prep_save(values[0], connection))
        else:
            if field.get_internal_type() not in PLAIN_TYPES:
                values = [field.get_db_prep_save(value, connection) for value in values]
            arrays.append((field, values))
            selects.append(f"u.c{len(arrays)}")
    # Every row alike (one object, say): a series stands in for the arrays.
    source = f"generate_series(1, {count}) AS u(n)"
    if arrays:
        unnest = ", ".join(f"%s::{field.cast_db_type(connection)}[]" for field, _ in arrays)
        aliases = ", ".join(f"c{index}" for index in range(1, len(arrays) + 1))
        source = f"unnest({unnest}) WITH ORDINALITY AS u({aliases}, n)"
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) "  # noqa: S608
           f"SELECT {', '.join(selects)} FROM {source} ORDER BY u.n")
    if conflict_target and update:
        sets = ", ".join(f"{quote(column[name])} = EXCLUDED.{quote(column[name])}"
                         for name in update)
        sql += f" ON CONFLICT {conflict_target} DO UPDATE SET {sets}"
    elif conflict_target:
        sql += f" ON CONFLICT {conflict_target} DO NOTHING"
    # Rows are inserted in the order of the source, and RETURNING follows it (which
    # bulk_create relies on as well).
    names = ", ".join(quote(column[name]) for name in returning or (model._meta.pk.attname,))
    sql += f" RETURNING {names}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *(values for _, values in arrays)])
        found = cursor.fetchall()
    return found if returning else [row[0] for row in found]
