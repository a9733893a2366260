"""SMS encoding and segmentation: pure functions, no database."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoding import (
    GSM7,
    UCS2,
    Analysis,
    analyse,
    encoding_for,
    segment_count,
    split,
    unencodable_in_gsm7,
)

settings.register_profile("ci", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Written out independently of the module, so a wrong table there shows up here.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "^{}\\[~]|€\x0c"


def septets(text: str) -> int:
    return sum(2 if char in GSM_EXTENSION else 1 for char in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cost(text: str, encoding: str) -> int:
    return septets(text) if encoding == GSM7 else utf16_units(text)


def test_basic_table_has_127_sendable_characters():
    assert len(set(GSM_BASIC)) == 127  # 128 codes less ESC
    assert encoding_for(GSM_BASIC + GSM_EXTENSION) == GSM7


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", GSM7, 0),
        ("a", GSM7, 1),
        ("a" * 160, GSM7, 1),
        ("a" * 161, GSM7, 2),
        ("€" * 80, GSM7, 1),
        ("€" * 81, GSM7, 2),
        ("a" * 152 + "€" + "a" * 152, GSM7, 3),
        ("ê" * 70, UCS2, 1),
        ("ê" * 71, UCS2, 2),
        ("😀" * 35, UCS2, 1),
        ("a" * 66 + "😀" + "a" * 66, UCS2, 3),
        ("a" * 69 + "ñ", GSM7, 1),
        ("é", GSM7, 1),
        ("ê", UCS2, 1),
    ],
)
def test_encoding_and_segment_count(text, encoding, segments):
    assert encoding_for(text) == encoding
    assert segment_count(text) == segments
    assert len(split(text)) == segments


def test_unencodable_in_gsm7_names_the_first_offender():
    assert unencodable_in_gsm7("hello ê and ô") == "ê"
    assert unencodable_in_gsm7("héllo {world} €") is None
    assert unencodable_in_gsm7("") is None


def test_escape_is_not_user_text():
    assert unencodable_in_gsm7("a\x1bb") == "\x1b"
    assert encoding_for("\x1b") == UCS2


def test_extension_character_is_not_split_across_segments():
    parts = split("a" * 152 + "€" + "a" * 152)
    assert parts == ["a" * 152, "€" + "a" * 151, "a"]


def test_surrogate_pair_is_not_split_across_segments():
    parts = split("a" * 66 + "😀" + "a" * 66)
    assert parts == ["a" * 66, "😀" + "a" * 65, "a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Analysis(encoding=GSM7, segments=0, units=0, per_segment=160, remaining=160)),
        ("€" * 80, Analysis(encoding=GSM7, segments=1, units=160, per_segment=160, remaining=0)),
        ("a" * 161, Analysis(encoding=GSM7, segments=2, units=161, per_segment=153, remaining=145)),
        (
            "a" * 152 + "€" + "a" * 152,
            Analysis(encoding=GSM7, segments=3, units=306, per_segment=153, remaining=152),
        ),
        ("😀", Analysis(encoding=UCS2, segments=1, units=2, per_segment=70, remaining=68)),
        ("ê" * 71, Analysis(encoding=UCS2, segments=2, units=71, per_segment=67, remaining=63)),
    ],
)
def test_analyse(text, expected):
    assert analyse(text) == expected


gsm_text = st.text(st.sampled_from(GSM_BASIC + GSM_EXTENSION), max_size=500)
any_text = st.text(
    st.one_of(
        st.sampled_from(GSM_BASIC),
        st.sampled_from(GSM_EXTENSION),
        st.characters(min_codepoint=0x100, max_codepoint=0xD7FF),  # BMP, mostly not GSM
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # astral emoji
    ),
    max_size=400,
)
texts = st.one_of(gsm_text, any_text)


@given(texts)
def test_split_agrees_with_count_and_loses_nothing(text):
    parts = split(text)
    assert segment_count(text) == len(parts)
    assert "".join(parts) == text
    assert all(parts)


@given(texts)
def test_segments_fit_and_are_packed_greedily(text):
    encoding = encoding_for(text)
    parts = split(text)
    limit = {GSM7: 160, UCS2: 70}[encoding] if len(parts) <= 1 else {GSM7: 153, UCS2: 67}[encoding]
    for index, part in enumerate(parts):
        # Would fail if an extension character were counted as one septet, or an emoji as one
        # code unit.
        assert cost(part, encoding) <= limit
        if index + 1 < len(parts):
            # The next segment's first character really did not fit in this one.
            assert cost(part + parts[index + 1][0], encoding) > limit


@given(texts)
def test_no_surrogate_pair_is_cut(text):
    parts = split(text)
    for part in parts:
        part.encode("utf-16-le")  # strict: a lone surrogate would raise
        assert not ("\udc00" <= part[:1] <= "\udfff")
    assert utf16_units("".join(parts)) == sum(utf16_units(part) for part in parts)


@given(texts)
def test_analyse_is_consistent(text):
    result = analyse(text)
    encoding = encoding_for(text)
    parts = split(text)
    assert result.encoding == encoding
    assert result.segments == len(parts)
    assert result.units == cost(text, encoding)
    assert 0 <= result.remaining <= result.per_segment
    if parts:
        assert result.remaining == result.per_segment - cost(parts[-1], encoding)
