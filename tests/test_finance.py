"""Finance analysis and the CFO report: every figure and finding on small hand-computed ledgers, and the demo."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.analysis.finance import sources_by, target_months
from execintel.analysis.model import Results
from execintel.demo import generate_demo
from execintel.reports import build_report, dumps, loads
from execintel.reports.document import Document
from helpers import context

# as_of 2026-11-15: the 12-month window is 2025-11-15 < date <= 2026-11-15; the last 3 complete months are
# 2026-08, 2026-09 and 2026-10.
LEDGER = """date,account,amount,description,receipt
2025-01-01,Equity:Opening-Balances,10000,Opening balance,
2025-11-15,Income:Charters,500,on window_start: outside the 12 months,
2025-11-16,Income:Charters,1000,first day inside the window,
2026-03-10,Income:Charters,-200,refund,
2026-08-05,Expenses:Rent,-1200,rent,R1
2026-08-20,Expenses:COGS:Fuel,-300,fuel,R2
2026-08-25,Income:Charters,1800,charter,
2026-09-05,Expenses:Rent,-1200,rent,R3
2026-09-10,Liabilities:Loan,5000,loan proceeds,
2026-10-05,Expenses:Rent,-1200,rent,R4
2026-10-06,Expenses:COGS,-150,ice,R5
2026-10-07,Equity:Owner-Draws,-2000,draw,
2026-11-15,Income:Charters,900,on as_of: inside,
2026-11-16,Income:Charters,99999,after as_of: ignored,
"""
# cash = 10000 + 500 + 1000 - 200 - 1200 - 300 + 1800 - 1200 + 5000 - 1200 - 150 - 2000 + 900 = 12950
# revenue.ttm = 1000 + 1800 + 900 = 3700 (the row on window_start, the refund and the row after as_of are out)
# expenses.ttm = 1200 + 300 + 1200 + 1200 + 150 = 4050
# net cash flow without Equity/Liabilities: Aug -1200 - 300 + 1800 = +300 (burn 0), Sep -1200, Oct -1200 - 150 = -1350
# burn = (0 + 1200 + 1350) / 3 = 850; runway = floor(12950 / 850 * 30) = floor(457.05...) = 457
# opex Aug..Oct = 3 * 1200 = 3600 -> 1200 a month; margin 900 - 400 = 500; break-even = ceil(1200 / 500) = ceil(2.4) = 3


def _entity(**extra: Any) -> dict[str, Any]:
    return {"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv", **extra}


def _ctx(write_portfolio: WritePortfolio, ledger: str = LEDGER, policies: dict[str, Any] | None = None,
         **entity: Any) -> Context:  # fmt: skip
    manifest = base_manifest(entities=[_entity(**entity)], policies=policies or {})
    return context(write_portfolio(manifest, {"data/ledger.csv": ledger}), as_of="2026-11-15")


def _results(ctx: Context) -> Results:
    return ctx.results("finance")


def _value(results: Results, fid: str) -> Any:
    return results.figures[fid].value


@pytest.fixture
def basic(write_portfolio: WritePortfolio) -> Context:
    """The hand-computed ledger with unit economics and a 500-day runway policy."""
    economics = {"unit": "charter", "price": 900, "variable_cost": 400, "capacity_per_month": 8}
    return _ctx(write_portfolio, policies={"min_runway_days": 500, "cash_review": "daily"}, unit_economics=economics)


def test_cash_counts_every_row_up_to_as_of(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "cash.qosd") == Decimal(12950)
    assert _value(results, "cash.portfolio") == Decimal(12950)
    # the row after as_of (line 15) is not a source
    assert results.figures["cash.qosd"].sources == ("data/ledger.csv:2-14",)
    assert results.figures["cash.qosd"].unit == "USD"


def test_ttm_window_edges_and_refunds(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "revenue.ttm.qosd") == Decimal(3700)
    assert _value(results, "expenses.ttm.qosd") == Decimal(4050)
    assert _value(results, "revenue.ttm.portfolio") == Decimal(3700)
    assert _value(results, "expenses.ttm.portfolio") == Decimal(4050)
    # lines 4 (1000), 8 (1800) and 14 (900): not 3 (window_start), 5 (refund) or 15 (after as_of)
    assert results.figures["revenue.ttm.qosd"].sources == ("data/ledger.csv:4,8,14",)


def test_burn_leaves_out_equity_and_liabilities_and_runway_rounds_down(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "cashflow.net.2026-08.portfolio") == Decimal(300)
    assert _value(results, "burn.month.2026-08.portfolio") == Decimal(0)
    assert _value(results, "burn.month.2026-09.portfolio") == Decimal(1200)  # the 5000 loan is not income
    assert _value(results, "burn.month.2026-10.portfolio") == Decimal(1350)  # the 2000 draw is not a cost
    assert _value(results, "burn.monthly.portfolio") == Decimal(850)
    assert _value(results, "runway.days.portfolio") == 457
    assert results.figures["runway.days.portfolio"].unit == "days"


def test_runway_below_policy_finding_names_both_numbers(basic: Context) -> None:
    [finding] = [f for f in _results(basic).findings if f.kind == "runway-below-policy"]
    assert finding.severity == "high"
    assert any("457 days" in e for e in finding.evidence)
    assert any("500 days" in e for e in finding.evidence)
    # cash needed for 500 days at 850 a month: 850 * 500 / 30 - 12950 = 14166.67 - 12950 = 1216.67
    assert finding.amount is not None and finding.amount.quantize(Decimal("0.01")) == Decimal("1216.67")


def test_no_finding_when_runway_meets_policy(write_portfolio: WritePortfolio) -> None:
    results = _results(_ctx(write_portfolio, policies={"min_runway_days": 457}))
    assert not [f for f in results.findings if f.kind == "runway-below-policy"]


def test_break_even_rounds_up_and_targets_ramp_to_it(basic: Context) -> None:
    results = _results(basic)
    assert _value(results, "unit_economics.margin.qosd") == Decimal(500)
    assert _value(results, "opex.monthly.qosd") == Decimal(1200)
    assert _value(results, "break_even.units.qosd") == 3
    assert "portfolio.yaml:entities[0].unit_economics" in results.figures["break_even.units.qosd"].sources
    assert _value(results, "break_even.revenue.qosd") == Decimal(2700)  # 3 charters * 900
    # current revenue (1800 + 0 + 0) / 3 = 600; 5 months 2026-11..2027-03: 600 + 2100 * k / 5
    assert _value(results, "revenue.monthly.qosd") == Decimal(600)
    targets = [_value(results, f"target.revenue.qosd.{m}") for m in target_months(basic.as_of)]
    assert targets == [Decimal(1020), Decimal(1440), Decimal(1860), Decimal(2280), Decimal(2700)]


@pytest.mark.parametrize(
    ("as_of", "months"),
    [("2026-11-15", ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03"]),
     ("2026-01-31", ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]),
     ("2026-03-01", ["2026-03", "2026-04", "2026-05", "2026-06"])],
)  # fmt: skip
def test_targets_run_to_the_end_of_the_next_calendar_quarter(as_of: str, months: list[str]) -> None:
    import datetime as dt

    assert target_months(dt.date.fromisoformat(as_of)) == months


def test_monthly_pnl(basic: Context) -> None:
    results = _results(basic)
    august = {line: _value(results, f"pnl.qosd.2026-08.{line}") for line in ("revenue", "cogs", "opex", "net")}
    assert august == {"revenue": 1800, "cogs": 300, "opex": 1200, "net": 300}
    assert _value(results, "pnl.qosd.2026-03.revenue") == Decimal(-200)  # refunds net into the month's revenue
    assert _value(results, "pnl.qosd.2026-10.cogs") == Decimal(150)  # Expenses:COGS itself counts as COGS
    assert _value(results, "pnl.qosd.2026-11.revenue") == Decimal(900)  # not the row after as_of
    assert _value(results, "pnl.qosd.2025-12.net") == Decimal(0)
    assert "pnl.qosd.2025-11.net" not in results.figures  # 12 months: 2025-12 .. 2026-11
    assert _value(results, "pnl.portfolio.2026-08.net") == Decimal(300)


def test_pnl_starts_with_the_ledger(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-09-01,Equity:Opening-Balances,100\n2026-10-02,Income:Sales,50\n"
    results = _results(_ctx(write_portfolio, ledger))
    assert "pnl.qosd.2026-08.revenue" not in results.figures  # before the first row: unknown, not zero
    assert _value(results, "pnl.qosd.2026-09.revenue") == 0
    assert _value(results, "pnl.qosd.2026-10.revenue") == Decimal(50)


def test_no_burn_means_no_runway_and_an_info_finding(write_portfolio: WritePortfolio) -> None:
    ledger = """date,account,amount
