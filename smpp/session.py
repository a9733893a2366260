"""One SMPP bind over one TCP connection (asyncio): framing, sequence numbers, responses
matched to requests, ``enquire_link`` on a quiet line, and the peer's own requests.

A request's answer is delivered to a callback *from the read loop*, in the order the PDUs
arrived: the connector has recorded a part's SMSC id before it reads the deliver_sm that
may carry that part's receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from smpp import codec
from smpp.config import SmppConfig

logger = logging.getLogger("smpp.session")

CONNECT_TIMEOUT = 10.0
BIND_TIMEOUT = 10.0
# A request unanswered this long means the SMSC is stuck: the bind is dropped.
RESPONSE_TIMEOUT = 30.0
UNBIND_TIMEOUT = 5.0
SMPP_VERSION = 0x34

Callback = Callable[[object | None], None]
DeliverHandler = Callable[[object], Awaitable[int]]


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {codec.status_name(status)}")
        self.status = status


class ConnectionLost(Exception):
    pass


class Session:
    def __init__(self, config: SmppConfig, *, bind_command: str,
                 on_deliver: DeliverHandler) -> None:
        self.config = config
        self.bind_command = bind_command
        self.on_deliver = on_deliver
        # Sequence number -> (callback, monotonic time sent).
        self.pending: dict[int, tuple[Callback, float]] = {}
        self.closed = asyncio.Event()
        self._sequence = 0
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.get_running_loop()
        self._last_read = self._loop.time()

    @property
    def alive(self) -> bool:
        return not self.closed.is_set()

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def _spawn(self, coroutine) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self) -> None:
        """Connect and bind; raises OSError, TimeoutError or BindRefused."""
        reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.config.host, self.config.port), CONNECT_TIMEOUT)
        self._spawn(self._read_loop(reader))
        try:
            answer = await asyncio.wait_for(self.request(
                self.bind_command, system_id=self.config.system_id,
                password=self.config.password, system_type=self.config.system_type,
                interface_version=SMPP_VERSION, addr_ton=0, addr_npi=0, address_range="",
            ), BIND_TIMEOUT)
        except BaseException:
            self.abort()
            raise
        if answer.status != codec.ESME_ROK:
            self.abort()
            raise BindRefused(answer.status)
        self._spawn(self._keepalive())

    def send(self, command: str, callback: Callback, **fields) -> None:
        """Write a request; ``callback`` gets its response PDU, or None if the bind drops
        before one comes."""
        if not self.alive:
            callback(None)
            return
        sequence = self._next_sequence()
        self.pending[sequence] = (callback, self._loop.time())
        self._writer.write(codec.pdu_encode(command, sequence=sequence, **fields))

    async def request(self, command: str, **fields):
        future = self._loop.create_future()

        def answered(pdu) -> None:
            if future.done():
                return
            if pdu is None:
                future.set_exception(ConnectionLost(f"{command}: the bind dropped"))
            else:
                future.set_result(pdu)

        self.send(command, answered, **fields)
        return await future

    def respond(self, command: str, sequence: int, status: int = codec.ESME_ROK,
                **fields) -> None:
        if self.alive:
            self._writer.write(codec.pdu_encode(command, sequence=sequence, status=status,
                                                **fields))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(16)
                length = int.from_bytes(header[:4], "big")
                if not 16 <= length <= codec.MAX_PDU:
                    raise codec.PduError(f"command_length {length}")
                data = header + await reader.readexactly(length - 16)
                self._last_read = self._loop.time()
                try:
                    pdu = codec.pdu_decode(data)
                except codec.PduError as exc:
                    self.respond("generic_nack", exc.sequence, status=exc.status)
                    continue
                self._dispatch(pdu)
                if pdu.command == "unbind":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError, codec.PduError) as exc:
            logger.info("%s: %s ended: %s", self.config.name, self.bind_command, exc or "EOF")
        finally:
            self.abort()

    def _dispatch(self, pdu) -> None:
        if pdu.command.endswith("_resp") or pdu.command == "generic_nack":
            entry = self.pending.pop(pdu.sequence, None)
            if entry is not None:
                entry[0](pdu)
        elif pdu.command == "enquire_link":
            self.respond("enquire_link_resp", pdu.sequence)
        elif pdu.command == "unbind":
            self.respond("unbind_resp", pdu.sequence)
        elif pdu.command == "deliver_sm":
            self._spawn(self._deliver(pdu))
        else:
            self.respond("generic_nack", pdu.sequence, status=codec.ESME_RINVCMDID)

    async def _deliver(self, pdu) -> None:
        try:
            status = await self.on_deliver(pdu)
        except Exception:
            logger.exception("%s: deliver_sm not handled", self.config.name)
            status = codec.ESME_RX_T_APPN
        self.respond("deliver_sm_resp", pdu.sequence, status=status, message_id="")

    async def _keepalive(self) -> None:
        """An enquire_link after ``enquire_link_interval`` without a PDU from the SMSC, and
        the end of the bind when it or any request goes unanswered."""
        interval = self.config.enquire_link_interval
        answer_within = min(RESPONSE_TIMEOUT, max(1.0, 2 * interval))
        while self.alive:
            now = self._loop.time()
            oldest = min((sent for _, sent in self.pending.values()), default=now)
            if now - oldest > RESPONSE_TIMEOUT:
                logger.warning("%s: a request went unanswered for %.0f s; dropping the bind",
                               self.config.name, RESPONSE_TIMEOUT)
                self.abort()
                return
            quiet = now - self._last_read
            if quiet >= interval:
                try:
                    await asyncio.wait_for(self.request("enquire_link"), answer_within)
                except (TimeoutError, ConnectionLost):
                    logger.warning("%s: enquire_link unanswered; dropping the bind",
                                   self.config.name)
                    self.abort()
                    return
                continue
            await asyncio.sleep(min(interval - quiet, 1.0))

    async def unbind(self) -> None:
        """Say goodbye when the SMSC is there to hear it, then close."""
        if self.alive:
            with contextlib.suppress(TimeoutError, ConnectionLost, OSError):
                await asyncio.wait_for(self.request("unbind"), UNBIND_TIMEOUT)
        self.abort()

    def abort(self) -> None:
        """Close at once; every unanswered request's callback gets None."""
        if self.closed.is_set():
            return
        self.closed.set()
        if self._writer is not None:
            self._writer.transport.abort()
        pending, self.pending = self.pending, {}
        for callback, _ in pending.values():
            callback(None)
        current = asyncio.current_task()
        for task in list(self._tasks):
            # deliver_sm handlers finish: what they store is committed, and the SMSC resends
            # what it got no answer for.
            if task is not current and task.get_coro().__name__ != "_deliver":
                task.cancel()
