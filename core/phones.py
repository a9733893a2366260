"""Phone numbers and sender addresses: everything is stored in E.164."""

from __future__ import annotations

import re

import phonenumbers

from core import errors
from core.encoding import GSM_LETTERS
from core.errors import DomainError

SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
# Carriers allow up to 11 characters, letters, digits and spaces, with at least one letter.
ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
# A number as providers write the sender of an inbound message: "+" and 1 to 15 digits.
_INTERNATIONAL = re.compile(r"^\+[0-9]{1,15}$")


def phone_normalize(value: str, *, field: str = "to") -> str:
    """E.164 for a number written with its country code (``+44 20 7946 0958``).

    Numbers are checked for a possible length per country rather than full validity:
    numbering plans change faster than the library, and the provider has the last word.
    """
    try:
        number = phonenumbers.parse(value or "", None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise DomainError(
            errors.INVALID_PHONE_NUMBER,
            f"{value!r} is not a phone number in international format, e.g. +14155550123.",
            field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_country(e164: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""


def address_normalize(value: str, *, kind: str) -> str:
    """A sender address as its kind writes it: E.164, a short code, or an alphanumeric ID."""
    value = (value or "").strip()
    if kind == "short_code":
        if not SHORT_CODE.match(value):
            raise DomainError(errors.INVALID_ADDRESS,
                                 "A short code is 3 to 8 digits.", "address")
        return value
    if kind == "alphanumeric":
        if not ALPHANUMERIC.match(value):
            raise DomainError(
                errors.INVALID_ADDRESS,
                "An alphanumeric sender ID is 1 to 11 letters, digits or spaces, with a letter.",
                "address",
            )
        return value
    return phone_normalize(value, field="address")


def inbound_sender_normalize(value: str) -> str:
    """Who sent a customer's message, as the provider wrote it: an international number
    (returned in E.164), a short code (3 to 8 digits) or an alphanumeric sender ID (1 to
    11 GSM letters, digits or spaces, with a letter).

    Anything else is refused on ``from`` (``invalid_address``, or ``invalid_phone_number``
    for a number no country has): whatever is accepted becomes a contact's number, which
    replies, opt-outs and consent are keyed by.
    """
    value = (value or "").strip()
    if _INTERNATIONAL.match(value):
        return phone_normalize(value, field="from")
    if SHORT_CODE.match(value) or _is_sender_id(value):
        return value
    raise DomainError(
        errors.INVALID_ADDRESS,
        f"{value[:40]!r} is not a phone number in international format, a short code or an "
        "alphanumeric sender ID.",
        "from",
    )


def _is_sender_id(value: str) -> bool:
    return (len(value) <= 11 and any(char in GSM_LETTERS for char in value)
            and all(char in GSM_LETTERS or char in "0123456789 " for char in value))


def inbound_address(value: str) -> str:
    """An address as a provider sent it, normalised when it is a phone number."""
    try:
        return phone_normalize(value)
    except DomainError:
        return value.strip()
