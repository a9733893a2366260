"""What the connector writes: part claims, submit outcomes, receipts and inbound messages.

Synchronous Django code, run by the connector on its one database thread. Submit outcomes
and receipts come in batches (hundreds a second at the target rate), so they are written
with a few set-based statements in one transaction rather than a statement per part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from messaging.inbound import message_receive
from messaging.models import Message
from messaging.outbound import status_apply
from messaging.providers.base import InboundSMS
from messaging.traffic import OUTCOMES, traffic_count
from smpp.codec import RECEIPT_STATUS, Receipt
from smpp.models import SmppPart
from smpp.queue import Job
from tenants.connections import connection_get_active
from tenants.status import tenant_state
from tenants.usage import Metered, usage_count

PARTS = SmppPart._meta.db_table
MESSAGES = Message._meta.db_table


def _values(rows: list[tuple], casts: tuple[str, ...]) -> tuple[str, list]:
    """``VALUES (%s::bigint, %s), (...)`` and its flat parameters."""
    row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    return ", ".join([row] * len(rows)), [value for values in rows for value in values]


@dataclass(frozen=True)
class ClaimedPart:
    pk: int
    number: int
    # False when an earlier hand-over of the same message claimed this part already.
    fresh: bool
    smsc_message_id: str | None = None
    state: str = SmppPart.State.SUBMITTING


def parts_claim(*, connection: str, jobs: list[tuple[Job, int]]) -> dict[str, list[ClaimedPart]]:
    """Claim the parts of ``jobs`` (each with its part count) before any is submitted.

    One ``INSERT ... ON CONFLICT DO NOTHING``: a part that comes back is the connector's to
    submit; a part that exists was claimed by an earlier hand-over (a restart, the sweep),
    and is returned as it stands so that nothing is submitted twice.
    """
    if not jobs:
        return {}
    now = timezone.now()
    rows = [(connection, job.schema, job.message_id, number, total,
             SmppPart.State.SUBMITTING.value, "", now, now)
            for job, total in jobs for number in range(1, total + 1)]
    values, params = _values(rows, ("text", "text", "bigint", "smallint", "smallint", "text",
                                    "text", "timestamptz", "timestamptz"))
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{PARTS} (connection, schema_name, message_id, number, total, "  # noqa: S608
            f"state, error_code, created_at, updated_at) VALUES {values} ON CONFLICT "
            "(schema_name, message_id, number) DO NOTHING "
            "RETURNING id, schema_name, message_id, number", params)
        claimed: dict[str, list[ClaimedPart]] = defaultdict(list)
        for pk, schema, message_id, number in cursor.fetchall():
            claimed[f"{schema}:{message_id}"].append(ClaimedPart(pk, number, True))
    repeated = [job for job, total in jobs if len(claimed.get(job.key, ())) < total]
    if repeated:
        by_key = {job.key: job for job in repeated}
        fresh = {(key, part.number) for key in by_key for part in claimed.get(key, ())}
        for part in SmppPart.objects.filter(
            schema_name__in={job.schema for job in repeated},
            message_id__in={job.message_id for job in repeated},
        ):
            key = f"{part.schema_name}:{part.message_id}"
            if key in by_key and (key, part.number) not in fresh:
                claimed[key].append(ClaimedPart(part.pk, part.number, False,
                                                part.smsc_message_id, part.state))
    return {key: sorted(parts, key=lambda p: p.number) for key, parts in claimed.items()}


def parts_release(*, part_pks: list[int]) -> None:
    """Unclaim parts that never went on the wire (a stop while unbound)."""
    SmppPart.objects.filter(pk__in=part_pks, smsc_message_id__isnull=True,
                            state=SmppPart.State.SUBMITTING).delete()


@dataclass(frozen=True)
class PartOutcome:
    pk: int
    state: str
    smsc_message_id: str | None = None
    error_code: str = ""


@dataclass(frozen=True)
class MessageOutcome:
    schema: str
    message_id: int
    # "sent" (every part has an SMSC id) or "failed".
    status: str
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""


def outcomes_record(*, connection: str, parts: list[PartOutcome],
                    messages: list[MessageOutcome]) -> None:
    """Store submit outcomes: part ids and states, then the messages they complete."""
    quote = db.ops.quote_name
    with transaction.atomic(), db.cursor() as cursor:
        ids = [part.smsc_message_id for part in parts if part.smsc_message_id]
        if ids:
            # An SMSC recycles its ids eventually: the old part will get no more receipts.
            cursor.execute(
                f"UPDATE public.{PARTS} SET smsc_message_id = NULL "  # noqa: S608
                "WHERE connection = %s AND smsc_message_id = ANY(%s) AND NOT id = ANY(%s)",
                [connection, ids, [part.pk for part in parts]])
        if parts:
            values, params = _values(
                [(p.pk, p.smsc_message_id, p.state, p.error_code[:50]) for p in parts],
                ("bigint", "text", "text", "text"))
            cursor.execute(
                f"UPDATE public.{PARTS} AS p SET "  # noqa: S608
                "smsc_message_id = COALESCE(v.sid, p.smsc_message_id), state = v.state, "
                "error_code = v.err, updated_at = now() "
                f"FROM (VALUES {values}) AS v(id, sid, state, err) WHERE p.id = v.id", params)
        by_schema: dict[tuple[str, str], list[MessageOutcome]] = defaultdict(list)
        for outcome in messages:
            by_schema[(outcome.schema, outcome.status)].append(outcome)
        for (schema, status), outcomes in by_schema.items():
            table = f"{quote(schema)}.{quote(MESSAGES)}"
            values, params = _values(
                [(o.message_id, o.provider_message_id or None, o.error_code[:50],
                  o.error_message[:2000]) for o in outcomes],
                ("bigint", "text", "text", "text"))
            stamp = "sent_at" if status == Message.Status.SENT else "failed_at"
            # An SMSC id that came round again must not clash with an old message's (one
            # provider id per connection in a schema): the old one keeps it.
            cursor.execute(
                f"UPDATE {table} AS m SET status = %s, "  # noqa: S608
                "provider_message_id = CASE WHEN EXISTS (SELECT 1 FROM "
                f"{table} AS o WHERE o.connection = m.connection AND o.direction = "
                "m.direction AND o.provider_message_id = v.pid) THEN m.provider_message_id "
                "ELSE COALESCE(v.pid, m.provider_message_id) END, "
                f"error_code = v.err, error_message = v.msg, {stamp} = now(), "
                f"updated_at = now() FROM (VALUES {values}) AS v(id, pid, err, msg) "
                "WHERE m.id = v.id AND m.status IN ('queued', 'sending') "
                "RETURNING m.from_address, m.to_address, m.connection, m.segments, "
                "m.created_at", [status, *params])
            moved = cursor.fetchall()
            if status in OUTCOMES:
                # A refused submit ends the message failed, once: counted for the
                # dashboard in the schema it belongs to.
                with schema_context(schema):
                    traffic_count(counts=[(row[-1], OUTCOMES[status]) for row in moved])
            state = tenant_state(schema)
            if status == Message.Status.SENT and state is not None:
                # The move to sent happens once per message: counted here, once
                # (docs/ARCHITECTURE.md#metering).
                day = timezone.now().date()
                usage_count(tenant_id=state.tenant_id, messages=[
                    Metered(day=day, direction=Message.Direction.OUTBOUND, sender=sender,
                            connection=name, customer=to, segments=segments)
                    for sender, to, name, segments, _ in moved])


def receipts_apply(*, connection: str, receipts: list[Receipt]) -> set[str]:
    """Apply delivery receipts to their parts, then to the messages whose parts are all
    final: ``delivered`` once every part is, ``undelivered`` as soon as one part is.
    Returns the SMSC ids that match no part (the connector asks the SMSC to retry them:
    their submit_sm_resp may still be on its way through another bind)."""
    ids = list({receipt.message_id for receipt in receipts})
    parts = {part.smsc_message_id: part for part in SmppPart.objects.filter(
        connection=connection, smsc_message_id__in=ids)}
    changed: list[SmppPart] = []
    for receipt in receipts:
        part = parts.get(receipt.message_id)
        state = RECEIPT_STATUS.get(receipt.stat)
        if part is None or state is None or part.state != SmppPart.State.SENT:
            continue  # unknown, no news (ACCEPTD, ENROUTE, ...) or already final
        part.state = state
        part.error_code = "" if state == SmppPart.State.DELIVERED else receipt.stat
        changed.append(part)
    messages: dict[tuple[str, int], str] = {}
    with transaction.atomic():
        if changed:
            SmppPart.objects.bulk_update(changed, ["state", "error_code", "updated_at"])
        keys = {(part.schema_name, part.message_id) for part in changed}
        siblings: dict[tuple[str, int], list[SmppPart]] = defaultdict(list)
        if keys:
            for part in SmppPart.objects.filter(
                schema_name__in={k[0] for k in keys}, message_id__in={k[1] for k in keys}
            ):
                siblings[(part.schema_name, part.message_id)].append(part)
        for key in keys:
            states = [part.state for part in siblings[key]]
            if SmppPart.State.UNDELIVERED in states:
                messages[key] = SmppPart.State.UNDELIVERED
            elif len(states) == siblings[key][0].total and all(
                    state == SmppPart.State.DELIVERED for state in states):
                messages[key] = SmppPart.State.DELIVERED
        err = {receipt.message_id: receipt for receipt in receipts}
        for (schema, message_id), status in sorted(messages.items()):
            failed = next((p for p in siblings[(schema, message_id)]
                           if p.state == SmppPart.State.UNDELIVERED), None)
            receipt = err.get(failed.smsc_message_id) if failed else None
            with schema_context(schema):
                status_apply(
                    message_id=message_id, status=status,
                    error_code=failed.error_code if failed else "",
                    error_message=(f"SMSC receipt for part {failed.number}: stat:{receipt.stat}"
                                   f" err:{receipt.err}") if receipt else "",
                )
    return {receipt.message_id for receipt in receipts if receipt.message_id not in parts}


def mo_receive(*, connection: str, sms: InboundSMS) -> None:
    """A mobile-originated message (or part) into the inbound pipeline, as a webhook would
    hand it over; raises DomainError when no approved sender has the recipient."""
    provider = connection_get_active(connection)
    if provider is None:
        raise LookupError(f"connection {connection!r} is not active")
    message_receive(connection=provider, sms=sms)
