"""Worklists as CSV files: every row, exact values, a header row, UTF-8, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import WritePortfolio, base_manifest, dry_run
from execintel.render.worklists import csv_cell, worklist_csv

# Four contact rows across two files, worked out by hand: row 2 of a.csv is valid, row 3 has no valid address,
# row 2 of b.csv repeats a.csv's address in capitals, row 3 of b.csv is a formula that is not an address.
CONTACTS_A = (
    "email,name,source,subscribed,last_engaged,segment\nann@example.com,Ann,web,true,,\nnot-an-address,Bo,web,false,,\n"
)
CONTACTS_B = ("email,name,source,subscribed,last_engaged,segment\nANN@EXAMPLE.COM,Ann again,import,true,,\n"
              "\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",\"@SUM(1+1)\",web,false,,\n")  # fmt: skip


def _section(rows: list[list[object]]) -> dict[str, object]:
    columns = [{"title": "Entity", "unit": ""}, {"title": "Amount", "unit": "USD"}, {"title": "Note", "unit": ""}]
    return {"id": "w", "title": "W", "kind": "table", "columns": columns, "rows": rows, "worklist": "x-w.csv"}


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_values_are_exact_and_the_header_is_the_column_titles() -> None:
    data = worklist_csv(_section([["qosd", Decimal("-1234.567"), "Café crème"], ["jada", Decimal("18769.550"), None],
                                  ["x", 7, True]]))  # fmt: skip
    assert data.startswith(b"Entity,Amount,Note\r\n")  # RFC 4180 line ends, no byte-order mark
    assert _read(data) == [["Entity", "Amount", "Note"], ["qosd", "-1234.567", "Café crème"],
                           ["jada", "18769.55", ""], ["x", "7", "true"]]  # fmt: skip


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1+1",
                                   '=HYPERLINK("http://evil.example/","x")'])  # fmt: skip
def test_text_that_would_be_a_formula_is_prefixed(value: str) -> None:
    assert csv_cell(value).startswith("'")
    assert _read(worklist_csv(_section([["e", Decimal(1), value]])))[1][2].startswith("'")


def test_numbers_stay_numbers_and_plain_text_is_untouched() -> None:
    assert csv_cell(Decimal("-45.10")) == "-45.1"  # a negative amount is ours, not a formula
    assert csv_cell("a-b = c") == "a-b = c" and csv_cell("2026-11-15") == "2026-11-15"


def test_control_characters_are_shown_and_a_newline_stays_inside_its_quoted_cell() -> None:
    data = worklist_csv(_section([["e", Decimal(1), "line one\nline two \x1b[2J"]]))
    assert b"\x1b" not in data
    assert _read(data)[1] == ["e", "1", "line one\nline two \u241b[2J"]


def test_a_run_writes_the_contacts_to_fix_with_every_row(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    entities = [{"id": "a", "name": "A", "contacts": "a.csv"}, {"id": "b", "name": "B", "contacts": "b.csv"}]
    manifest = write_portfolio(base_manifest(entities=entities), {"a.csv": CONTACTS_A, "b.csv": CONTACTS_B})
    run = dry_run(tmp_path / "work", str(manifest), "--reports", "cmo", "--no-pdf")
    rows = _read((run.run_dir / "cmo-contacts-to-fix.csv").read_bytes())
    assert rows == [
        ["Entity", "Email", "Name", "Problem", "File", "Line"],
        ["a", "not-an-address", "Bo", "invalid address", "a.csv", "3"],
        ["b", "ANN@EXAMPLE.COM", "Ann again", "duplicate of a.csv:2", "b.csv", "2"],
        ["b", '\'=HYPERLINK("http://evil.example/","x")', "'@SUM(1+1)", "invalid address", "b.csv", "3"],
    ]
    figures = run.documents["cmo"]["figures"]
    assert figures["contacts.invalid"]["value"] + figures["contacts.duplicates"]["value"] == len(rows) - 1
