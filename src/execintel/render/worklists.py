"""Worklists as CSV files: every row of a list a person works through, for a spreadsheet.

A table section with ``"worklist": "<report>-<id>.csv"`` (:meth:`DocumentBuilder.worklist`) is written beside the
report and attached to its email: UTF-8 (no byte-order mark), comma separated, CRLF line ends (RFC 4180), the
column titles as its header row, then one row per item, every row (the report shows only the first few).

Values are exact: a number is written as the document holds it (``-1234.5``, never ``-$1,234.50``), a date as
ISO ``YYYY-MM-DD``, an empty cell for no value. Text from the data can never act as a spreadsheet formula: a text
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their full-width forms, which
some spreadsheets convert) is prefixed with an apostrophe, which spreadsheets show as text and do not
evaluate. Numbers are not prefixed: they are ours, written from exact decimals, and a negative amount must stay
a number. Control characters in text are made visible (:func:`execintel.controls.visible`), newlines and tabs
aside (CSV quotes them), so printing the file to a terminal is as safe as printing the report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from execintel.controls import visible
from execintel.reports.document import decimal_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
GUARD = "'"


def csv_cell(value: Any) -> str:
    """One value as a CSV cell: exact numbers, ``true``/``false``, empty for null, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # not produced by the reports (amounts are Decimals), kept exact if it comes
        return repr(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        text = GUARD + text
    return visible(text, keep="\n\t")


def worklist_csv(section: dict[str, Any]) -> bytes:
    """The CSV of one worklist section: its column titles, then every row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(c["title"]) for c in section["columns"]])
    rows: Sequence[Sequence[Any]] = section["rows"]
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def worklist_sections(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The worklist sections of a document, in order."""
    return [s for s in doc.get("sections", []) if s.get("kind") == "table" and s.get("worklist")]


def worklist_files(doc: dict[str, Any]) -> list[str]:
    """The file names of a document's worklists: ``accounting-missing-receipts.csv``."""
    return [str(s["worklist"]) for s in worklist_sections(doc)]


def write_worklists(doc: dict[str, Any], folder: Path) -> list[Path]:
    """Write each worklist of ``doc`` as ``folder/<report>-<id>.csv`` (atomically); return the paths."""
    written = []
    for section in worklist_sections(doc):
        name = Path(str(section["worklist"])).name  # a file name only, never a path out of the run folder
        target = folder / name
        tmp = target.with_name(name + ".tmp")
        tmp.write_bytes(worklist_csv(section))
        tmp.replace(target)
        written.append(target)
    return written
