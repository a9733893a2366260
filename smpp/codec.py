"""SMPP 3.4 on the wire: PDUs (smpplib's codec), message texts as ``data_coding`` 0 (GSM-7)
or 8 (UCS-2), UDH concatenation and delivery receipts (PROVIDERS.md, SMPP section).

No I/O and no database here: the connector and the tests' SMSC double share this module,
so what one writes the other reads with the same rules.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from smpplib import command_codes, consts, exceptions, smpp

from core import encoding

HEADER = struct.Struct(">LLLL")
# The longest PDU we accept: a deliver_sm with a 64 KiB message_payload and some room.
MAX_PDU = 70_000

ESME_ROK = consts.SMPP_ESME_ROK
ESME_RTHROTTLED = consts.SMPP_ESME_RTHROTTLED
ESME_RMSGQFUL = consts.SMPP_ESME_RMSGQFUL
ESME_RINVDSTADR = consts.SMPP_ESME_RINVDSTADR
ESME_RINVSRCADR = consts.SMPP_ESME_RINVSRCADR
ESME_RINVCMDID = consts.SMPP_ESME_RINVCMDID
ESME_RBINDFAIL = consts.SMPP_ESME_RBINDFAIL
# "Temporary application error": the SMSC keeps the deliver_sm and tries again later.
ESME_RX_T_APPN = consts.SMPP_ESME_RX_T_APPN
# The SMSC asks us to slow down: the part was not taken and is worth sending again.
RETRYABLE = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})

DATA_CODING_GSM7 = 0
DATA_CODING_UCS2 = 8
ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
# The mask of esm_class's message type bits (SMSC delivery receipt, SME ack, ...).
ESM_TYPE_MASK = 0x3C
REGISTERED_DELIVERY_FINAL = 0x01

_STATUS_NAMES = {value: name.removeprefix("SMPP_") for name, value in vars(consts).items()
                 if name.startswith("SMPP_ESME_R") and isinstance(value, int)}


def status_name(status: int) -> str:
    """``ESME_RINVDSTADR`` for 0x0B; an unnamed vendor code as ``ESME_0x00000400``."""
    return _STATUS_NAMES.get(status, f"ESME_{status:#010x}")


def status_description(status: int) -> str:
    return consts.DESCRIPTIONS.get(status, "unknown command_status")


class _Sequence:
    """smpplib asks a "client" for sequence numbers; the session keeps its own."""

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence

    def next_sequence(self) -> int:
        return self.sequence


class PduError(Exception):
    """Bytes that are not a PDU we understand; answered with ``generic_nack``."""

    def __init__(self, detail: str, sequence: int = 0, status: int = ESME_RINVCMDID) -> None:
        super().__init__(detail)
        self.sequence = sequence
        self.status = status


def pdu_encode(command: str, *, sequence: int, status: int = ESME_ROK, **fields) -> bytes:
    """One PDU on the wire. String fields are ``str``; octet strings ``bytes``."""
    pdu = smpp.make_pdu(command, client=_Sequence(sequence), **fields)
    # smpplib's constructor keeps class defaults over these two keyword arguments.
    pdu.sequence = sequence
    pdu.status = status
    return pdu.generate()


def pdu_decode(data: bytes):
    """A whole PDU (header included) as an smpplib command; string fields come as bytes."""
    _length, command_id, _status, sequence = HEADER.unpack_from(data)
    try:
        command_codes.get_command_name(command_id)
        pdu = smpp.parse_pdu(data, client=_Sequence(sequence), allow_unknown_opt_params=True)
    except (exceptions.UnknownCommandError, struct.error, IndexError, ValueError) as exc:
        raise PduError(str(exc), sequence) from exc
    if pdu is None:
        raise PduError(f"unknown command_id {command_id:#x}", sequence)
    return pdu


def text(value) -> str:
    """A C-octet string field as smpplib parsed it (bytes) or as we set it (str)."""
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


# --- Message texts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartPdu:
    """The fields that differ between the submit_sm of one message's parts."""

    number: int
    total: int
    data_coding: int
    esm_class: int
    short_message: bytes
    message_payload: bytes | None = None


def text_encode(body: str) -> tuple[int, bytes]:
    """``(data_coding, octets)``: GSM-7 whenever the text allows, as the segment count
    the customer was shown assumed (``core.encoding``), else UCS-2."""
    if encoding.encoding_for(body) == encoding.GSM7:
        return DATA_CODING_GSM7, encoding.gsm7_encode(body)
    return DATA_CODING_UCS2, body.encode("utf-16-be")


