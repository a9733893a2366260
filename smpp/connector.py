"""The SMPP connector: the long-running process that holds an SMSC bind per connection.

Outbound, it takes jobs from the connection's Redis queue (``smpp.queue``), claims their
parts in the database, and writes ``submit_sm`` with at most ``window`` unanswered and at
most ``submit_rate`` a second. Outcomes are stored in batches; a job leaves the queue only
once its outcome is stored. ``ESME_RTHROTTLED`` and ``ESME_RMSGQFUL`` pause submitting with
an exponential backoff and send the part again. Inbound, ``deliver_sm`` receipts update
parts and messages, and mobile-originated messages enter the inbound pipeline; each
``deliver_sm`` is answered after what it carried is committed, so the SMSC resends anything
we could not store.

When the SMSC drops the bind, the connector rebinds with a doubling backoff. Parts not yet
written wait and go out on the new bind; a part written and never answered has an unknown
outcome and, as SMPP has no idempotency key, it is not resent: its message fails with
``send_outcome_unknown`` (never a silent duplicate:
docs/ARCHITECTURE.md#outbound-pipeline), unless the connection's ``unanswered_submits`` is
``resubmit`` (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from django.db import connections

from core.errors import DomainError
from messaging import error_codes
from messaging.providers.base import ConcatInfo, InboundSMS
from smpp import codec, services
from smpp.config import SmppConfig
from smpp.models import SmppPart
from smpp.queue import BIND_STATE_TTL, Job, JobQueue, bind_state_key
from smpp.session import BindRefused, ConnectionLost, Session

logger = logging.getLogger("smpp.connector")

MAX_BACKOFF = 60.0
# Waits after ESME_RTHROTTLED / ESME_RMSGQFUL: 0.25 s, doubling on each in a row, up to 8 s.
THROTTLE_BACKOFF = 0.25
MAX_THROTTLE_BACKOFF = 8.0
# Outcomes are stored at least this often, and at once when this many are waiting.
FLUSH_INTERVAL = 0.05
# The bind state in Redis (for /metrics) is written when it changes and at least this
# often; it expires after BIND_STATE_TTL, so a killed connector reads as unbound.
BIND_STATE_EVERY = 5.0
FLUSH_SIZE = 500
# How long a stopping connector keeps submitting parts it already claimed.
DRAIN_TIMEOUT = 10.0
# Destinations are E.164 numbers: international, ISDN plan.
DEST_TON_NPI = (1, 1)


@dataclass(eq=False)
class JobState:
    job: Job
    parts: list[PartState] = field(default_factory=list)
    failed: bool = False

    @property
    def done(self) -> bool:
        return all(part.smsc_message_id for part in self.parts)


@dataclass(eq=False)
class PartState:
    job: JobState
    pk: int
    number: int
    pdu: codec.PartPdu | None
    smsc_message_id: str | None = None
    written: bool = False


def _address(address: str, ton: int) -> str:
    """An SMPP address as we store it: international numbers in E.164."""
    if address.isdigit() and (ton == 1 or (ton == 0 and len(address) > 8)):
        return "+" + address
    return address


class Connector:
    def __init__(self, config: SmppConfig, *, db: Executor, redis_url: str | None = None) -> None:
        self.config = config
        self.queue = JobQueue(config.name, redis_url)
        self._db_executor = db
        self.ready: deque[PartState] = deque()
        self.jobs: dict[str, JobState] = {}
        self._part_outcomes: list[services.PartOutcome] = []
        self._message_outcomes: list[services.MessageOutcome] = []
        self._finished: list[str] = []
        self._flush_lock = asyncio.Lock()
        self._flush_now = asyncio.Event()
        self._receipts: list[tuple[codec.Receipt, asyncio.Future]] = []
        self._receipt_task: asyncio.Task | None = None
        self._throttle_until = 0.0
        self._throttle_level = 0
        self.tx: Session | None = None
        self.rx: Session | None = None
        # (bound, when) as last written to Redis.
        self._bind_state: tuple[bool, float] | None = None
        self._loop = asyncio.get_running_loop()

    async def db(self, function: Callable, /, **kwargs):
        return await self._loop.run_in_executor(
            self._db_executor, functools.partial(_db_call, function, kwargs))

    # --- lifecycle ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        recovered = await self.queue.recover()
        if recovered:
            logger.info("%s: %d job(s) taken back from a previous run", self.config.name,
                        recovered)
        flusher = self._loop.create_task(self._flush_loop())
        backoff = self.config.reconnect_backoff
        try:
            while not stop.is_set():
                try:
                    await self._bind()
                    logger.info("%s: bound to %s:%s (%s)", self.config.name, self.config.host,
                                self.config.port, self.config.bind_mode)
                    backoff = self.config.reconnect_backoff
                    await self._pump(stop)
                except (OSError, TimeoutError, BindRefused, ConnectionLost) as exc:
                    logger.warning("%s: bind failed: %s", self.config.name, exc)
                    await self._unbind(graceful=False)
                except Exception:
                    # The database or Redis failing under us: start over from what is
                    # stored rather than die (the supervisor would stop everything).
                    logger.exception("%s: connector error; rebinding", self.config.name)
                    await self._unbind(graceful=False)
                    await self._reset()
                await self._unbind(graceful=stop.is_set())
                if stop.is_set():
                    break
                logger.info("%s: rebinding in %.2f s", self.config.name, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            await self._release_unwritten()
            await self.flush()
            flusher.cancel()
            await self.queue.close()

    async def _bind(self) -> None:
        if self.config.bind_mode == "transceiver":
            self.tx = self.rx = Session(self.config, bind_command="bind_transceiver",
                                        on_deliver=self.on_deliver)
            await self.tx.open()
            return
        self.tx = Session(self.config, bind_command="bind_transmitter",
                          on_deliver=self.on_deliver)
        self.rx = Session(self.config, bind_command="bind_receiver",
                          on_deliver=self.on_deliver)
        await self.tx.open()
        await self.rx.open()

    async def _unbind(self, *, graceful: bool) -> None:
        for session in {self.tx, self.rx} - {None}:
            if graceful:
                await session.unbind()
            else:
                session.abort()

    def _bound(self) -> bool:
        return all(session is not None and session.alive for session in (self.tx, self.rx))

    # --- outbound -----------------------------------------------------------------------

    async def _pump(self, stop: asyncio.Event) -> None:
        """Submit until the bind drops, or until a stop once the claimed parts are out."""
        window = asyncio.Semaphore(self.config.window)
        rate = self.config.submit_rate
        next_slot = self._loop.time()
        drain_until = None
        while self._bound():
            if stop.is_set():
                drain_until = drain_until or self._loop.time() + DRAIN_TIMEOUT
                if not self.ready or self._loop.time() > drain_until:
                    break
            if len(self.ready) < self.config.window and not stop.is_set():
                # Keep a window's worth ready; wait for work only when there is none.
                await self._fill(wait=not self.ready)
                if not self.ready:
                    continue
            pause = self._throttle_until - self._loop.time()
            if pause > 0:
                await self._sleep_unless_dropped(pause)
                continue
            await window.acquire()
            if not self._bound() or not self.ready:
                window.release()
                continue
            if rate:
                now = self._loop.time()
                if next_slot > now:
                    await asyncio.sleep(next_slot - now)
                    if not self._bound():  # dropped meanwhile: the part waits
                        window.release()
                        continue
                next_slot = max(next_slot, now) + 1 / rate
            part = self.ready.popleft()
            if part.job.failed:
                window.release()
                continue
            self._submit(part, window)
        # Let the answers to what is on the wire come in before unbinding.
        deadline = self._loop.time() + DRAIN_TIMEOUT
        while self._bound() and self.tx.pending and self._loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def _sleep_unless_dropped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.tx.closed.wait(), seconds)

    async def _fill(self, *, wait: bool) -> None:
        """Take jobs and claim their parts; a little more than a window's worth, so that a
        crash leaves few claimed parts whose fate is unknown."""
        jobs = await self.queue.take(max(2 * self.config.window, 10),
                                     timeout=0.2 if wait else None)
        if not jobs:
            return
        use_payload = self.config.long_messages == "message_payload"
        built = {job.key: codec.parts_build(job.body, use_payload=use_payload,
                                            reference=codec.concat_reference(job.key))
                 for job in jobs}
        claimed = await self.db(services.parts_claim, connection=self.config.name,
                                jobs=[(job, len(built[job.key])) for job in jobs])
        for job in jobs:
            state = JobState(job)
            self.jobs[job.key] = state
            pdus = {pdu.number: pdu for pdu in built[job.key]}
            parts = claimed.get(job.key, [])
            state.parts = [PartState(state, part.pk, part.number,
                                     pdus.get(part.number) if part.fresh else None,
                                     smsc_message_id=part.smsc_message_id)
                           for part in parts]
            if self.config.unanswered_submits == "resubmit":
                for part, claim in zip(state.parts, parts, strict=True):
                    if claim.state == SmppPart.State.SUBMITTING and not part.pdu:
                        part.pdu = pdus.get(part.number)
            if (any(part.pdu is None and not part.smsc_message_id for part in state.parts)
                    or len(parts) != len(pdus)):
                # An earlier run wrote a part and never learnt the answer.
                self._fail(state, error_codes.SEND_OUTCOME_UNKNOWN,
                           "An earlier connector run may have submitted this message and "
                           "stopped before the SMSC answered; it was not resent.")
            elif state.done:
                self._finish_sent(state)
            else:
                self.ready.extend(part for part in state.parts if part.pdu is not None)

    def _submit(self, part: PartState, window: asyncio.Semaphore) -> None:
        job = part.job.job
        ton, npi = self.config.source_ton_npi(job.sender_kind)
        pdu = part.pdu
        fields = {
            "service_type": "", "source_addr_ton": ton, "source_addr_npi": npi,
            "source_addr": job.from_address.removeprefix("+"),
            "dest_addr_ton": DEST_TON_NPI[0], "dest_addr_npi": DEST_TON_NPI[1],
            "destination_addr": job.to.removeprefix("+"), "esm_class": pdu.esm_class,
            "registered_delivery": codec.REGISTERED_DELIVERY_FINAL,
            "data_coding": pdu.data_coding, "short_message": pdu.short_message,
        }
        if pdu.message_payload is not None:
            fields["message_payload"] = pdu.message_payload
        part.written = True

        def answered(response) -> None:
            window.release()
            self._on_submit_resp(part, response)

        self.tx.send("submit_sm", answered, **fields)

    def _on_submit_resp(self, part: PartState, response) -> None:
        state = part.job
        if response is None and self.config.unanswered_submits == "resubmit":
            part.written = False
            self.ready.appendleft(part)
            return
        if response is None:
            self._part_done(part, "failed", error_code=error_codes.SEND_OUTCOME_UNKNOWN)
            self._fail(state, error_codes.SEND_OUTCOME_UNKNOWN,
                       f"The bind dropped before the SMSC answered part {part.number}; it "
                       "was not resent, to avoid a duplicate.")
            return
        status = response.status
        if status == codec.ESME_ROK and response.command == "submit_sm_resp":
            self._throttle_level = 0
            part.smsc_message_id = codec.text(response.message_id)
            self._part_done(part, "sent", smsc_message_id=part.smsc_message_id)
            if not state.failed and state.done:
                self._finish_sent(state)
            return
        if status in codec.RETRYABLE and not state.failed:
            part.written = False
            self.ready.appendleft(part)
            delay = min(THROTTLE_BACKOFF * 2 ** self._throttle_level, MAX_THROTTLE_BACKOFF)
            self._throttle_level += 1
            self._throttle_until = max(self._throttle_until, self._loop.time() + delay)
            logger.info("%s: %s; pausing submits for %.2f s", self.config.name,
                        codec.status_name(status), delay)
            return
        code = codec.status_name(status)
        self._part_done(part, "failed", error_code=code)
        self._fail(state, code, f"The SMSC refused part {part.number}: "
                                f"{codec.status_description(status)}.")

    def _part_done(self, part: PartState, state: str, *, smsc_message_id: str | None = None,
                   error_code: str = "") -> None:
        self._part_outcomes.append(services.PartOutcome(part.pk, state, smsc_message_id,
                                                        error_code))
        self._maybe_flush()

    def _finish_sent(self, state: JobState) -> None:
        job = state.job
        self._message_outcomes.append(services.MessageOutcome(
            job.schema, job.message_id, "sent",
            provider_message_id=state.parts[0].smsc_message_id or ""))
        self._finish(state)

    def _fail(self, state: JobState, code: str, detail: str) -> None:
        if state.failed:
            return
        state.failed = True
        job = state.job
        self._message_outcomes.append(services.MessageOutcome(
            job.schema, job.message_id, "failed", error_code=code, error_message=detail))
        for part in state.parts:
            if not part.written and not part.smsc_message_id and part.pdu is not None:
                self._part_done(part, "failed", error_code="not_sent")
        self._finish(state)

    def _finish(self, state: JobState) -> None:
        if self.jobs.pop(state.job.key, None) is not None:
            self._finished.append(state.job.key)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self._part_outcomes) + len(self._message_outcomes) >= FLUSH_SIZE:
            self._flush_now.set()

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), FLUSH_INTERVAL)
            self._flush_now.clear()
            await self.flush()
            await self._bind_state_publish()

    async def _bind_state_publish(self) -> None:
        bound, now = self._bound(), time.monotonic()
        last = self._bind_state
        if last is not None and last[0] == bound and now < last[1] + BIND_STATE_EVERY:
            return
        self._bind_state = (bound, now)
        try:
            await self.queue.redis.set(bind_state_key(self.config.name), "1" if bound else "0",
                                       ex=BIND_STATE_TTL)
        except Exception:  # Redis away: the state expires and reads as unbound
            logger.warning("%s: bind state not published", self.config.name, exc_info=True)

    async def flush(self) -> None:
        """Store the outcomes gathered so far, then forget their finished jobs."""
        async with self._flush_lock:
            parts, self._part_outcomes = self._part_outcomes, []
            messages, self._message_outcomes = self._message_outcomes, []
            finished, self._finished = self._finished, []
            if not (parts or messages or finished):
                return
            try:
                await self.db(services.outcomes_record, connection=self.config.name,
                              parts=parts, messages=messages)
            except Exception:
                logger.exception("%s: storing outcomes failed; trying again",
                                 self.config.name)
                self._part_outcomes[:0] = parts
                self._message_outcomes[:0] = messages
                self._finished[:0] = finished
                await asyncio.sleep(1)
                return
            await self.queue.ack(finished)

    async def _reset(self) -> None:
        """Forget what is in memory and take it back from the queue and the database."""
        with contextlib.suppress(Exception):
            await self._release_unwritten()
            await self.flush()
            self.jobs.clear()
            await self.queue.recover()

    async def _release_unwritten(self) -> None:
        """Stopping: unclaim the parts never written, so the next run submits them."""
        pks = [part.pk for state in self.jobs.values() for part in state.parts
               if not part.written and not part.smsc_message_id and part.pdu is not None]
        self.ready.clear()
        if pks:
            with contextlib.suppress(Exception):
                await self.db(services.parts_release, part_pks=pks)

    # --- inbound ------------------------------------------------------------------------

    async def on_deliver(self, pdu) -> int:
        """The deliver_sm_resp status for a receipt or a mobile-originated message."""
        if (pdu.esm_class or 0) & codec.ESM_TYPE_MASK:
            return await self._on_receipt(pdu)
        return await self._on_mo(pdu)

    async def _on_receipt(self, pdu) -> int:
        receipt = codec.receipt_parse(pdu.short_message or b"", pdu.receipted_message_id,
                                      pdu.message_state)
        if receipt is None:
            logger.warning("%s: unreadable receipt %r", self.config.name, pdu.short_message)
            return codec.ESME_ROK
        future = self._loop.create_future()
        self._receipts.append((receipt, future))
        if self._receipt_task is None or self._receipt_task.done():
            self._receipt_task = self._loop.create_task(self._apply_receipts())
        return await future

    async def _apply_receipts(self) -> None:
        """Receipts that arrive together are applied together, after the submit ids they
        name are stored."""
        while self._receipts:
            await asyncio.sleep(0)
            batch, self._receipts = self._receipts, []
            try:
                await self.flush()
                unknown = await self.db(services.receipts_apply, connection=self.config.name,
                                        receipts=[receipt for receipt, _ in batch])
            except Exception:
                logger.exception("%s: receipts not applied; the SMSC will resend them",
                                 self.config.name)
                unknown = {receipt.message_id for receipt, _ in batch}
            for receipt, future in batch:
                if not future.done():
                    # A receipt for an id we do not know yet: ask the SMSC to try later.
                    future.set_result(codec.ESME_RX_T_APPN if receipt.message_id in unknown
                                      else codec.ESME_ROK)

    async def _on_mo(self, pdu) -> int:
        esm_class = pdu.esm_class or 0
        data = pdu.short_message or b""
        concat = None
        if esm_class & codec.ESM_UDHI:
            concat, data = codec.udh_split(data)
        elif pdu.sar_msg_ref_num is not None and pdu.sar_total_segments:
            concat = codec.Concat(pdu.sar_msg_ref_num, pdu.sar_total_segments,
                                  pdu.sar_segment_seqnum or 1)
        if not data and pdu.message_payload:
            data = pdu.message_payload
        sms = InboundSMS(
            # SMPP gives a mobile-originated message no id of its own.
            provider_message_id=f"smpp-{uuid.uuid4().hex}",
            from_address=_address(codec.text(pdu.source_addr), pdu.source_addr_ton or 0),
            to_address=_address(codec.text(pdu.destination_addr), pdu.dest_addr_ton or 0),
            body=codec.text_decode(data, pdu.data_coding or 0),
            concat=ConcatInfo(reference=str(concat.reference), total=concat.total,
                              number=concat.number)
            if concat and concat.total > 1 and 1 <= concat.number <= concat.total else None,
        )
        try:
            await self.db(services.mo_receive, connection=self.config.name, sms=sms)
        except DomainError as exc:
            logger.warning("%s: MO refused: %s", self.config.name, exc.detail)
            # The SMSC drops what it is refused with a permanent error instead of resending it.
            return codec.ESME_RINVSRCADR if exc.field == "from" else codec.ESME_RINVDSTADR
        except Exception:
            logger.exception("%s: MO not stored; the SMSC will resend it", self.config.name)
            return codec.ESME_RX_T_APPN
        return codec.ESME_ROK


def _db_call(function: Callable, kwargs: dict):
    """On the database thread: a connection that died (a restarted PostgreSQL) is replaced
    on the next call instead of failing every later one."""
    connections["default"].close_if_unusable_or_obsolete()
    return function(**kwargs)


async def connectors_run(configs: list[SmppConfig], *, stop: asyncio.Event,
                         db: Executor, redis_url: str | None = None) -> None:
    """Run one connector per connection until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.gather(*(Connector(config, db=db, redis_url=redis_url).run(stop)
                               for config in configs))
    finally:
        await loop.run_in_executor(db, connections.close_all)
