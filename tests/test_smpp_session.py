"""The SMPP session's wire, against a plain-socket SMSC that can cut the connection at an
exact point: answers that reached us before the drop are read, whatever we were writing."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from smpp import codec
from smpp.config import config_from
from smpp.session import Session


def _read_pdu(conn: socket.socket):
    header = conn.recv(16, socket.MSG_WAITALL)
    length = int.from_bytes(header[:4], "big")
    body = conn.recv(length - 16, socket.MSG_WAITALL) if length > 16 else b""
    return codec.pdu_decode(header + body)


class CrashingSMSC:
    """Binds, answers the first submit_sm, then half-closes and resets the connection, as an
    SMSC process killed right after writing does; it signals ``crashed`` once the reset is
    sent."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.crashed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            bind = _read_pdu(conn)
            conn.sendall(codec.pdu_encode("bind_transmitter_resp", sequence=bind.sequence,
                                          system_id="CRASH"))
            submit = _read_pdu(conn)
            conn.sendall(codec.pdu_encode("submit_sm_resp", sequence=submit.sequence,
                                          message_id="ABC123"))
            conn.shutdown(socket.SHUT_WR)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.crashed.set()


def _submit_fields(to: str) -> dict:
    return {"service_type": "", "source_addr_ton": 1, "source_addr_npi": 1,
            "source_addr": "15550001111", "dest_addr_ton": 1, "dest_addr_npi": 1,
            "destination_addr": to, "esm_class": 0, "registered_delivery": 1,
            "data_coding": 0, "short_message": b"hello"}


@pytest.mark.parametrize("closed_by", ["read loop", "connector"])
def test_an_answer_that_arrived_before_a_reset_is_read_even_when_a_write_fails_first(
        closed_by):
    """Whoever ends the session: its read loop reaching the reset, or the connector, which
    sees the session stop taking requests and closes it at once to rebind."""
    smsc = CrashingSMSC()
    config = config_from("crash", {"host": "127.0.0.1", "port": smsc.port,
                                   "system_id": "esme", "password": "secret"})

    async def scenario() -> list:
        async def refuse(pdu) -> int:
            return codec.ESME_RX_T_APPN

        session = Session(config, bind_command="bind_transmitter", on_deliver=refuse)
        await session.open()
        answers: list = []
        session.send("submit_sm", answers.append, **_submit_fields("15550002222"))
        # Block the event loop while the SMSC answers and crashes, so that the next write
        # meets the reset before the loop has read the answer waiting in the socket.
        assert smsc.crashed.wait(10)
        session.send("submit_sm", answers.append, **_submit_fields("15550003333"))
        assert not session.alive  # the write failed: no more requests
        if closed_by == "connector":
            session.abort()  # without yielding: the read loop has not run since
        await asyncio.wait_for(session.closed.wait(), 10)
        return answers

    answers = asyncio.run(scenario())

    # The first submit's answer reached us: it is a sent message, not an unknown outcome
    # (which "fail" would report and "resubmit" would turn into a duplicate).
    assert answers[0] is not None
    assert (answers[0].command, answers[0].status, codec.text(answers[0].message_id)) == (
        "submit_sm_resp", codec.ESME_ROK, "ABC123")
    # The second was written into a dead connection: no answer, its outcome unknown.
    assert answers[1:] == [None]
