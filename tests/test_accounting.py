"""Accounting analysis and report: expense audit, classification, deferred revenue, chart of accounts, roadmap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.accounting import AccountingResults, gaap_line, month_end
from execintel.analysis.context import Context
from execintel.demo import generate_demo
from execintel.reports import build_report, dumps, loads
from execintel.reports.document import Document
from helpers import context

# as_of 2026-11-15: the 12-month window is 2025-11-15 < date <= 2026-11-15. capitalize_above 1000.
LEDGER = """date,account,amount,description,counterparty,service_date,receipt
2025-01-01,Equity:Opening-Balances,20000,Opening,,,
2025-10-01,Expenses:Software,-50,Seat,Acme,,R1
2025-11-01,Expenses:Software,-50,Seat,Acme,,R2
2025-12-01,Expenses:Software,-50,Seat,Acme,,R3
2026-01-01,Expenses:Software,-50,Seat,acme ,,
2026-03-10,Expenses:COGS:Fuel,-300,Fuel,Dock,,R4
2026-04-10,Expenses:COGS:Fuel,-300,Fuel,Dock,,R5
2026-08-10,Expenses:COGS:Fuel,-300,Fuel,Dock,,R6
2026-06-12,Expenses:Maintenance,-4850,New mainsail,Sail loft,,R7
2026-07-25,Expenses:Uncategorized,-80,Card purchase,,,
2026-09-01,Expenses:Maintenance,-1000,Haul out,Yard,,R8
2026-10-05,Expenses:Software,5,Refund,Acme,,
2026-10-20,Income:Charters,1800,Charter deposit,,2026-12-05,
2026-11-10,Income:Charters,900,Charter,,2026-11-15,
2026-11-12,Income:Charters,600,Charter,,2027-01-10,
2026-11-16,Expenses:Software,-50,Seat,Acme,,
"""
# Lines 2..17. Expense rows (Expenses, amount < 0) dated <= as_of: lines 3-12; line 13 is a refund (> 0), line 17
# is after as_of.
# Missing receipts: line 6 (50, "acme ") and line 11 (80) -> count 2, amount 130.
# Uncategorized: line 11 -> count 1, amount 80.
# Window expense rows: lines 5-12 -> 50 + 50 + 300 + 300 + 300 + 4850 + 80 + 1000 = 6930.
#   Acme ("acme" after trimming/lowercasing) on Expenses:Software is paid 2025-10-01, 11-01, 12-01, 2026-01-01: gaps
#   31, 30, 31 days (3 in 25..35) -> monthly: lines 5, 6 -> recurring.
#   Dock on Expenses:COGS:Fuel: gaps 31 and 122 days fit no cadence, but COGS paid on 3 days is a per-job cost ->
#   lines 7-9 recurring. Recurring: 5 rows, 50 + 50 + 900 = 1000; one-time: 3 rows (4850, 80, 1000), 5930.
#   Capital candidate: line 10 (4850 > 1000); line 12 (exactly 1000) is expensed -> expensed 7 rows, 2080.
#   COGS (revenue-producing): lines 7-9 -> 3 rows, 900; administrative 5 rows, 6030.
# Deferred at as_of: line 14 (1800, service 2026-12-05) + line 16 (600, service 2027-01-10) = 2400; line 15's
#   service date is as_of itself, so it is earned.
# Accounts: Equity:Opening-Balances, Expenses:COGS:Fuel, Expenses:Maintenance, Expenses:Software,
#   Expenses:Uncategorized, Income:Charters -> 6.


def _manifest(policies: dict[str, Any] | None = None, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entities = [{"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}, *(extra or [])]
    return base_manifest(entities=entities, policies={"capitalize_above": 1000} if policies is None else policies)


def _ctx(write_portfolio: WritePortfolio, ledger: str = LEDGER, **kwargs: Any) -> Context:
    return context(write_portfolio(_manifest(**kwargs), {"data/ledger.csv": ledger}), as_of="2026-11-15")


def _results(ctx: Context) -> AccountingResults:
    found = ctx.results("accounting")
    assert isinstance(found, AccountingResults)
    return found


def _value(results: AccountingResults, fid: str) -> Any:
    return results.figures[fid].value


@pytest.fixture
def basic(write_portfolio: WritePortfolio) -> Context:
    """The hand-computed ledger, plus an active entity with no ledger."""
    return _ctx(write_portfolio, extra=[{"id": "jada", "name": "JADA"}])


def test_missing_receipts_one_finding_per_expense_row(basic: Context) -> None:
    results = _results(basic)
    found = [f for f in results.findings if f.kind == "missing-receipt"]
    assert [(f.line, f.amount, f.entity, f.severity) for f in found] == [
        (6, Decimal(50), "qosd", "low"),
        (11, Decimal(80), "qosd", "low"),
    ]
    assert found[0].file == "data/ledger.csv"
    assert _value(results, "audit.missing_receipts.count") == 2
    assert _value(results, "audit.missing_receipts.amount") == Decimal(130)  # 50 + 80
    assert _value(results, "audit.missing_receipts.count.qosd") == 2
    assert results.figures["audit.missing_receipts.count.qosd"].sources == ("data/ledger.csv:6,11",)


def test_uncategorized_expenses(basic: Context) -> None:
    results = _results(basic)
    [found] = [f for f in results.findings if f.kind == "uncategorized-expense"]
    assert (found.line, found.amount, found.severity) == (11, Decimal(80), "medium")
    assert "Card purchase" in found.title
    assert _value(results, "audit.uncategorized.count.qosd") == 1
    assert _value(results, "audit.uncategorized.amount") == Decimal(80)


def test_classification_counts_and_amounts(basic: Context) -> None:
    results = _results(basic)
    expected = {
        "recurring": (5, 1000),
        "one_time": (3, 5930),
        "capital_candidate": (1, 4850),
        "expensed": (7, 2080),
        "revenue_producing": (3, 900),
        "administrative": (5, 6030),
    }
    for cls, (count, amount) in expected.items():
        assert _value(results, f"classification.{cls}.count.qosd") == count, cls
        assert _value(results, f"classification.{cls}.amount.qosd") == Decimal(amount), cls
        assert _value(results, f"classification.{cls}.count") == count, cls  # one entity: portfolio = entity
    assert results.figures["classification.recurring.count.qosd"].sources == ("data/ledger.csv:5-9",)
    assert [(r.counterparty, r.account, r.cadence, r.payments, r.amount) for r in results.recurring] == [
        ("Dock", "Expenses:COGS:Fuel", "per-job", 3, Decimal(-300)),
        ("Acme", "Expenses:Software", "monthly", 4, Decimal(-50)),  # the mean of the last 3 payment days
    ]


def test_capital_candidates(basic: Context) -> None:
    [found] = [f for f in _results(basic).findings if f.kind == "capital-candidate"]
    assert (found.amount, found.line, found.severity, found.entity) == (Decimal(4850), 10, "info", "qosd")
    assert "New mainsail" in found.title


def test_no_capitalisation_policy_leaves_that_classification_out(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio, policies={})
    results = _results(ctx)
    assert "classification.capital_candidate.count" not in results.figures
    assert not [f for f in results.findings if f.kind == "capital-candidate"]
    doc = build_report(ctx, "accounting")
    assert {"data": "policies.capitalize_above", "needed_for": "the capital-candidate / expensed classification"} in (
        doc.missing
    )


def test_description_is_the_payee_when_counterparty_is_empty(write_portfolio: WritePortfolio) -> None:
    rows = "".join(f"{d},Expenses:Software,-10,Monthly seat,,,R\n" for d in ("2026-01-05", "2026-02-04", "2026-03-06"))
    ctx = _ctx(write_portfolio, ledger="date,account,amount,description,counterparty,service_date,receipt\n" + rows)
    [series] = _results(ctx).recurring
    assert (series.counterparty, series.cadence) == ("Monthly seat", "monthly")


def test_deferred_revenue_and_schedule(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "deferred_revenue.qosd") == Decimal(2400)  # 1800 + 600
    assert _value(results, "deferred_revenue.portfolio") == Decimal(2400)
    assert results.figures["deferred_revenue.qosd"].sources == ("data/ledger.csv:14,16",)
    assert [(s.month, s.amount, s.rows) for s in results.schedule] == [
        ("2026-12", Decimal(1800), 1),
        ("2027-01", Decimal(600), 1),
    ]
    [found] = [f for f in results.findings if f.kind == "deferred-revenue"]
    assert (found.amount, found.severity, found.entity) == (Decimal(2400), "medium", "qosd")
    assert len(found.evidence) == 2 and "data/ledger.csv:14" in found.evidence[0]


def test_no_deferred_revenue_is_a_zero_without_a_finding(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio, ledger="date,account,amount,service_date\n2026-11-01,Income:Sales,100,2026-11-01\n")
    results = _results(ctx)
    assert _value(results, "deferred_revenue.qosd") == 0
    assert results.figures["deferred_revenue.qosd"].sources == ("portfolio.yaml:entities[0].ledger",)
    assert not [f for f in results.findings if f.kind == "deferred-revenue"]


@pytest.mark.parametrize(
    ("account", "section", "line"),
    [
        ("Assets:Bank:Checking", "Assets", "Cash and cash equivalents"),
        ("Assets:Equipment", "Assets", "Property and equipment"),
        ("Liabilities:Mortgage", "Liabilities", "Loans and notes payable"),
        ("Liabilities:Security-Deposits", "Liabilities", "Deposits held"),
        ("Equity:Owner-Draws", "Equity", "Owner draws and distributions"),
        ("Income:Rent:Unit-A", "Revenue", "Revenue: Rent"),
        ("Income:Interest", "Other income and expense", "Interest income"),
        ("Expenses:COGS:Fuel", "Cost of revenue", "Cost of revenue: Fuel"),
        ("Expenses:COGS", "Cost of revenue", "Cost of revenue"),
        ("Expenses:Mortgage-Interest", "Other income and expense", "Interest expense"),
        ("Expenses:Slip-Rent", "Operating expenses", "Rent and occupancy"),
        ("Expenses:Cloud:AWS", "Operating expenses", "Software and cloud"),
        ("Expenses:Advertising", "Operating expenses", "Marketing and advertising"),
        ("Expenses:Insurance", "Operating expenses", "Insurance"),
        ("Expenses:Maintenance", "Operating expenses", "Fuel, repairs and maintenance"),
        ("Expenses:Professional-Fees", "Operating expenses", "Professional fees"),
        ("Expenses:Bank-Fees", "Operating expenses", "Bank and payment fees"),
        ("Expenses:Property-Tax", "Operating expenses", "Taxes and licences"),
        ("Expenses:Uncategorized", "Operating expenses", "Uncategorized (to reclassify)"),
        ("Expenses:Misc", "Operating expenses", "Other operating expenses"),
    ],
)
def test_gaap_line(account: str, section: str, line: str) -> None:
    found = gaap_line(account)
    assert (found.section, found.line) == (section, line)
    assert found.statement == (
        "Balance sheet" if section in ("Assets", "Liabilities", "Equity") else "Income statement"
    )


def test_chart_of_accounts(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "chart.accounts") == 6
    chart = {c.account: c for c in results.chart}
    software = chart["Expenses:Software"]
    # window rows: lines 5, 6, 13 -> -50 - 50 + 5 = -95; all rows up to as_of: lines 3-6, 13 -> 5
    assert (software.rows_ttm, software.amount_ttm, software.rows, software.entities) == (3, Decimal(-95), 5, ("qosd",))
    assert chart["Income:Charters"].gaap.section == "Revenue"


def test_roadmap_only_for_gaps_that_exist(basic: Context) -> None:
    results = _results(basic)
    roadmap = [(m.key, m.due, [g.kind for g in m.gaps]) for m in results.roadmap]
    assert roadmap == [
        ("books", dt.date(2026, 12, 31), ["no-ledger"]),
        ("expense-records", dt.date(2027, 1, 31), ["uncategorized", "missing-receipts"]),
        ("fixed-assets", dt.date(2027, 2, 28), ["capital-candidates"]),
        ("accrual", dt.date(2027, 3, 31), ["deferred-revenue"]),
    ]
    assert results.roadmap[0].gaps[0].entities == ("jada",)
    assert results.roadmap[1].gaps[1].amount == Decimal(130)


def test_clean_ledger_has_an_empty_roadmap(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount,receipt\n2026-10-01,Expenses:Software,-10,R1\n2026-10-02,Income:Sales,30,\n"
    ctx = _ctx(write_portfolio, ledger=ledger)
    results = _results(ctx)
    assert results.roadmap == [] and _value(results, "roadmap.milestones") == []
    doc = build_report(ctx, "accounting")
    roadmap = next(s for s in doc.sections if s["id"] == "roadmap")
    assert roadmap["items"] == ["No gap found: nothing to add to the roadmap."]


def test_month_end() -> None:
    assert month_end(dt.date(2026, 11, 15), 1) == dt.date(2026, 12, 31)
    assert month_end(dt.date(2026, 11, 15), 3) == dt.date(2027, 2, 28)
    assert month_end(dt.date(2027, 12, 31), 2) == dt.date(2028, 2, 29)


def test_report_on_the_hand_computed_ledger(basic: Context) -> None:
    doc = loads(dumps(build_report(basic, "accounting").to_json()))
    assert doc["title"] == "Accounting report"
    summary = " ".join(doc["summary"])
    assert "2 expenses have no receipt, $130.00 in all." in summary
    assert "1 expense is uncategorized, $80.00 in all." in summary
    assert "$2,400.00" in summary
    audit = next(s for s in doc["sections"] if s["id"] == "audit")
    assert audit["rows"][-1] == ["Portfolio", 2, 130, 1, 80]
    assert {"data": "ledger of JADA (jada)", "needed_for": (
        "its expense audit, classification, deferred revenue and chart of accounts")} in doc["missing"]  # fmt: skip
    roadmap = next(s for s in doc["sections"] if s["id"] == "roadmap")["items"]
    assert roadmap[0] == "1. Complete the books, by 2026-12-31: start a ledger for JADA."
    assert len(roadmap) == 4


def test_report_without_any_ledger(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of="2026-11-15")
    doc = build_report(ctx, "accounting")
    assert doc.summary[0] == "No ledger data: there are no expenses to audit and no revenue to recognise."
    assert "audit.missing_receipts.count" not in doc.figures
    assert [m["data"] for m in doc.missing] == ["ledger of Queen of San Diego (qosd)"]
    roadmap = next(s for s in doc.sections if s["id"] == "roadmap")["items"]
    assert roadmap == ["1. Complete the books, by 2026-12-31: start a ledger for Queen of San Diego."]


# --- the demo portfolio (docs/demo.md) ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_accounting(tmp_path_factory: pytest.TempPathFactory) -> Document:
    """The accounting report of a freshly generated demo portfolio."""
    manifest: Path = generate_demo(tmp_path_factory.mktemp("demo") / "portfolio")
    return build_report(context(manifest), "accounting")


def test_demo_revenue_recognition(demo_accounting: Document) -> None:
    figures = loads(dumps(demo_accounting.to_json()))["figures"]
    assert figures["deferred_revenue.qosd"]["value"] == Decimal(3600)
    assert figures["deferred_revenue.yacht-delivery"]["value"] == Decimal("2512.5")
    assert figures["deferred_revenue.portfolio"]["value"] == Decimal("6112.5")  # 3600 + 2512.50
    kinds = {(f.kind, f.entity) for f in demo_accounting.findings if f.kind == "deferred-revenue"}
    assert kinds == {("deferred-revenue", "qosd"), ("deferred-revenue", "yacht-delivery")}


def test_demo_capital_candidates(demo_accounting: Document) -> None:
    found = sorted((f.entity, f.amount) for f in demo_accounting.findings if f.kind == "capital-candidate")
    assert found == [("qosd", Decimal(4850)), ("rental-3028", Decimal(2980))]  # the mainsail and the water heater
    titles = " ".join(f.title for f in demo_accounting.findings if f.kind == "capital-candidate")
    assert "mainsail" in titles and "Water heater" in titles


def test_demo_expense_tracking_gaps(demo_accounting: Document) -> None:
    figures = demo_accounting.figures
    assert figures["audit.missing_receipts.count.qosd"].value == 42
    assert figures["audit.missing_receipts.count.quickdumpnow"].value == 25
    assert figures["audit.uncategorized.count.qosd"].value > 0
    missing = [f for f in demo_accounting.findings if f.kind == "missing-receipt"]
    assert len(missing) == figures["audit.missing_receipts.count"].value
    assert all(f.file and f.line for f in missing)


def test_demo_roadmap_reaches_q1_2027(demo_accounting: Document) -> None:
    roadmap = next(s for s in demo_accounting.sections if s["id"] == "roadmap")["items"]
    assert len(roadmap) == 4
    assert roadmap[0].startswith("1. Complete the books, by 2026-12-31: start a ledger for DangerousCentaur")
    assert roadmap[-1].startswith("4. Adopt accrual revenue recognition (ASC 606), by 2027-03-31")
    chart = next(s for s in demo_accounting.sections if s["id"] == "chart")
    lines = {row[2]: row[1] for row in chart["rows"]}
    assert lines["Expenses:Slip-Rent"] == "Rent and occupancy"
    assert lines["Income:Charters"] == "Revenue: Charters"


# --- worklists, windows, money format, stable ids ---------------------------------------------------------------


def test_worklists_are_tables_with_one_row_per_finding(basic: Context) -> None:
    doc = loads(dumps(build_report(basic, "accounting").to_json()))
    sections = {s["id"]: s for s in doc["sections"]}
    assert not [s for s in doc["sections"] if s["kind"] == "findings"]  # no finding cards: tables
    columns = ["Date", "Entity", "Expense account", "Paid to", "Amount", "Source"]
    expected = {
        # largest first: line 11 (80, no counterparty: the description is the payee), then line 6 (50: the payee
        # with the description that says more)
        "missing-receipts": [["2026-07-25", "Queen", "Uncategorized", "Card purchase", 80,
                              "data/ledger.csv:11"],
                             ["2026-01-01", "Queen", "Software", "acme: Seat", 50, "data/ledger.csv:6"]],
        "uncategorized": [["2026-07-25", "Queen", "Uncategorized", "Card purchase", 80,
                           "data/ledger.csv:11"]],
        "capital-candidates": [["2026-06-12", "Queen", "Maintenance", "Sail loft: New mainsail", 4850,
                                "data/ledger.csv:10"]],
    }  # fmt: skip
    kinds = {"missing-receipts": "missing-receipt", "uncategorized": "uncategorized-expense",
             "capital-candidates": "capital-candidate"}  # fmt: skip
    for sid, rows in expected.items():
        section = sections[sid]
        assert section["worklist"] == f"accounting-{sid}.csv" and [c["title"] for c in section["columns"]] == columns
        assert section["rows"] == rows, sid
        # every row is a finding of the JSON, at the row's file and line
        places = {(f["file"], f["line"]) for f in doc["findings"] if f["kind"] == kinds[sid]}
        assert places == {(r[5].split(":")[0], int(r[5].split(":")[1])) for r in rows}
    assert len({f["id"] for f in doc["findings"]}) == len(doc["findings"])  # ids are unique
    # a mail client shows a table of 7 or more columns as cards: every table here stays a table
    assert all(len(s["columns"]) <= 6 for s in doc["sections"] if s["kind"] == "table")


def test_every_table_names_its_window(basic: Context) -> None:
    doc = build_report(basic, "accounting")
    windows = {
        "audit": "up to 2026-11-15",
        "uncategorized": "up to 2026-11-15",
        "missing-receipts": "up to 2026-11-15",
        "class-recurring": "2025-11-16 to 2026-11-15",
        "class-capital_candidate": "2025-11-16 to 2026-11-15",
        "class-revenue_producing": "2025-11-16 to 2026-11-15",
        "recurring": "at 2026-11-15",
        "capital-candidates": "2025-11-16 to 2026-11-15",
        "deferred": "at 2026-11-15",
        "recognition": "at 2026-11-15",
        "chart": "2025-11-16 to 2026-11-15",
        "freshness": "at 2026-11-15",  # every report's: each source's newest row on or before as_of
    }
    tables = {s["id"]: s["title"] for s in doc.sections if s["kind"] == "table"}
    assert set(tables) == set(windows)
    for sid, window in windows.items():
        assert window in tables[sid], sid


def test_one_money_format_in_findings_and_tables(basic: Context) -> None:
    doc = build_report(basic, "accounting")
    titles = {f.kind: f.title for f in doc.findings}  # the last of each kind
    assert titles["missing-receipt"] == "No receipt for $80.00 paid to Card purchase on 2026-07-25"
    assert titles["uncategorized-expense"].startswith("Uncategorized expense of $80.00 ")
    assert titles["capital-candidate"].startswith("$4,850.00 expensed on 2026-06-12")
    assert "policies.capitalize_above = $1,000.00" in " ".join(
        e for f in doc.findings if f.kind == "capital-candidate" for e in f.evidence
    )
    assert not [f.title for f in doc.findings if " USD" in f.title]


# Two identical rows (lines 3 and 4) and, in the second ledger, a row inserted before them: the ids of the
# missing-receipt findings stay the same, and the two identical rows never share one.
TWIN = "2026-03-01,Expenses:Software,-10,Seat,Acme,,\n"


def test_row_findings_have_stable_distinct_ids(write_portfolio: WritePortfolio) -> None:
    head = "date,account,amount,description,counterparty,service_date,receipt\n"
    first = _results(_ctx(write_portfolio, ledger=head + "2026-01-01,Income:Sales,100,,,,\n" + TWIN + TWIN))
    ids = [f.id for f in first.findings if f.kind == "missing-receipt"]
    assert len(set(ids)) == 2
    ledger = head + "2026-02-01,Expenses:Software,-99,Other,Vendor,,R1\n2026-01-01,Income:Sales,100,,,,\n" + TWIN * 2
    later = context(write_portfolio(_manifest(), {"data/ledger.csv": ledger}), as_of="2026-12-31")
    moved = [f for f in _results(later).findings if f.kind == "missing-receipt"]
    assert [f.line for f in moved] == [4, 5] and [f.id for f in moved] == ids
