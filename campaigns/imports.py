"""Members in and out in bulk: CSV import (a task, with progress and per-row errors) and CSV
export.

An import stands for consent given elsewhere (a paper form, a checkout box), so it says
where and keeps the proof: each member's consent log carries the import's consent source
and evidence note. Imported members are subscribed at once and texted nothing: a
100,000-row import must not send 100,000 messages.

Every valid row is kept and every bad one reported (bad number, opted out, repeated in the
file, left the list before): one typo must not refuse a file. Rows are written in chunks of
set-based statements, each chunk its own transaction with its consent-log rows, so progress
shows while it runs and a re-run after a crash only adds what is missing.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from campaigns import error_codes
from campaigns.error_codes import ListError
from campaigns.lists import imports_lock
from campaigns.models import ListConsentEvent, ListImport, SubscriberList, Subscription
from core.errors import DomainError
from core.live import inbox_changed
from core.phones import phone_normalize
from core.spreadsheets import cell_defuse
from messaging.contacts import FIELD_KEY, MAX_FIELDS, contact_values_clean
from messaging.models import Contact
from optout.selectors import phones_opted_out_anywhere

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
CHUNK_ROWS = 5000
# Enough to report every bad row of a 100,000-row file with 1% of them bad, and more.
MAX_REPORTED_ERRORS = 5000
MAX_NOTE = 2000
# Tags in one cell: "vip; spring" or "vip, spring".
TAG_SEPARATOR = re.compile(r"[;,]")
Status = Subscription.Status

# Bulk values travel as one text each, split by PostgreSQL: psycopg's work per element of
# 5,000-item arrays (or per placeholder of an IN list) cost more than the statements. The
# unit separator appears in no E.164 number, no id and no JSON text (json.dumps escapes
# control characters); names lose it.
SEPARATOR = "\x1f"
SPLIT = "string_to_array(%s, E'\\x1f')"


def _joined(values) -> str:
    return SEPARATOR.join(str(value) for value in values)


@dataclass(frozen=True)
class Columns:
    """Where each value sits in a row; every other named column is a custom field."""

    phone: int
    name: int | None
    tags: int | None
    fields: tuple[tuple[str, int], ...]


def _header(text: str) -> Columns:
    """The columns of the file's first row, which must name a ``phone`` column."""
    for cells in csv.reader(io.StringIO(text)):
        if any(cell.strip() for cell in cells):
            names = [cell.strip() for cell in cells]
            break
    else:
        raise ListError(error_codes.INVALID_FILE, "The file is empty.", "file")
    lowered = [name.lower() for name in names]
    if "phone" not in lowered:
        raise ListError(error_codes.MISSING_PHONE_COLUMN,
                        "The first row must name the columns, one of them 'phone' (then "
                        "optionally 'name', 'tags' and your own fields).", "file")
    fields = []
    for index, name in enumerate(names):
        if lowered[index] in ("phone", "name", "tags") or not name:
            continue
        if not FIELD_KEY.fullmatch(name):
            raise ListError(error_codes.INVALID_FILE,
                            f"The column {name[:70]!r} cannot be a field: a field's name is 1 "
                            "to 64 letters, digits, _ or -.", "file")
        fields.append((name, index))
    repeated = {name for name in lowered if name and lowered.count(name) > 1}
    if repeated:
        raise ListError(error_codes.INVALID_FILE,
                        f"The column {sorted(repeated)[0]!r} appears twice.", "file")
    if len(fields) > MAX_FIELDS:
        raise ListError(error_codes.INVALID_FILE,
                        f"A contact has at most {MAX_FIELDS} custom fields.", "file")
    return Columns(phone=lowered.index("phone"),
                   name=lowered.index("name") if "name" in lowered else None,
                   tags=lowered.index("tags") if "tags" in lowered else None,
                   fields=tuple(fields))


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every non-empty row after the header."""
    reader = csv.reader(io.StringIO(text))
    header_seen = False
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if not header_seen:
            header_seen = True
            continue
        yield reader.line_num, cells


def list_import_create(*, subscriber_list: SubscriberList, file_name: str, content: bytes,
                       consent_source: str, evidence: str, actor=None,
                       actor_label: str = "") -> ListImport:
    """Check the upload's shape and queue it; the rows are read by the task. Refused
    whole, with nothing stored: a file too large, not UTF-8 text, without a ``phone``
    column or without rows, and a missing consent source or evidence note."""
    consent_source = " ".join((consent_source or "").split())[:200]
    evidence = (evidence or "").strip()[:MAX_NOTE]
    if not consent_source:
        raise ListError(error_codes.EVIDENCE_REQUIRED,
                        "Say where these people agreed to your texts (a sign-up sheet, a "
                        "checkout box).", "consent_source")
    if not evidence:
        raise ListError(error_codes.EVIDENCE_REQUIRED,
                        "Say what proves their consent and where it is kept.", "evidence")
    if len(content) > MAX_IMPORT_BYTES:
        raise ListError(error_codes.FILE_TOO_LARGE,
                        f"The file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it.",
                        "file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListError(error_codes.INVALID_FILE,
                        "The file is not UTF-8 text; save it as CSV (UTF-8).", "file") from exc
    if "\x00" in text:  # no text file has one, and PostgreSQL text cannot hold it
        raise ListError(error_codes.INVALID_FILE,
                        "The file holds NUL characters, so it is not text; save it as CSV "
                        "(UTF-8).", "file")
    try:
        _header(text)
        total = sum(1 for _ in _rows(text))
    except csv.Error as exc:
        raise ListError(error_codes.INVALID_FILE, f"The file is not valid CSV: {exc}.",
                        "file") from exc
    if total == 0:
        raise ListError(error_codes.INVALID_FILE,
                        "The file has a header but no rows: one person per line.", "file")
    job = ListImport.objects.create(
        list=subscriber_list, file_name=file_name[:200], content=text,
        consent_source=consent_source, evidence=evidence, total_rows=total,
        created_by=actor, actor_label=actor_label[:100])
    schema = connection.schema_name
    transaction.on_commit(lambda: list_import_enqueue(job.pk, schema=schema))
    return job


def list_import_enqueue(import_id: int, *, schema: str) -> None:
    from campaigns.tasks import list_import_run

    try:
        list_import_run.apply_async(args=[import_id], headers={"_schema_name": schema},
                                    retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; list import %s in %s left to the sweep",
                       import_id, schema, exc_info=True)


def do_list_import(*, import_id: int) -> None:
    """Process an import from its first row; safe to run again (members already
    subscribed count as ``already``)."""
    with transaction.atomic():
        job = (ListImport.objects.select_for_update(skip_locked=True)
               .select_related("list")
               .filter(pk=import_id, status__in=[ListImport.Status.PENDING,
                                                 ListImport.Status.RUNNING]).first())
        if job is None:
            return
        ListImport.objects.filter(pk=job.pk).update(
            status=ListImport.Status.RUNNING, processed_rows=0, added=0, already=0,
            error_count=0, errors=[])
    job.refresh_from_db()
    columns = _header(job.content)
    seen: dict[str, int] = {}
    # The next chunk is parsed (phonenumbers, mostly) in a thread while the database
    # writes this one: the two cost about the same, and the parse touches no database.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list-import") as parser:
        writing: Future | None = None
        for chunk in _chunks(_rows(job.content)):
            parsing = parser.submit(_parse, chunk, columns)
            if writing is not None:
                _import_chunk(job, writing.result(), seen)
            writing = parsing
        if writing is not None:
            _import_chunk(job, writing.result(), seen)
    ListImport.objects.filter(pk=job.pk).update(
        status=ListImport.Status.DONE, finished_at=timezone.now(), content="")


def _chunks(rows: Iterator[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _Row:
    """A row's contact values, ready for the upsert (the parse thread encodes them)."""

    line: int
    name: str
    fields_json: str
    tags_json: str


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _row(line: int, cells: list[str], columns: Columns) -> _Row:
    fields = {name: value for name, index in columns.fields if (value := _cell(cells, index))}
    tags = [tag for tag in TAG_SEPARATOR.split(_cell(cells, columns.tags)) if tag.strip()]
    name, fields, tags = contact_values_clean(name=_cell(cells, columns.name), fields=fields,
                                              tags=tags)
    return _Row(line=line, name=name.replace(SEPARATOR, ""), fields_json=json.dumps(fields),
                tags_json=json.dumps(tags))


