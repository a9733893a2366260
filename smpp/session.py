"""One SMPP bind over one TCP connection (asyncio): framing, sequence numbers, responses
matched to requests, ``enquire_link`` on a quiet line, and the peer's own requests.

The connection is a bare non-blocking socket (``_Wire``), not asyncio's streams: when a
write fails because the SMSC reset the connection, a stream transport stops reading at
once, and the answers the SMSC wrote before the reset, already in our socket, are lost —
a sent part reported as an unknown outcome, or with ``unanswered_submits=resubmit`` sent
twice. Here a failed write only ends the writing, and closing the session (``abort``,
however it comes: the connector rebinding at once, a timeout) first takes in the answers
already in the socket; only requests still unanswered after that are failed.

A request's answer is delivered to a callback *from the read loop*, in the order the PDUs
arrived: the connector has recorded a part's SMSC id before it reads the deliver_sm that
may carry that part's receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
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


class _Wire:
    """A connected non-blocking TCP socket: writes go out without awaiting (what the kernel
    does not take at once waits in a buffer), reads are awaited by the session's loop."""

    def __init__(self, name: str, sock: socket.socket, loop: asyncio.AbstractEventLoop
                 ) -> None:
        self.name = name
        self._sock = sock
        self._loop = loop
        self._fd = sock.fileno()
        self._out = bytearray()
        self.writable = True

    @classmethod
    async def connect(cls, name: str, host: str, port: int) -> _Wire:
        loop = asyncio.get_running_loop()
        error: OSError = OSError(f"{host}: no address")
        for family, kind, proto, _, address in await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return cls(name, sock, loop)
        raise error

    async def read(self) -> bytes:
        """What arrived, b"" once the peer closed; data sent before a reset comes first."""
        return await self._loop.sock_recv(self._sock, 65536)

    def drain(self) -> bytes:
        """What is already in the socket, without waiting: the last of what the SMSC sent
        before the connection ended."""
        chunks = []
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        if not self.writable:
            return
        if not self._out:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._writes_failed(exc)
                return
            if sent == len(data):
                return
            data = data[sent:]
            self._loop.add_writer(self._fd, self._flush)
        self._out += data

    def _flush(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._writes_failed(exc)
            return
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(self._fd)

    def _writes_failed(self, exc: OSError) -> None:
        logger.info("%s: write failed (%s); reading what the SMSC sent before it",
                    self.name, exc)
        self.writable = False
        self._out.clear()
        self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self.writable = False
        self._loop.remove_writer(self._fd)
        self._loop.remove_reader(self._fd)
        self._sock.close()


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
        self._wire: _Wire | None = None
        # Bytes read and not yet a whole PDU.
        self._inbox = bytearray()
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.get_running_loop()
        self._last_read = self._loop.time()

    @property
    def alive(self) -> bool:
        """Open for requests: not closed, and no write has failed (what is written after
        that would never leave, so it should wait for the next bind)."""
        return not self.closed.is_set() and self._wire is not None and self._wire.writable

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def _spawn(self, coroutine) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def open(self) -> None:
        """Connect and bind; raises OSError, TimeoutError or BindRefused."""
        self._wire = await asyncio.wait_for(
            _Wire.connect(self.config.name, self.config.host, self.config.port), CONNECT_TIMEOUT)
        self._spawn(self._read_loop())
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
        self._wire.write(codec.pdu_encode(command, sequence=sequence, **fields))

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
            self._wire.write(codec.pdu_encode(command, sequence=sequence, status=status,
                                              **fields))

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._wire.read()
                if not data:
                    logger.info("%s: %s closed by the SMSC", self.config.name,
                                self.bind_command)
                    return
                self._last_read = self._loop.time()
                self._inbox += data
                for pdu in self._pdus():
                    self._dispatch(pdu)
                    if pdu.command == "unbind":
                        return
        except (OSError, codec.PduError) as exc:
            logger.info("%s: %s ended: %s", self.config.name, self.bind_command, exc)
        finally:
            self.abort()

    def _pdus(self):
        """The whole PDUs in the inbox, taken out of it one at a time; one that cannot be
        decoded is answered with generic_nack. Raises PduError on a length that cannot be
        framed (nothing after it can be)."""
        while len(self._inbox) >= 16:
            length = int.from_bytes(self._inbox[:4], "big")
            if not 16 <= length <= codec.MAX_PDU:
                raise codec.PduError(f"command_length {length}")
            if len(self._inbox) < length:
                return
            data = bytes(self._inbox[:length])
            del self._inbox[:length]
            try:
                yield codec.pdu_decode(data)
            except codec.PduError as exc:
                self.respond("generic_nack", exc.sequence, status=exc.status)

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
        """Close at once. Answers already in the socket are taken first (the SMSC's
        requests among them are left: it sends again what we did not acknowledge); every
        request still unanswered then gets None."""
        if self.closed.is_set():
            return
        self.closed.set()
        if self._wire is not None:
            self._inbox += self._wire.drain()
            with contextlib.suppress(codec.PduError):
                for pdu in self._pdus():
                    if pdu.command.endswith("_resp") or pdu.command == "generic_nack":
                        self._dispatch(pdu)
            self._wire.close()
        pending, self.pending = self.pending, {}
        for callback, _ in pending.values():
            callback(None)
        current = asyncio.current_task()
        for task in list(self._tasks):
            # deliver_sm handlers finish: what they store is committed, and the SMSC resends
            # what it got no answer for.
            if task is not current and task.get_coro().__name__ != "_deliver":
                task.cancel()
