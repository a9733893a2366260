"""SMS encoding and segmentation, so the UI can show what a message will cost before it is sent.

Carriers bill per segment, and one character outside the GSM 03.38 alphabet switches the whole
message to UCS-2, which more than halves what fits in a segment. Standard library only, so that
views, serializers and workers can all use it without a database or Django settings.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The basic table in code order (0x00-0x7F). ESC (0x1B) is the escape to the extension table,
# not a character a user can send, so it is dropped below.
_GSM_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_BASIC = frozenset(_GSM_TABLE) - {"\x1b"}
# What an alphanumeric sender ID may spell with, besides digits and spaces.
GSM_LETTERS = frozenset(char for char in _GSM_BASIC if char.isalpha())
# Sent as ESC + code, hence two septets each.
_GSM_EXTENSION = frozenset("^{}\\[~]|€\x0c")
_GSM_ALL = _GSM_BASIC | _GSM_EXTENSION

# (single-segment limit, per-segment limit once concatenated): the user data header of a
# concatenated message takes 6 octets of the 140, i.e. 7 septets or 3 UCS-2 code units.
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Analysis:
    """What the compose box shows: how the text will be sent and how much room is left."""

    encoding: str
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) the whole text takes
    per_segment: int  # 160/70 for a single segment, 153/67 once concatenated
    remaining: int  # units still free in the last segment before another one is needed


def unencodable_in_gsm7(text: str) -> str | None:
    """The first character that forces UCS-2, so the UI can tell the user what to change."""
    return next((char for char in text if char not in _GSM_ALL), None)


def encoding_for(text: str) -> str:
    """GSM-7 whenever possible, since it fits more than twice as much per segment."""
    return GSM7 if _GSM_ALL.issuperset(text) else UCS2


def _cost(char: str, encoding: str) -> int:
    # Extension characters are escaped; astral characters are a UTF-16 surrogate pair.
    if encoding == GSM7:
        return 2 if char in _GSM_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _measure(text: str, encoding: str) -> tuple[int, int, int]:
    """(units, segments, units in the last segment) in one pass, without building segments.

    The concatenated packing is tracked alongside the total because a character that would
    straddle a boundary moves whole to the next segment, so the count is not just a division.
    """
    single, concatenated = _LIMITS[encoding]
    if not text:
        return 0, 0, 0
    if _GSM_EXTENSION.isdisjoint(text) if encoding == GSM7 else max(text) <= "\uffff":
        # Every character is one unit, so no pair can straddle a boundary: a division.
        units = len(text)
        if units <= single:
            return units, 1, units
        segments = -(-units // concatenated)
        return units, segments, units - (segments - 1) * concatenated
    units = segments = fill = 0
    for char in text:
        cost = _cost(char, encoding)
        units += cost
        if segments == 0 or fill + cost > concatenated:
            segments += 1
            fill = 0
        fill += cost
    if units <= single:
        return units, min(segments, 1), units
    return units, segments, fill


def segment_count(text: str) -> int:
    """How many messages the carrier will bill for this text (0 for the empty string)."""
    return _measure(text, encoding_for(text))[1]


def split(text: str) -> list[str]:
    """The texts of the segments as they are sent, never cutting an escaped or surrogate pair.

    A segment may therefore hold one unit less than the limit.
    """
    encoding = encoding_for(text)
    single, concatenated = _LIMITS[encoding]
    if not text:
        return []
    if sum(_cost(char, encoding) for char in text) <= single:
        return [text]
    segments: list[str] = []
    start = fill = 0
    for index, char in enumerate(text):
        cost = _cost(char, encoding)
        if fill + cost > concatenated:
            segments.append(text[start:index])
            start, fill = index, 0
        fill += cost
    segments.append(text[start:])
    return segments


def analyse(text: str) -> Analysis:
    """Everything the compose counter needs in one call; the empty text has a whole segment free."""
    encoding = encoding_for(text)
    single, concatenated = _LIMITS[encoding]
    units, segments, fill = _measure(text, encoding)
    per_segment = concatenated if segments > 1 else single
    return Analysis(
        encoding=encoding,
        segments=segments,
        units=units,
        per_segment=per_segment,
        remaining=per_segment - fill,
    )


# GSM 03.38 extension table: character -> code after ESC.
_GSM_ESCAPED = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
_GSM_CODES = {char: code for code, char in enumerate(_GSM_TABLE) if char != "\x1b"}
_GSM_FROM_ESCAPED = {code: char for char, code in _GSM_ESCAPED.items()}


def gsm7_encode(text: str) -> bytes:
    """GSM-7 text as unpacked septets, one per octet (what SMPP ``data_coding`` 0 carries);
    extension characters become ESC + code. Raises ValueError outside the alphabet."""
    out = bytearray()
    for char in text:
        if char in _GSM_CODES:
            out.append(_GSM_CODES[char])
        elif char in _GSM_ESCAPED:
            out += bytes((0x1B, _GSM_ESCAPED[char]))
        else:
            raise ValueError(f"{char!r} is not in the GSM 03.38 alphabet")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Unpacked GSM-7 septets back to text; an unknown escape reads as a space (03.38)."""
    chars: list[str] = []
    escaped = False
    for octet in data:
        septet = octet & 0x7F
        if escaped:
            chars.append(_GSM_FROM_ESCAPED.get(septet, " "))
            escaped = False
        elif septet == 0x1B:
            escaped = True
        else:
            chars.append(_GSM_TABLE[septet])
    return "".join(chars)
