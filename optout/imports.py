"""Suppression lists in and out: CSV import (a task, with progress and per-row errors) and
CSV export.

An import keeps every valid row and reports every bad one (the first thousand in detail):
a list of 100,000 numbers with a typo on line 5,000 must not be refused whole. Rows are
written in chunks, each its own transaction with its consent-log entries, so progress is
visible while it runs and a re-run after a crash only adds what is missing.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator

from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from core.phones import phone_normalize
from core.spreadsheets import cell_defuse
from optout import error_codes
from optout.error_codes import OptOutError
from optout.models import ConsentEvent, OptOut, OptOutImport
from optout.signals import numbers_opted_out

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 10 * 1024 * 1024
CHUNK_ROWS = 5000
MAX_REPORTED_ERRORS = 1000
MAX_REASON = 500


def optout_import_create(*, file_name: str, content: bytes, actor=None,
                         actor_label: str = "") -> OptOutImport:
    """Check the upload's shape and queue it; the rows are read by the task."""
    if len(content) > MAX_IMPORT_BYTES:
        raise OptOutError(error_codes.FILE_TOO_LARGE,
                          f"The file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it.",
                          "file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OptOutError(error_codes.INVALID_FILE,
                          "The file is not UTF-8 text; save it as CSV (UTF-8).", "file") from exc
    if "\x00" in text:  # no text file has one, and PostgreSQL text cannot hold it
        raise OptOutError(error_codes.INVALID_FILE,
                          "The file holds NUL characters, so it is not text; save it as CSV "
                          "(UTF-8).", "file")
    rows = _rows(text)
    total = sum(1 for _ in rows)
    if total == 0:
        raise OptOutError(error_codes.INVALID_FILE,
                          "The file has no numbers: one phone number per line, optionally "
                          "followed by a reason.", "file")
    job = OptOutImport.objects.create(file_name=file_name[:200], content=text,
                                      total_rows=total, created_by=actor,
                                      actor_label=actor_label)
    schema = connection.schema_name
    transaction.on_commit(lambda: optout_import_enqueue(job.pk, schema=schema))
    return job


def optout_import_enqueue(import_id: int, *, schema: str) -> None:
    from optout.tasks import optout_import_run

    try:
        optout_import_run.apply_async(args=[import_id], headers={"_schema_name": schema},
                                      retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; import %s in %s left to the sweep", import_id,
                       schema, exc_info=True)


def optout_sweep(*, schema: str, stale_before) -> int:
    """Re-enqueue imports still pending well after they were queued (a lost task)."""
    due = list(OptOutImport.objects.filter(status=OptOutImport.Status.PENDING,
                                           created_at__lt=stale_before)
               .values_list("pk", flat=True))
    for import_id in due:
        optout_import_enqueue(import_id, schema=schema)
    return len(due)


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every non-empty data row; a first row naming a ``phone``
    column is a header."""
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if reader.line_num == 1 and "phone" in cells[0].strip().lower():
            continue
        yield reader.line_num, cells


def do_optout_import(*, import_id: int) -> None:
    """Process an import from its first row; safe to run again (rows already opted out
    count as ``already``)."""
    with transaction.atomic():
        job = (OptOutImport.objects.select_for_update(skip_locked=True)
               .filter(pk=import_id, status__in=[OptOutImport.Status.PENDING,
                                                  OptOutImport.Status.RUNNING]).first())
        if job is None:
            return
        OptOutImport.objects.filter(pk=job.pk).update(
            status=OptOutImport.Status.RUNNING, processed_rows=0, added=0, already=0,
            error_count=0, errors=[])
    job.refresh_from_db()
    chunk: list[tuple[int, list[str]]] = []
    for row in _rows(job.content):
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            _import_chunk(job, chunk)
            chunk = []
    if chunk:
        _import_chunk(job, chunk)
    OptOutImport.objects.filter(pk=job.pk).update(
        status=OptOutImport.Status.DONE, finished_at=timezone.now(), content="")


def _import_chunk(job: OptOutImport, rows: list[tuple[int, list[str]]]) -> None:
    valid: dict[str, str] = {}
    errors = []
    for line, cells in rows:
        value = cells[0].strip()
        try:
            phone = phone_normalize(value, field="phone")
        except DomainError as exc:
            errors.append({"line": line, "value": value[:40], "detail": exc.detail})
            continue
        valid.setdefault(phone, (cells[1].strip() if len(cells) > 1 else "")[:MAX_REASON])
    with transaction.atomic():
        added = _insert_new(valid)
        ConsentEvent.objects.bulk_create([
            ConsentEvent(phone=phone, action=ConsentEvent.Action.OPT_OUT,
                         source=ConsentEvent.Source.IMPORT, reason=valid[phone],
                         actor=job.created_by, actor_label=job.actor_label)
            for phone in added
        ])
        if added:
            numbers_opted_out.send(sender=OptOut, phones=added,
                                   source=ConsentEvent.Source.IMPORT, reason="",
                                   actor=job.created_by, actor_label=job.actor_label,
                                   message=None)
        job.processed_rows += len(rows)
        job.added += len(added)
        job.already += len(valid) - len(added)
        job.error_count += len(errors)
        job.errors = (job.errors + errors)[:MAX_REPORTED_ERRORS]
        job.save(update_fields=["processed_rows", "added", "already", "error_count",
                                "errors"])


def _insert_new(valid: dict[str, str]) -> list[str]:
    """Insert tenant-wide opt-outs for the numbers not already out; return those added.

    One statement per chunk. Imports take no per-number lock: they stand for consent
    given before, not for a STOP racing a send.
    """
    if not valid:
        return []
    table = connection.ops.quote_name(OptOut._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (phone, sender_address, source, reason, created_at) "  # noqa: S608
            "SELECT phone, '', %s, reason, now() FROM unnest(%s::text[], %s::text[]) "
            "AS t(phone, reason) ON CONFLICT (phone, sender_address) DO NOTHING "
            "RETURNING phone",
            [ConsentEvent.Source.IMPORT, list(valid), list(valid.values())],
        )
        return [row[0] for row in cursor.fetchall()]


def optouts_csv() -> Iterator[str]:
    """The suppression list as CSV lines, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(["phone", "sender", "source", "reason", "opted_out_at"])
    for entry in OptOut.objects.order_by("id").iterator(chunk_size=2000):
        yield line([entry.phone, entry.sender_address, entry.source, cell_defuse(entry.reason),
                    entry.created_at.isoformat()])
