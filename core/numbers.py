"""Whole numbers read from text that users, customers and clients send."""

from __future__ import annotations


def small_int(text: str | None, *, digits: int = 9) -> int | None:
    """``text`` as a whole number of at most ``digits`` ASCII digits (no sign), else None.

    ``str.isdigit`` accepts "²", which ``int`` refuses, and ``int`` refuses strings of
    over 4,300 digits: read either way, such text was a 500 or a failed task."""
    if text and len(text) <= digits and text.isascii() and text.isdecimal():
        return int(text)
    return None
