"""Phone numbers and sender addresses: everything is stored in E.164."""

from __future__ import annotations

import functools
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
    text = value or ""
    possible = _possible_as_written(text)
    e164 = _parsed_e164(text) if possible is None else (text if possible else None)
    if e164 is None:
        raise DomainError(
            errors.INVALID_PHONE_NUMBER,
            f"{value!r} is not a phone number in international format, e.g. +14155550123.",
            field,
        )
    return e164


def _parsed_e164(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# "+" and digits, as providers write every sender and API clients most recipients.
_PLAIN_E164 = re.compile(r"^\+[1-9][0-9]{3,14}$")


def _possible_as_written(value: str) -> bool | None:
    """Whether a number written ``+<digits>`` is possible, when its E.164 form is what is
    written; None when only the full parser can tell (anything else, a national prefix or
    a leading zero after the country code).

    The same answer as ``phonenumbers.parse`` and ``is_possible_number`` (a test compares
    them across every country code), without the parser's generic text handling, which was
    most of a webhook's number check: the country code is the first of the leading one to
    three digits the plan knows, and whether a number is possible depends only on its
    country and its length (``phonenumbers``' ``_test_number_length``).
    """
    if not _PLAIN_E164.match(value):
        return None
    digits = value[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    national_prefix = _national_prefix(country_code)
    if national[0] == "0" or (national_prefix is not None and national_prefix.match(national)):
        return None
    return _possible_length(country_code, len(national))


@functools.cache
def _national_prefix(country_code: int) -> re.Pattern | None:
    """What the parser would try to strip from a national number of the country."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code))
    prefix = metadata.national_prefix_for_parsing if metadata else None
    return re.compile(prefix) if prefix else None


@functools.cache
def _possible_length(country_code: int, length: int) -> bool:
    if length < 2:  # the parser refuses a national number this short
        return False
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("2" * length))
    return phonenumbers.is_possible_number(number)



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
