"""CSV cells that spreadsheets open safely."""

from __future__ import annotations

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_defuse(value: str) -> str:
    """Free text (names, reasons, notes, tags) as a CSV cell a spreadsheet shows as text:
    a leading quote keeps ``=HYPERLINK(...)`` from running."""
    return "'" + value if value.startswith(FORMULA_START) else value
