"""Receipts: a ledger file that tracks none gets one finding, not one `missing-receipt` per expense (hand-computed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conftest import WritePortfolio, base_manifest
from execintel.analysis.accounting import AccountingResults
from execintel.analysis.context import Context
from execintel.reports import build_report, dumps, loads
from helpers import context

# A CSV ledger with no receipt column: three expense rows (lines 3-5) and a refund (line 6, not an expense).
NO_COLUMN = """date,account,amount,description,counterparty
2026-01-01,Equity:Opening-Balances,5000,Opening,
2026-03-02,Expenses:Software,-40,Seat,Acme
2026-04-02,Expenses:Fuel,-120.55,Fuel,Harbor Fuel
2026-05-09,Expenses:Uncategorized,-19.45,Card,
2026-05-10,Expenses:Software,5,Refund,Acme
"""
# The same with a receipt column that is filled in on one row: receipts are tracked, two are missing.
WITH_COLUMN = """date,account,amount,description,counterparty,receipt
2026-01-01,Equity:Opening-Balances,5000,Opening,,
2026-03-02,Expenses:Software,-40,Seat,Acme,R-1
2026-04-02,Expenses:Fuel,-120.55,Fuel,Harbor Fuel,
2026-05-09,Expenses:Uncategorized,-19.45,Card,,
"""
BEANCOUNT = """option "operating_currency" "USD"
2026-01-01 open Assets:Bank USD
2026-01-01 open Equity:Opening-Balances
2026-01-01 open Expenses:Repairs
2026-01-01 open Expenses:Utilities

2026-01-01 * "Opening"
  Assets:Bank  8000 USD
  Equity:Opening-Balances

2026-02-03 * "Plumber" "Leak"
{meta}  Assets:Bank  -310 USD
  Expenses:Repairs

2026-02-20 * "City" "Water"
  Assets:Bank  -64.20 USD
  Expenses:Utilities
