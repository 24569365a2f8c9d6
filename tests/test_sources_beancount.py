"""Beancount ledgers read with beancount's own loader."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from conftest import WritePortfolio, base_manifest
from helpers import load

LEDGER = """option "operating_currency" "USD"
2026-01-01 open Assets:Bank USD
2026-01-01 open Equity:Opening-Balances
2026-01-01 open Income:Charters
2026-01-01 open Expenses:Fuel

2026-01-01 * "Opening"
  Assets:Bank  5000 USD
  Equity:Opening-Balances

2026-02-01 * "Customer 7" "Charter deposit"
  service_date: 2026-03-01
  Assets:Bank  1800 USD
  Income:Charters

2026-02-03 * "Harbor Fuel" "Fuel"
  receipt: "R-9"
  Assets:Bank  -120.55 USD
  Expenses:Fuel
"""


def test_postings_become_cash_convention_rows(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "ledger": "books.beancount"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"books.beancount": LEDGER}))
    [report] = result.reports
    assert report.spec.kind == "beancount" and report.errors == []
    rows = result.facts.query(
        "SELECT account, amount, counterparty, service_date, receipt, source_line FROM transactions ORDER BY date"
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("Equity:Opening-Balances", Decimal(5000)),
        ("Income:Charters", Decimal(1800)),
        ("Expenses:Fuel", Decimal("-120.55")),
    ]
    assert rows[1][2] == "Customer 7" and str(rows[1][3]) == "2026-03-01"
    assert rows[2][4] == "R-9"
    assert all(isinstance(r[5], int) for r in rows)
    cash = result.facts.query("SELECT sum(amount) FROM transactions")[0][0]
    assert cash == Decimal("6679.45")  # what Assets:Bank holds


def test_bean_example_ledger_loads(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    generated = tmp_path / "example.beancount"
    subprocess.run(
        [Path(sys.executable).parent / "bean-example", "--seed", "3", "--date-begin", "2024-01-01",
         "--date-end", "2025-06-30", "--date-birth", "1990-05-05", "-o", str(generated)],
        check=True, capture_output=True,
    )  # fmt: skip
    entity = {"id": "me", "name": "Me", "ledger": "example.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"example.beancount": generated.read_text()})
    result = load(path)
    [report] = result.reports
    assert report.errors == []
    assert report.rows_loaded > 500
    # vacation hours and other non-USD commodities are counted in one warning, not silently dropped
    assert any("VACHR" in p.message for p in report.problems if p.severity == "warning")