def _error(line: int, value: str, code: str, detail: str) -> dict:
    return {"line": line, "value": value[:40], "code": code, "detail": detail}


@dataclass(frozen=True)
class _Parsed:
    """A row read: its number in E.164 and its contact values, or why not."""

    line: int
    value: str
    phone: str | None
    row: _Row | None
    error: dict | None


def _parse(rows: list[tuple[int, list[str]]], columns: Columns) -> list[_Parsed]:
    parsed = []
    for line, cells in rows:
        value = _cell(cells, columns.phone)
        try:
            phone = phone_normalize(value, field="phone")
        except DomainError as exc:
            parsed.append(_Parsed(line, value, None, None,
                                  _error(line, value, exc.code, exc.detail)))
            continue
        try:
            parsed.append(_Parsed(line, value, phone, _row(line, cells, columns), None))
        except DomainError as exc:
            parsed.append(_Parsed(line, value, phone, None,
                                  _error(line, value, exc.code, exc.detail)))
    return parsed


def _import_chunk(job: ListImport, parsed: list[_Parsed], seen: dict[str, int]) -> None:
    errors = []
    valid: dict[str, _Row] = {}
    for entry in parsed:
        if entry.phone is not None and entry.phone in seen:
            errors.append(_error(entry.line, entry.value, error_codes.DUPLICATE_ROW,
                                 f"{entry.phone} is also on line {seen[entry.phone]}."))
            continue
        if entry.phone is not None:
            seen[entry.phone] = entry.line
        if entry.row is None:
            errors.append(entry.error)
        else:
            valid[entry.phone] = entry.row
    with transaction.atomic():
        _drop_opted_out(valid, errors)
        already = 0
        for phone, status in _statuses(job, valid):
            if status == Status.SUBSCRIBED:
                already += 1
                del valid[phone]
            elif status == Status.UNSUBSCRIBED:
                errors.append(_error(valid.pop(phone).line, phone,
                                     error_codes.UNSUBSCRIBED_BEFORE,
                                     f"{phone} left this list; only they can join it again."))
        # Contacts first, then the lock: an opt-out waiting for the lock may hold a new
        # contact's row, which the upsert would wait for in turn.
        contact_ids = _contacts_upsert(valid)
        imports_lock(shared=False)
        _drop_opted_out(valid, errors)
        added = _memberships_upsert(job, {phone: contact_ids[phone] for phone in valid})
        _consent_log(job, added)
        job.processed_rows += len(parsed)
        job.added += len(added)
        job.already += already + len(valid) - len(added)
        job.error_count += len(errors)
        job.errors = (job.errors + sorted(errors, key=lambda e: e["line"]))[
            :MAX_REPORTED_ERRORS]
        job.save(update_fields=["processed_rows", "added", "already", "error_count",
                                "errors"])
        if valid:
            inbox_changed()  # names and tags the inbox shows


