"""Ledger CSV: exact decimals, provenance per row, bad rows reported with file:line."""

from __future__ import annotations

from decimal import Decimal

from conftest import WritePortfolio, base_manifest
from helpers import load

LEDGER = """date,account,amount,description,counterparty,service_date,receipt
2026-01-01,Equity:Opening-Balances,10000.00,Opening,,,
2026-01-05,Income:Charters,1800.10,Charter,c-1,2026-02-01,
2026-01-06,Expenses:COGS:Crew,-650.01,Crew,Crew Co,,R-1
2026-01-07,Expenses:Slip,abc,Slip,Harbor,,R-2
2026-13-01,Expenses:Slip,-10,Bad date,Harbor,,
2026-01-08,Revenue:Other,10,Bad root,,,
"""


def test_good_rows_load_with_exact_amounts_and_source_lines(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "ledger": "data/ledger.csv"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"data/ledger.csv": LEDGER}))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (3, 3)
    rows = result.facts.query(
        "SELECT amount, source_file, source_line, service_date FROM transactions ORDER BY source_line"
    )
    assert [r[0] for r in rows] == [Decimal("10000"), Decimal("1800.10"), Decimal("-650.01")]
    assert [(r[1], r[2]) for r in rows] == [("data/ledger.csv", 2), ("data/ledger.csv", 3), ("data/ledger.csv", 4)]
    assert str(rows[1][3]) == "2026-02-01"
    messages = [str(p) for p in report.problems]
    assert messages == [
        "data/ledger.csv:5: amount: amount 'abc' is not a number",
        "data/ledger.csv:6: date: date '2026-13-01' is not an ISO date like 2026-11-15",
        "data/ledger.csv:7: account: account 'Revenue:Other' must start with one of Assets, Liabilities, Equity, Income, Expenses",
    ]
    total = result.facts.query("SELECT sum(amount) FROM transactions")[0][0]
    assert total == Decimal("11150.09")


def test_portfolio_wide_ledger_needs_known_entity_on_each_row(write_portfolio: WritePortfolio) -> None:
    ledger = (
        "date,entity,account,amount\n2026-01-01,qosd,Income:X,5\n2026-01-02,ghost,Income:X,5\n2026-01-03,,Income:X,5\n"
    )
    result = load(write_portfolio(base_manifest(ledger="ledger.csv"), {"ledger.csv": ledger}))
    [report] = result.reports
    assert report.rows_loaded == 1
    assert "ledger.csv:3: entity: unknown entity 'ghost' (known: qosd)" in [str(p) for p in report.problems]
    assert any(p.line == 4 and "entity is empty" in p.message for p in report.problems)


def test_wrong_header_names_the_missing_columns(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "ledger": "l.csv"}
    result = load(
        write_portfolio(base_manifest(entities=[entity]), {"l.csv": "day,acct,amount\n2026-01-01,Income:X,1\n"})
    )
    assert [str(p) for p in result.errors] == [
        "l.csv:1: header lacks required column(s) date, account; found day, acct, amount"
    ]


def test_quoted_multiline_field_keeps_line_numbers_right(write_portfolio: WritePortfolio) -> None:
    ledger = 'date,account,amount,description\n2026-01-01,Income:X,1,"two\nlines"\n2026-01-02,Income:X,bad,x\n'
    entity = {"id": "qosd", "name": "Q", "ledger": "l.csv"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"l.csv": ledger}))
    assert [p.line for p in result.errors] == [4]


# Amounts and dates with other digits or separators are refused, on the column-wise path and the row check -------

# Decimal() reads the first three as 1000, 123 (Arabic-Indic digits) and 123 (fullwidth digits).
ODD_AMOUNTS = ["1_000", "\u0661\u0662\u0663", "\uff11\uff12\uff13", "\u00b2", "1,000", "NaN", "Infinity"]


def test_amounts_with_other_digits_or_separators_are_refused(write_portfolio: WritePortfolio) -> None:
    rows = [f"2026-01-0{i + 1},Income:Sales,{amount}" for i, amount in enumerate(ODD_AMOUNTS)]
    rows += [
        "2026-02-01,Income:Sales,12.50",
        "\uff12\uff10\uff12\uff16-\uff10\uff12-\uff10\uff12,Income:Sales,1",
        "2026-W05-1,Income:Sales,1",
    ]
    text = "date,account,amount\n" + "\n".join(rows) + "\n"
    entity = {"id": "qosd", "name": "Q", "ledger": "l.csv"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"l.csv": text}))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (1, len(ODD_AMOUNTS) + 2)
    messages = [str(p) for p in report.problems]
    assert messages[:3] == [  # before: loaded as 1000, 123 and 123
        "l.csv:2: amount: amount '1_000' is not a number",
        "l.csv:3: amount: amount '\u0661\u0662\u0663' is not a number",
        "l.csv:4: amount: amount '\uff11\uff12\uff13' is not a number",
    ]
    assert messages[-2:] == [
        "l.csv:10: date: date '\uff12\uff10\uff12\uff16-\uff10\uff12-\uff10\uff12' is not an ISO date like 2026-11-15",
        "l.csv:11: date: date '2026-W05-1' is not an ISO date like 2026-11-15",  # before: read as 2026-01-26
    ]
    assert result.facts.query("SELECT amount FROM transactions") == [(Decimal("12.50"),)]


def test_a_csv_line_over_the_cap_ends_the_source_without_being_read_whole(write_portfolio: WritePortfolio) -> None:
    from execintel.sources.base import MAX_CSV_LINE_CHARS

    long_line = "2026-01-02,Income:Sales,1," + "x" * (5 * MAX_CSV_LINE_CHARS) + "\n"
    text = "date,account,amount,description\n2026-01-01,Income:Sales,5,\n" + long_line + "2026-01-03,Income:Sales,7,\n"
    entities = [{"id": "qosd", "name": "Q", "ledger": "l.csv", "contacts": "c.csv"}]
    files: dict[str, str | bytes] = {"l.csv": text, "c.csv": "email,name\na@example.com," + "y" * (3 << 20) + "\n"}
    result = load(
        write_portfolio(
            base_manifest(entities=entities, cloud_costs="k.csv"),
            files | {"k.csv": "month,service,amount\n2026-10,S3," + "9" * (2 << 20) + "\n"},
        )
    )
    limit = f"{MAX_CSV_LINE_CHARS:,}"
    assert [str(p) for p in result.errors] == [  # before: each line was read whole, then refused by the csv module
        f"l.csv:3: is not valid CSV: line 3 is longer than {limit} characters",
        f"c.csv:2: is not valid CSV: line 2 is longer than {limit} characters",
        f"k.csv:2: is not valid CSV: line 2 is longer than {limit} characters",
    ]