def text_decode(data: bytes, data_coding: int) -> str:
    if data_coding == DATA_CODING_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == 0x03:  # Latin-1
        return data.decode("latin-1")
    if data_coding == 0x01:  # IA5 (ASCII)
        return data.decode("ascii", errors="replace")
    # 0 is "SMSC default alphabet": GSM-7 in practice. Anything else, best effort.
    return encoding.gsm7_decode(data)


def concat_reference(key: str) -> int:
    """The UDH reference of a message: derived from its identity, so the parts left after a
    restart carry the same reference as the parts sent before it."""
    return zlib.crc32(key.encode()) & 0xFF


def parts_build(body: str, *, reference: int, use_payload: bool = False) -> list[PartPdu]:
    """One submit_sm per segment as ``core.encoding.split`` cuts them (never inside an
    escape or a surrogate pair), each after a UDH with IE 0x00 (8-bit reference, total,
    number); or, with ``use_payload``, the whole text in one ``message_payload``."""
    data_coding, whole = text_encode(body)
    segments = encoding.split(body)
    if len(segments) <= 1:
        return [PartPdu(1, 1, data_coding, 0, whole)]
    if use_payload:
        return [PartPdu(1, 1, data_coding, 0, b"", message_payload=whole)]
    total = len(segments)
    return [
        PartPdu(number, total, data_coding, ESM_UDHI,
                bytes((0x05, 0x00, 0x03, reference, total, number))
                + text_encode_as(segment, data_coding))
        for number, segment in enumerate(segments, start=1)
    ]


def text_encode_as(segment: str, data_coding: int) -> bytes:
    if data_coding == DATA_CODING_GSM7:
        return encoding.gsm7_encode(segment)
    return segment.encode("utf-16-be")


@dataclass(frozen=True)
class Concat:
    reference: int
    total: int
    number: int


def udh_split(short_message: bytes) -> tuple[Concat | None, bytes]:
    """The concatenation IE (0x00, 8-bit reference, or 0x08, 16-bit) of a UDH, and the text
    after the header. Other IEs (ports, ...) are skipped."""
    if not short_message:
        return None, b""
    length = short_message[0]
    header, rest = short_message[1:1 + length], short_message[1 + length:]
    concat, position = None, 0
    while position + 2 <= len(header):
        iei, size = header[position], header[position + 1]
        data = header[position + 2:position + 2 + size]
        if iei == 0x00 and size == 3:
            concat = Concat(data[0], data[1], data[2])
        elif iei == 0x08 and size == 4:
            concat = Concat(int.from_bytes(data[:2], "big"), data[2], data[3])
        position += 2 + size
    return concat, rest


# --- Delivery receipts ------------------------------------------------------------------------

RECEIPT_TEXT = re.compile(r"id:\s*(?P<id>[^\s]+).*?\bstat:\s*(?P<stat>[A-Za-z]+)"
                          r"(?:.*?\berr:\s*(?P<err>[^\s]+))?", re.S)
# message_state TLV values (SMPP 3.4 §5.3.2.35) as the receipt text writes them.
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
                  6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}
# Receipt stat -> our status; ACCEPTD, ENROUTE and UNKNOWN are no news
# (docs/ARCHITECTURE.md#statuses).
RECEIPT_STATUS = {"DELIVRD": "delivered", "EXPIRED": "undelivered", "UNDELIV": "undelivered",
                  "REJECTD": "undelivered", "DELETED": "undelivered"}


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: str
    err: str


def receipt_parse(short_message: bytes, receipted_message_id=None,
                  message_state: int | None = None) -> Receipt | None:
    """A receipt from its text (``id:... stat:... err:...``); the ``receipted_message_id``
    and ``message_state`` TLVs win when the SMSC sends them, as they are not abbreviated."""
    match = RECEIPT_TEXT.search(short_message.decode("latin-1"))
    message_id = text(receipted_message_id) or (match["id"] if match else "")
    stat = MESSAGE_STATES.get(message_state or 0) or (match["stat"].upper() if match else "")
    if not message_id or not stat:
        return None
    return Receipt(message_id=message_id, stat=stat, err=(match["err"] if match and match["err"]
                                                          else ""))