2026-07-01,Equity:Opening-Balances,1000
2026-08-03,Income:Sales,400
2026-08-04,Expenses:Rent,-100
2026-09-03,Income:Sales,100
2026-09-20,Equity:Owner-Draws,-900
2026-10-03,Expenses:Rent,-100
2026-10-04,Income:Sales,100
"""
    # Aug +300, Sep +100 (the draw is financing), Oct 0: no month burns
    results = _results(_ctx(write_portfolio, ledger, policies={"min_runway_days": 90}))
    assert _value(results, "burn.monthly.portfolio") == 0
    assert "runway.days.portfolio" not in results.figures
    [finding] = results.findings
    assert (finding.kind, finding.severity) == ("no-burn", "info")
    assert not [f for f in results.findings if f.kind == "runway-below-policy"]


def test_negative_unit_margin_gives_no_break_even(write_portfolio: WritePortfolio) -> None:
    economics = {"unit": "job", "price": 300, "variable_cost": 400}
    results = _results(_ctx(write_portfolio, unit_economics=economics))
    assert _value(results, "unit_economics.margin.qosd") == Decimal(-100)
    assert "break_even.units.qosd" not in results.figures
    assert not [fid for fid in results.figures if fid.startswith("target.revenue.qosd")]
    [finding] = [f for f in results.findings if f.kind == "negative-unit-margin"]
    assert finding.severity == "high" and finding.entity == "qosd"


def test_entity_without_unit_economics_targets_its_average_expenses(write_portfolio: WritePortfolio) -> None:
    results = _results(_ctx(write_portfolio))
    # (opex 3600 + COGS 300 + 150) / 3 = 1350; ramp from 600: 600 + 750 * k / 5
    assert _value(results, "break_even.revenue.qosd") == Decimal(1350)
    assert _value(results, "target.revenue.qosd.2026-11") == Decimal(750)
    assert _value(results, "target.revenue.qosd.2027-03") == Decimal(1350)


def test_unapproved_debt_only_when_policy_requires_approval(write_portfolio: WritePortfolio) -> None:
    debts = [{"lender": "Bank", "principal": 25000, "board_approved": False},
             {"lender": "Family", "principal": 100, "board_approved": True}]  # fmt: skip
    results = _results(_ctx(write_portfolio, policies={"debt_requires_board_approval": True}, debts=debts))
    [finding] = [f for f in results.findings if f.kind == "unapproved-debt"]
    assert finding.amount == Decimal(25000) and finding.entity == "qosd"
    assert any("entities[0].debts[0]" in e for e in finding.evidence)
    assert any("5,000.00 USD owed" in e for e in finding.evidence)  # the ledger's Liabilities rows
    relaxed = _results(_ctx(write_portfolio, debts=debts))
    assert not [f for f in relaxed.findings if f.kind == "unapproved-debt"]


@pytest.mark.parametrize(
    ("cadence", "last_day", "overdue"),
    [("daily", "2026-11-12", False), ("daily", "2026-11-11", True),  # 3 days ok, 4 days overdue
     ("weekly", "2026-11-05", False), ("weekly", "2026-11-04", True),  # 10 / 11 days
     ("monthly", "2026-10-11", False), ("monthly", "2026-10-10", True)],  # 35 / 36 days
)  # fmt: skip
def test_cash_review_overdue_by_cadence(write_portfolio: WritePortfolio, cadence: str, last_day: str,
                                        overdue: bool) -> None:  # fmt: skip
    ledger = f"date,account,amount\n2026-01-01,Equity:Opening-Balances,100\n{last_day},Expenses:Fees,-5\n"
    results = _results(_ctx(write_portfolio, ledger, policies={"cash_review": cadence}))
    found = [f for f in results.findings if f.kind == "cash-review-overdue"]
    assert bool(found) is overdue
    if found:
        assert found[0].severity == "medium" and (found[0].file, found[0].line) == ("data/ledger.csv", 3)


def test_portfolio_wide_ledger_with_entity_column(write_portfolio: WritePortfolio) -> None:
    ledger = """date,entity,account,amount
