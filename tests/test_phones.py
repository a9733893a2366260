"""Phone numbers: the short way for numbers written "+<digits>" answers exactly as the
full parser does (core.phones)."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from core.errors import DomainError
from core.phones import _parsed_e164 as _library  # the parser alone
from core.phones import phone_normalize


def _ours(value: str) -> str | None:
    try:
        return phone_normalize(value)
    except DomainError:
        return None


def test_every_country_code_and_length_is_answered_as_the_parser_answers():
    # Random digits after every country code the plan knows, at every national length,
    # with leading zeros and national prefixes among them (the parser's own cases).
    rng = random.Random(20261207)
    samples = [f"+{code}{''.join(rng.choice('0123456789') for _ in range(length))}"
               for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
               for length in range(1, 15) for _ in range(8)]
    samples += [f"+{rng.randrange(1, 10 ** 15)}" for _ in range(5000)]
    differing = [(value, _ours(value), _library(value)) for value in samples
                 if _ours(value) != _library(value)]
    assert differing == []
    answered = sum(_library(value) is not None for value in samples)
    assert answered > len(samples) / 10  # the samples hold thousands of possible numbers


@pytest.mark.parametrize(("written", "e164"), [
    ("+14155550123", "+14155550123"),
    ("+1 (415) 555-0123", "+14155550123"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+390612345678", "+390612345678"),  # Italy keeps its leading zero
    ("+4402079460958", _library("+4402079460958")),  # a national prefix written after +44
    ("+12015550123", "+12015550123"),
])
def test_numbers_are_stored_in_e164(written, e164):
    assert e164 is not None
    assert phone_normalize(written) == e164


@pytest.mark.parametrize("written", ["+1415", "+1415555012345678", "+0123456789", "+999123456",
                                     "14155550123", "", "+"])
def test_what_is_no_possible_number_is_refused_on_its_field(written):
    with pytest.raises(DomainError) as refused:
        phone_normalize(written, field="from")
    assert (refused.value.code, refused.value.field) == ("invalid_phone_number", "from")