def _drop_opted_out(valid: dict[str, _Row], errors: list[dict]) -> None:
    for phone in phones_opted_out_anywhere(phones=valid):
        errors.append(_error(valid.pop(phone).line, phone, error_codes.RECIPIENT_OPTED_OUT,
                             f"{phone} has opted out of your messages."))


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _statuses(job: ListImport, valid: dict[str, _Row]) -> list[tuple[str, str]]:
    """(phone, status) of the numbers of ``valid`` already on the list."""
    if not valid:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone, status FROM {_table(Subscription)} "  # noqa: S608
                       f"WHERE list_id = %s AND phone = ANY({SPLIT})",
                       [job.list_id, _joined(valid)])
        return cursor.fetchall()


def _contacts_upsert(valid: dict[str, _Row]) -> dict[str, int]:
    """Create the contacts that are new and add names, fields and tags to the others (a
    name replaces the old one unless blank; fields merge; new tags are appended); their
    ids by number."""
    if not valid:
        return {}
    table = _table(Contact)
    rows = list(valid.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS c (phone, name, fields, tags, created_at) "  # noqa: S608
            "SELECT t.phone, coalesce(t.name, ''), t.fields, "
            "ARRAY(SELECT jsonb_array_elements_text(t.tags))::varchar[], now() "
            f"FROM unnest({SPLIT}, {SPLIT}, {SPLIT}::jsonb[], {SPLIT}::jsonb[]) "
            "AS t(phone, name, fields, tags) "
            "ON CONFLICT (phone) DO UPDATE SET "
            "name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE c.name END, "
            "fields = c.fields || EXCLUDED.fields, "
            "tags = (c.tags || ARRAY(SELECT x FROM unnest(EXCLUDED.tags) AS x "
            "WHERE NOT x = ANY(c.tags))::varchar[])[1:50] "
            "WHERE (EXCLUDED.name <> '' AND EXCLUDED.name <> c.name) "
            "OR NOT c.fields @> EXCLUDED.fields OR NOT c.tags @> EXCLUDED.tags "
            "RETURNING phone, id",
            # A single empty name splits into no element at all: coalesce above.
            [_joined(valid), _joined(row.name for row in rows),
             _joined(row.fields_json for row in rows), _joined(row.tags_json for row in rows)],
        )
        ids = dict(cursor.fetchall())
        # Contacts the statement left alone (known, nothing new to add) return no row.
        unchanged = [phone for phone in valid if phone not in ids]
        if unchanged:
            cursor.execute(f"SELECT phone, id FROM {table} "  # noqa: S608
                           f"WHERE phone = ANY({SPLIT})", [_joined(unchanged)])
            ids.update(cursor.fetchall())
        return ids


