"""Twilio-style SIDs: two letters (what the resource is) and 32 lowercase hex digits.

Accounts, API keys and Messaging Services are rows of this app and carry a random SID. A
message (``SM``) or a number (``PN``) is a row of the messaging app, which knows nothing
of SIDs: its SID is its id run through a 128-bit block cipher keyed by the account and the
prefix, so it reads back to the id without a lookup table, differs between tenants, and
does not count the tenant's messages. This hides nothing secret (the ids are the tenant's
own); it gives every resource Twilio's shape, and a SID of another tenant or a made-up one
reads back to no id at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
# The high half of a decoded block must be zero: a random SID passes with odds of 2^-64.
_ID_BYTES = 8


def sid_new(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _cipher(prefix: str, account_sid: str) -> Cipher:
    key = hashlib.sha256(f"twilio-sid:{prefix}:{account_sid}".encode()).digest()[:16]
    # One 16-byte block through AES is a keyed permutation of 128-bit numbers, which is
    # all a reversible SID needs; there is no data here that ECB's patterns could leak.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def sid_encode(prefix: str, number: int, *, account_sid: str) -> str:
    encryptor = _cipher(prefix, account_sid).encryptor()
    block = encryptor.update(number.to_bytes(16, "big")) + encryptor.finalize()
    return prefix + block.hex()


def sid_decode(prefix: str, sid: str, *, account_sid: str) -> int | None:
    """The id ``sid_encode`` made ``sid`` from, or None when ``sid`` is not one of this
    account's SIDs of that kind."""
    if not isinstance(sid, str) or not SID.fullmatch(sid) or not sid.startswith(prefix):
        return None
    decryptor = _cipher(prefix, account_sid).decryptor()
    block = decryptor.update(bytes.fromhex(sid[2:])) + decryptor.finalize()
    if any(block[:_ID_BYTES]):
        return None
    number = int.from_bytes(block[_ID_BYTES:], "big")
    return number or None
