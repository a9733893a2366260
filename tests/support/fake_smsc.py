"""An SMSC test double speaking SMPP 3.4 over real TCP (127.0.0.1 unless told otherwise).

Built on smpplib's PDU codec (through ``smpp.codec``) behind a small asyncio server that
runs in its own thread. It checks bind credentials, answers ``submit_sm`` with message ids
(optionally after a delay, to fill the ESME's window), sends delivery receipts and
mobile-originated messages (UDH-concatenated when long), answers ``enquire_link`` and
``unbind``, refuses the next N submits with ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL`` on
demand, and drops the connection on demand. It records everything it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field

from smpp import codec


@dataclass(frozen=True)
class Submit:
    session: int
    sequence: int
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    message_payload: bytes | None
    # The id we answered with, or None when we refused it (then ``status``).
    message_id: str | None
    status: int
    at: float

    @property
    def text(self) -> str:
        data = self.short_message
        if self.esm_class & 0x40:
            data = codec.udh_split(data)[1]
        return codec.text_decode(data or self.message_payload or b"", self.data_coding)


@dataclass(eq=False)
class _Esme:
    number: int
    bind: str
    writer: asyncio.StreamWriter
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))
    outstanding: int = 0
    dropped: bool = False
    # deliver_sm sequence -> future of its deliver_sm_resp status.
    waiting: dict[int, asyncio.Future] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return not self.dropped and not self.writer.is_closing()


class FakeSMSC:
    def __init__(self, *, system_id: str = "esme", password: str = "secret",  # noqa: S107
                 host: str = "127.0.0.1") -> None:
        self.host = host
        self.system_id = system_id
        self.password = password
        self.port = 0
        self.binds: list[tuple[str, str, str]] = []  # (command, system_id, status name)
        self.submits: list[Submit] = []
        self.enquire_links = 0
        self.unbinds = 0
        self.deliver_resps: list[int] = []
        # Highest number of submits received and not yet answered, across one bind.
        self.max_outstanding = 0
        self.respond_delay = 0.0
        # Receipt stat sent for every accepted submit asking for one; None sends none.
        self.auto_receipt: str | None = "DELIVRD"
        self._refuse: list[int] = []
        self._drop_after: int | None = None
        self._sessions: list[_Esme] = []
        self._ids = itertools.count(0x1000)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    # --- control, from the test's thread ------------------------------------------------

    def start(self) -> FakeSMSC:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSMSC:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _call(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def throttle(self, count: int, status: int = codec.ESME_RTHROTTLED) -> None:
        """Refuse the next ``count`` submits with ``status``."""
        with self._lock:
            self._refuse += [status] * count

    def reject_next(self, status: int) -> None:
        self.throttle(1, status)

    def drop_after(self, count: int) -> None:
        """Answer ``count`` more submits, then cut every connection at once."""
        self._drop_after = len(self.submits) + count

    def drop(self) -> None:
        self._call(self._drop())

    def bound(self) -> int:
        return sum(1 for esme in self._sessions if esme.live)

    def wait_bound(self, count: int = 1, timeout: float = 10) -> None:
        wait_until(lambda: self.bound() >= count, timeout, "no bind")

    def send_receipt(self, message_id: str, stat: str = "DELIVRD", err: str = "000",
                     destination: str = "", source: str = "") -> int:
        """A delivery receipt as SMSCs write it; returns the deliver_sm_resp status."""
        stamp = time.strftime("%y%m%d%H%M")
        text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
                f"submit date:{stamp} done date:{stamp} stat:{stat} err:{err} text:")
        return self._call(self._deliver(source_addr=source, destination_addr=destination,
                                         esm_class=codec.ESM_RECEIPT,
                                         short_message=text.encode()))

    def send_mo(self, *, source: str, destination: str, text: str,
                reference: int = 0x42, split: int | None = None,
                patience: float = 10) -> list[int]:
        """A customer's message; with ``split``, as UDH-concatenated parts of ``split``
        characters. Returns each part's deliver_sm_resp status, each awaited up to
        ``patience`` seconds (an SMSC's response timer)."""
        data_coding, _ = codec.text_encode(text)
        chunks = [text] if split is None else [text[i:i + split]
                                               for i in range(0, len(text), split)]
        statuses = []
        for number, chunk in enumerate(chunks, start=1):
            data = codec.text_encode_as(chunk, data_coding)
            esm_class = 0
            if len(chunks) > 1:
                data = bytes((5, 0, 3, reference, len(chunks), number)) + data
                esm_class = codec.ESM_UDHI
            statuses.append(self._call(self._deliver(
                source_addr=source, source_addr_ton=1, source_addr_npi=1,
                destination_addr=destination, dest_addr_ton=1, dest_addr_npi=1,
                esm_class=esm_class, data_coding=data_coding, short_message=data,
                patience=patience), timeout=patience + 1))
        return statuses

    def submits_to(self, destination: str) -> list[Submit]:
        return [s for s in self.submits if s.destination_addr == destination.lstrip("+")]

    # --- the server ---------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._drop_now()
        self._server.close()
        # Finish the connections' tasks here rather than leave them to the garbage
        # collector once the loop is stopped.
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drop(self) -> None:
        self._drop_now()

    def _drop_now(self) -> None:
        """Cut every bind without an unbind. Nothing more is read: what the ESME sent and
        we had not read is lost, as with a crashed SMSC. What we wrote goes out before the
        FIN, so an answered submit is one the ESME learns about (closing at once with
        unread data would send an RST, which can discard those answers at the ESME)."""
        for esme in self._sessions:
            esme.dropped = True
            transport = esme.writer.transport
            transport.pause_reading()
            transport.write_eof()
            self._loop.call_later(1.0, transport.abort)
        self._sessions.clear()

    def _write(self, esme: _Esme, command: str, sequence: int, status: int = 0,
               **fields) -> None:
        if esme.live:
            esme.writer.write(codec.pdu_encode(command, sequence=sequence, status=status,
                                               **fields))

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        esme = _Esme(len(self.binds) + 1, "", writer)
        try:
            while esme.live:
                header = await reader.readexactly(16)
                body = await reader.readexactly(int.from_bytes(header[:4], "big") - 16)
                try:
                    pdu = codec.pdu_decode(header + body)
                except codec.PduError as exc:
                    self._write(esme, "generic_nack", exc.sequence, exc.status)
                    continue
                if not self._handle(esme, pdu):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            if esme in self._sessions:
                self._sessions.remove(esme)
            for future in esme.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("dropped"))

    def _handle(self, esme: _Esme, pdu) -> bool:
        command = pdu.command
        if command.startswith("bind_"):
            ok = (codec.text(pdu.system_id), codec.text(pdu.password)) == (
                self.system_id, self.password)
            status = codec.ESME_ROK if ok else codec.ESME_RBINDFAIL
            self.binds.append((command, codec.text(pdu.system_id), codec.status_name(status)))
            self._write(esme, f"{command}_resp", pdu.sequence, status, system_id="FAKESMSC")
            if ok:
                esme.bind = command
                self._sessions.append(esme)
            return ok
        if command == "enquire_link":
            self.enquire_links += 1
            self._write(esme, "enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            self.unbinds += 1
            self._write(esme, "unbind_resp", pdu.sequence)
            return False
        elif command == "submit_sm":
            self._submit(esme, pdu)
        elif command == "deliver_sm_resp":
            future = esme.waiting.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result(pdu.status)
        elif not command.endswith("_resp"):
            self._write(esme, "generic_nack", pdu.sequence, codec.ESME_RINVCMDID)
        return True

    def _submit(self, esme: _Esme, pdu) -> None:
        if esme.dropped:
            # Parsed from a read made before the drop: a crashed SMSC never saw it.
            return
        with self._lock:
            status = self._refuse.pop(0) if self._refuse else codec.ESME_ROK
        message_id = f"{next(self._ids):08X}" if status == codec.ESME_ROK else None
        submit = Submit(
            session=esme.number, sequence=pdu.sequence,
            source_addr=codec.text(pdu.source_addr), source_addr_ton=pdu.source_addr_ton or 0,
            source_addr_npi=pdu.source_addr_npi or 0,
            destination_addr=codec.text(pdu.destination_addr),
            dest_addr_ton=pdu.dest_addr_ton or 0, dest_addr_npi=pdu.dest_addr_npi or 0,
            esm_class=pdu.esm_class or 0, data_coding=pdu.data_coding or 0,
            registered_delivery=pdu.registered_delivery or 0,
            short_message=pdu.short_message or b"", message_payload=pdu.message_payload,
            message_id=message_id, status=status, at=time.monotonic(),
        )
        self.submits.append(submit)
        esme.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, esme.outstanding)
        drop = self._drop_after is not None and len(self.submits) >= self._drop_after

        def answer() -> None:
            esme.outstanding -= 1
            self._write(esme, "submit_sm_resp", pdu.sequence, status,
                        message_id=message_id or "")
            if drop:
                self._drop_after = None
                self._drop_now()
            elif message_id and self.auto_receipt and submit.registered_delivery & 1:
                self._loop.create_task(self._receipt_for(submit))

        if self.respond_delay:
            self._loop.call_later(self.respond_delay, answer)
        else:
            answer()

    async def _receipt_for(self, submit: Submit) -> None:
        stamp = time.strftime("%y%m%d%H%M")
        text = (f"id:{submit.message_id} sub:001 dlvrd:001 submit date:{stamp} "
                f"done date:{stamp} stat:{self.auto_receipt} err:000 text:")
        # If the bind went away the receipt is lost; a real SMSC would keep it for later.
        with contextlib.suppress(ConnectionError, LookupError):
            await self._deliver(source_addr=submit.destination_addr,
                                destination_addr=submit.source_addr,
                                esm_class=codec.ESM_RECEIPT, short_message=text.encode())

    async def _deliver(self, *, patience: float = 10, **fields) -> int:
        receivers = [esme for esme in self._sessions
                     if esme.bind in ("bind_transceiver", "bind_receiver")
                     and esme.live]
        if not receivers:
            raise LookupError("no receiver bound")
        esme = receivers[0]
        sequence = next(esme.sequence)
        future = self._loop.create_future()
        esme.waiting[sequence] = future
        self._write(esme, "deliver_sm", sequence, service_type="", **fields)
        status = await asyncio.wait_for(future, patience)
        self.deliver_resps.append(status)
        return status


def wait_until(condition, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