def _memberships_upsert(job: ListImport, contact_ids: dict[str, int]) -> list[str]:
    """Subscribe the numbers not yet on the list and the pending ones; return those."""
    if not contact_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(Subscription)} AS s "  # noqa: S608
            "(list_id, contact_id, phone, status, source, changed_at, created_at) "
            "SELECT %s, t.contact_id, t.phone, %s, %s, now(), now() "
            f"FROM unnest({SPLIT}::bigint[], {SPLIT}) AS t(contact_id, phone) "
            "ON CONFLICT (list_id, phone) DO UPDATE SET status = EXCLUDED.status, "
            "source = EXCLUDED.source, changed_at = EXCLUDED.changed_at "
            "WHERE s.status = %s RETURNING s.phone",
            [job.list_id, Status.SUBSCRIBED, Subscription.Source.IMPORT,
             _joined(contact_ids.values()), _joined(contact_ids), Status.PENDING],
        )
        return [row[0] for row in cursor.fetchall()]


def _consent_log(job: ListImport, phones: list[str]) -> None:
    """One consent-log row per member subscribed, in one statement. Imports are not
    announced member by member (no ``subscriber.changed`` for each row)."""
    if not phones:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(ListConsentEvent)} "  # noqa: S608
            "(list_id, list_name, phone, action, source, evidence, actor_id, actor_label, "
            "created_at) SELECT %s, %s, phone, %s, %s, %s, %s, %s, now() "
            f"FROM unnest({SPLIT}) AS phone",
            [job.list_id, job.list.name, ListConsentEvent.Action.SUBSCRIBED,
             Subscription.Source.IMPORT, f"{job.consent_source}. {job.evidence}",
             job.created_by_id, job.actor_label, _joined(phones)],
        )


def list_imports_sweep(*, stale_before) -> list[int]:
    """Imports still pending well after they were queued (a lost task)."""
    return list(ListImport.objects.filter(status=ListImport.Status.PENDING,
                                          created_at__lt=stale_before)
                .values_list("pk", flat=True))


def members_csv(*, subscriber_list: SubscriberList) -> Iterator[str]:
    """The list's members as CSV lines, streamed; names and tags defused for
    spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(["phone", "name", "status", "source", "tags", "joined_at", "changed_at"])
    members = (subscriber_list.subscriptions.select_related("contact").order_by("id")
               .iterator(chunk_size=2000))
    for member in members:
        yield line([member.phone, cell_defuse(member.contact.name), member.status,
                    member.source, cell_defuse(", ".join(member.contact.tags)),
                    member.created_at.isoformat(), member.changed_at.isoformat()])