"""


def _ctx(write_portfolio: WritePortfolio, files: dict[str, str], entities: list[dict[str, Any]],
         as_of: str = "2026-11-15") -> Context:  # fmt: skip
    return context(write_portfolio(base_manifest(entities=entities), files), as_of=as_of)


def _results(ctx: Context) -> AccountingResults:
    found = ctx.results("accounting")
    assert isinstance(found, AccountingResults)
    return found


def _kinds(results: AccountingResults) -> list[str]:
    return sorted(f.kind for f in results.findings if f.kind in ("missing-receipt", "receipts-not-tracked"))


def test_a_csv_without_a_receipt_column_gets_one_finding(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}
    results = _results(_ctx(write_portfolio, {"data/ledger.csv": NO_COLUMN}, [entity]))
    [found] = [f for f in results.findings if f.kind == "receipts-not-tracked"]
    assert _kinds(results) == ["receipts-not-tracked"]  # no missing-receipt at all
    # 40 + 120.55 + 19.45 = 180.00 over the three expense rows (the refund is not an expense)
    assert (found.amount, found.severity, found.entity, found.file) == (Decimal(180), "medium", "qosd",
                                                                        "data/ledger.csv")  # fmt: skip
    assert found.title == "data/ledger.csv does not track receipts: 3 expenses ($180.00) have no receipt reference"
    assert "the file has no `receipt` column" in found.evidence[0]
    figures = results.figures
    assert figures["audit.receipts_untracked.count.qosd"].value == 3
    assert figures["audit.receipts_untracked.amount"].value == Decimal(180)
    assert figures["audit.missing_receipts.count"].value == 0
    assert figures["audit.uncategorized.count"].value == 1  # uncategorized is still audited row by row
    gaps = [g.kind for m in results.roadmap for g in m.gaps]
    assert "receipts-untracked" in gaps and "missing-receipts" not in gaps


def test_an_empty_receipt_column_still_means_missing_receipts(write_portfolio: WritePortfolio) -> None:
    # CONTRACT section 7: an expense row with an empty receipt is a missing receipt where receipts are tracked.
    entity = {"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}
    results = _results(_ctx(write_portfolio, {"data/ledger.csv": WITH_COLUMN}, [entity]))
    assert [(f.kind, f.line, f.amount) for f in results.findings if f.kind == "missing-receipt"] == [
        ("missing-receipt", 4, Decimal("120.55")), ("missing-receipt", 5, Decimal("19.45"))]  # fmt: skip
    assert "audit.receipts_untracked.count" not in results.figures
    # every receipt cell empty: still tracked (the column is there), so each expense is a missing receipt
    empty = WITH_COLUMN.replace("R-1", "")
    results = _results(_ctx(write_portfolio, {"data/ledger.csv": empty}, [entity]))
    assert _kinds(results) == ["missing-receipt"] * 3


def test_beancount_receipts_are_tracked_by_metadata(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "rental", "name": "Rental", "ledger": "books.beancount"}
    results = _results(_ctx(write_portfolio, {"books.beancount": BEANCOUNT.format(meta="")}, [entity]))
    [found] = [f for f in results.findings if f.kind == "receipts-not-tracked"]
    assert _kinds(results) == ["receipts-not-tracked"]
    assert (found.amount, found.entity) == (Decimal("374.20"), "rental")  # 310 + 64.20
    assert "`receipt:` metadata" in found.evidence[0]
    # one transaction with receipt metadata: the file tracks receipts, the other expense is missing its receipt
    tracked = BEANCOUNT.format(meta='  receipt: "PL-7"\n')
    results = _results(_ctx(write_portfolio, {"books.beancount": tracked}, [entity]))
    [missing] = [f for f in results.findings if f.kind == "missing-receipt"]
    assert _kinds(results) == ["missing-receipt"] and missing.amount == Decimal("64.20")


def test_one_finding_per_file_and_figures_per_entity(write_portfolio: WritePortfolio) -> None:
    entities = [{"id": "qosd", "name": "Queen", "ledger": "data/qosd.csv"},
                {"id": "rental", "name": "Rental", "ledger": "books.beancount"},
                {"id": "jada", "name": "JADA", "ledger": "data/jada.csv"}]  # fmt: skip
    files = {"data/qosd.csv": WITH_COLUMN, "books.beancount": BEANCOUNT.format(meta=""), "data/jada.csv": NO_COLUMN}
    ctx = _ctx(write_portfolio, files, entities)
    results = _results(ctx)
    untracked = sorted((f.file, f.amount) for f in results.findings if f.kind == "receipts-not-tracked")
    assert untracked == [("books.beancount", Decimal("374.20")), ("data/jada.csv", Decimal(180))]
    figures = results.figures
    assert figures["audit.receipts_untracked.count"].value == 5  # 2 beancount + 3 jada
    assert figures["audit.receipts_untracked.amount"].value == Decimal("554.20")  # 374.20 + 180
    assert figures["audit.receipts_untracked.count.qosd"].value == 0
    assert figures["audit.missing_receipts.count"].value == 2  # qosd's two empty receipts only
    doc = loads(dumps(build_report(ctx, "accounting").to_json()))
    table = next(s for s in doc["sections"] if s["id"] == "receipts-untracked")
    assert [c["title"] for c in table["columns"]] == ["Source", "Entities", "Expenses (rows)", "Amount", "Finding"]
    assert [r[:4] for r in table["rows"]] == [["books.beancount", "Rental", 2, Decimal("374.2")],
                                              ["data/jada.csv", "JADA", 3, 180]]  # fmt: skip
    ids = {f["id"] for f in doc["findings"]}
    assert all(r[4] in ids for r in table["rows"])
    assert any(line.startswith("Receipts are not tracked in books.beancount, data/jada.csv: 5 expenses ($554.20)")
               for line in doc["summary"])  # fmt: skip
    audit = next(s for s in doc["sections"] if s["id"] == "audit")
    # no receipt: qosd's 120.55 + 19.45 = 140 (the untracked files' expenses are not missing receipts);
    # uncategorized: qosd's and jada's 19.45 = 38.90
    assert audit["rows"][-1] == ["Portfolio", 2, 140, 2, Decimal("38.9")]


def test_the_finding_keeps_its_id_whatever_as_of(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}
    ids = []
    for as_of in ("2026-06-30", "2026-11-15"):
        results = _results(_ctx(write_portfolio, {"data/ledger.csv": NO_COLUMN}, [entity], as_of=as_of))
        ids.append([f.id for f in results.findings if f.kind == "receipts-not-tracked"])
    assert ids[0] == ids[1] and len(ids[0]) == 1