2026-01-01,a,Equity:Opening-Balances,1000
2026-01-01,b,Equity:Opening-Balances,500
2026-08-10,a,Income:Sales,300
2026-08-11,b,Expenses:Rent,-600
2026-09-10,b,Expenses:Rent,-600
2026-10-10,a,Expenses:COGS:Parts,-90
"""
    # cash a = 1000 + 300 - 90 = 1210, b = 500 - 1200 = -700, portfolio 510
    # burn: Aug max(0, -(300 - 600)) = 300, Sep 600, Oct 90 -> 990 / 3 = 330; runway floor(510 * 90 / 990) = 46
    manifest = base_manifest(entities=[{"id": "a", "name": "A"}, {"id": "b", "name": "B"}], ledger="data/all.csv")
    ctx = context(write_portfolio(manifest, {"data/all.csv": ledger}), as_of="2026-11-15")
    results = _results(ctx)
    assert (_value(results, "cash.a"), _value(results, "cash.b")) == (Decimal(1210), Decimal(-700))
    assert _value(results, "cash.portfolio") == Decimal(510)
    assert results.figures["cash.a"].sources == ("data/all.csv:2,4,7",)
    assert _value(results, "revenue.ttm.a") == Decimal(300)
    assert _value(results, "expenses.ttm.b") == Decimal(1200)
    assert _value(results, "expenses.ttm.portfolio") == Decimal(1290)
    assert _value(results, "burn.monthly.portfolio") == Decimal(330)
    assert _value(results, "runway.days.portfolio") == 46
    assert _value(results, "pnl.a.2026-10.cogs") == Decimal(90)


def test_sources_by_reads_like_provenance(basic: Context) -> None:
    grouped = sources_by(basic, "cat", "amount < 0")
    for cat in ("opex", "cogs", "income", "financing"):
        expected = basic.provenance(
            "FROM tx WHERE amount < 0 AND " + {
                "opex": "account LIKE 'Expenses:%' AND account NOT LIKE 'Expenses:COGS%'",
                "cogs": "account LIKE 'Expenses:COGS%'",
                "income": "account LIKE 'Income:%'",
                "financing": "(account LIKE 'Equity:%' OR account LIKE 'Liabilities:%')",
            }[cat]
        )  # fmt: skip
        assert grouped[cat] == expected


def test_no_ledger_anywhere_gives_no_money_figures_and_says_so(write_portfolio: WritePortfolio) -> None:
    economics = {"unit": "job", "price": 100, "variable_cost": 40}
    manifest = base_manifest(entities=[{"id": "x", "name": "X", "unit_economics": economics}])
    ctx = context(write_portfolio(manifest), as_of="2026-11-15")
    results = _results(ctx)
    assert set(results.figures) == {"unit_economics.margin.x"}
    doc = build_report(ctx, "cfo")
    assert doc.missing[0]["data"] == "ledger of X (x)"
    assert any("No ledger data" in line for line in doc.summary)


def test_cfo_report_compliance_table(basic: Context) -> None:
    doc = build_report(basic, "cfo").to_json()
    [table] = [s for s in doc["sections"] if s["id"] == "compliance"]
    rows = {row[0]: row for row in table["rows"]}
    assert rows["Minimum runway"][1:] == ["at least 500 days", "457 days", "not met"]
    assert rows["Cash review"][3] == "met"  # newest row on as_of
    assert rows["Debt approval"][3] == "no policy"
    assert any("457 days of runway, below the policy minimum of 500 days" in line for line in doc["summary"])


# --- the demo portfolio (docs/demo.md) ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cfo(tmp_path_factory: pytest.TempPathFactory) -> Document:
    """The CFO report of a freshly generated demo portfolio."""
    manifest: Path = generate_demo(tmp_path_factory.mktemp("demo") / "portfolio")
    return build_report(context(manifest), "cfo")


def test_demo_headline_facts(demo_cfo: Document) -> None:
    figures = loads(dumps(demo_cfo.to_json()))["figures"]  # what the JSON file says, exact decimals
    assert figures["cash.portfolio"]["value"] == Decimal("18769.55")
    # Aug 940.02 + Sep 4057.40 + Oct 8132.41 = 13129.83; / 3 = 4376.61 exactly
    assert figures["burn.monthly.portfolio"]["value"] == Decimal("4376.61")
    assert figures["runway.days.portfolio"]["value"] == 128  # floor(18769.55 * 90 / 13129.83) = floor(128.66)
    assert figures["break_even.units.qosd"]["value"] == 6  # ceil(6158.01 / 1150)
    assert Decimal(figures["opex.monthly.qosd"]["value"]).quantize(Decimal("0.01")) == Decimal("6158.01")
    assert "cash.dangerouscentaur" not in figures  # no ledger
    summary = " ".join(demo_cfo.summary)
    assert "$18,769.55" in summary and "$4,376.61" in summary
    assert "128 days of runway, above the policy minimum of 90 days" in summary


def test_demo_policy_findings(demo_cfo: Document) -> None:
    kinds = {(f.kind, f.entity) for f in demo_cfo.findings}
    assert ("unapproved-debt", "qosd") in kinds
    assert not [f for f in demo_cfo.findings if f.kind in ("runway-below-policy", "no-burn")]
    [debt] = [f for f in demo_cfo.findings if f.kind == "unapproved-debt"]
    assert debt.amount == Decimal(25000)
    assert demo_cfo.missing[0]["data"] == "ledger of DangerousCentaur (dangerouscentaur)"


def test_month_end_cash_and_runway_history_follow_the_ledger(write_portfolio: WritePortfolio) -> None:
    results = _results(_ctx(write_portfolio, policies={"min_runway_days": 90}))
    # month-end cash: cash at as_of (12950) minus the flows of the later months; the row after as_of is no flow
    assert _value(results, "cash.month_end.2026-11.portfolio") == Decimal("12950")
    assert _value(results, "cash.month_end.2026-10.portfolio") == Decimal("12050")  # 12950 - 900 (Nov)
    assert _value(results, "cash.month_end.2026-09.portfolio") == Decimal("15400")  # + 1200 + 150 + 2000 (Oct)
    # the current month's runway is the headline runway
    assert _value(results, "runway.days.month_end.2026-11.portfolio") == _value(results, "runway.days.portfolio")
    # Oct: 12050 * 90 / (0 + 1200 + 1350) = 425.29 -> 425
    assert _value(results, "runway.days.month_end.2026-10.portfolio") == 425
    # Sep: burns Jul 0, Aug 0, Sep 1200 -> 15400 * 90 / 1200 = 1155
    assert _value(results, "runway.days.month_end.2026-09.portfolio") == 1155
    # months with no burn in their 3-month window have no runway point
    assert "runway.days.month_end.2026-07.portfolio" not in results.figures
    cfo = build_report(_ctx(write_portfolio, policies={"min_runway_days": 90}), "cfo")
    [chart] = [s for s in cfo.to_json()["sections"] if s["id"] == "runway-chart"]
    assert chart["x"][-1] == "2026-11" and chart["series"][0]["values"][-1] == 457
    assert chart["series"][1] == {"name": "Policy minimum", "values": [90] * 12}


def test_a_portfolio_figure_cites_each_ledger_once_with_its_entities_rows_merged(
    write_portfolio: WritePortfolio,
) -> None:
    """Two entities interleaved in one portfolio ledger: the portfolio's bank cash is made of each entity's part,
    and cites rows 2-6 as one reference (not "2,4,6" then "3,5"); consecutive lines read as one range."""
    ledger = (
        "date,entity,account,amount\n2026-01-05,a,Income:Sales,100\n2026-01-06,b,Income:Sales,200\n"
        "2026-01-07,a,Expenses:Rent,-50\n2026-01-08,b,Expenses:Rent,-70\n2026-01-09,a,Income:Sales,10\n"
    )
    manifest = base_manifest(ledger="ledger.csv", entities=[{"id": "a", "name": "A"}, {"id": "b", "name": "B"}])
    ctx = context(write_portfolio(manifest, {"ledger.csv": ledger}))
    figures = ctx.results("finance").figures
    assert figures["cash.bank.a"].sources == ("ledger.csv:2,4,6",)
    assert figures["cash.bank.b"].sources == ("ledger.csv:3,5",)
    assert figures["cash.bank.portfolio"].sources == ("ledger.csv:2-6",)
    assert figures["cash.bank.portfolio"].value == Decimal(190)


def test_merged_sources_keep_other_references_and_their_order() -> None:
    from execintel.analysis.model import Figure

    figure = Figure("x", 1, "", "f", ("b.csv:9,12-14", "portfolio.yaml:policies.min_runway_days", "a.csv:3",
                                      "b.csv:10-11,20", "data/x:y.csv:4", "b.csv:9"))  # fmt: skip
    assert figure.sources == ("b.csv:9-14,20", "portfolio.yaml:policies.min_runway_days", "a.csv:3", "data/x:y.csv:4")
    untouched = ("a.csv:2-3", "b.csv:4", "portfolio.yaml:entities[0].ledger")
    assert Figure("y", 1, "", "f", untouched).sources == untouched


def test_long_merged_sources_are_the_union_of_their_lines() -> None:
    """Parts whose range lists are long (merged with numpy) cite exactly the lines of all of them: a 50-entity
    ledger's rows, interleaved, are one range again."""
    import random

    from execintel.analysis.model import Figure, compress_lines

    rng = random.Random(7)  # noqa: S311 - shuffled test data, not a secret
    lines = list(range(2, 60_002))
    rng.shuffle(lines)
    parts = tuple(compress_lines(("ledger.csv", line) for line in lines[i::50])[0] for i in range(50))
    assert sum(map(len, parts)) > 100_000
    assert Figure("cash.portfolio", 1, "", "f", parts).sources == ("ledger.csv:2-60001",)
    for _ in range(200):  # random overlapping parts: the same as the lines' own compression
        chosen = [rng.sample(range(1, 40_000), rng.randint(1, 3_000)) for _ in range(rng.randint(2, 4))]
        refs = tuple(compress_lines(("f.csv", line) for line in part)[0] for part in chosen)
        expected = compress_lines(("f.csv", line) for part in chosen for line in part)
        assert Figure("x", 1, "", "f", refs).sources == expected
