"""Comparisons of headline figures, on a ledger whose every number is worked out by hand below.

The shop's ledger (as_of 2026-11-15; the row of 2026-11-20 is after as_of and ignored everywhere):

    2025-01-01 opening balance 10000
    2025-10  sales 1000 (10-05), rent -600 (10-20)          2025-11-10 sales 500
    2026-05 .. 2026-10: sales 900, 800, 700, 1200, 1100, 1000 on the 10th; rent -1500 on the 12th
    2026-10-20 sales 400    2026-11-05 sales 300    2026-11-15 sales 50    2026-11-20 sales 9999

Net cash flow by month: 2026-05 -600, 06 -700, 07 -800, 08 -300, 09 -400, 10 -100 (1000 + 400 - 1500).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.comparisons import RULES, compare, rule_for
from execintel.analysis.context import Context
from execintel.analysis.model import Figure
from execintel.analysis.recurring import DEFERRED, resolve_sources
from execintel.reports.document import DocumentBuilder, dumps, loads
from helpers import context

LEDGER = """date,account,amount
2025-01-01,Equity:Opening-Balances,10000
2025-10-05,Income:Sales,1000
2025-10-20,Expenses:Rent,-600
2025-11-10,Income:Sales,500
2026-05-10,Income:Sales,900
2026-05-12,Expenses:Rent,-1500
2026-06-10,Income:Sales,800
2026-06-12,Expenses:Rent,-1500
2026-07-10,Income:Sales,700
2026-07-12,Expenses:Rent,-1500
2026-08-10,Income:Sales,1200
2026-08-12,Expenses:Rent,-1500
2026-09-10,Income:Sales,1100
2026-09-12,Expenses:Rent,-1500
2026-10-10,Income:Sales,1000
2026-10-12,Expenses:Rent,-1500
2026-10-20,Income:Sales,400
2026-11-05,Income:Sales,300
2026-11-15,Income:Sales,50
2026-11-20,Income:Sales,9999
"""


@pytest.fixture
def shop(write_portfolio: WritePortfolio) -> Context:
    manifest = base_manifest(entities=[{"id": "shop", "name": "The Shop", "ledger": "ledger.csv"}],
                             policies={"min_runway_days": 90})  # fmt: skip
    return context(write_portfolio(manifest, {"ledger.csv": LEDGER}), as_of="2026-11-15")


def _by_basis(ctx: Context, figure_id: str, period: Any = None) -> dict[str, Any]:
    figure = ctx.results("finance").figures[figure_id]
    return {c.basis: c for c in compare(ctx, figure, period)}


def test_cash_against_a_month_before_and_a_year_before(shop: Context) -> None:
    # cash 2026-11-15 = 10000 + 1000 - 600 + 500 - 600 - 700 - 800 - 300 - 400 - 100 + 300 + 50 = 8350
    assert shop.results("finance").figures["cash.portfolio"].value == Decimal(8350)
    found = _by_basis(shop, "cash.portfolio")
    assert set(found) == {"previous", "year_ago"}
    previous, year = found["previous"], found["year_ago"]
    # as of 2026-10-15: the 400 of 10-20, the 300 of 11-05 and the 50 of 11-15 are not there yet: 8350 - 750
    assert previous.figure.value == Decimal(7600) and previous.as_of == dt.date(2026, 10, 15)
    assert previous.figure.id == "comparison.previous.cash.portfolio"
    assert previous.label == "a month before (2026-10-15)"
    assert previous.figure.formula.startswith("cash.portfolio as of 2026-10-15 (a month before (2026-10-15)): sum")
    # as of 2025-11-15: 10000 + 1000 - 600 + 500
    assert year.figure.value == Decimal(10900) and year.label == "a year before (2025-11-15)"
    assert year.figure.sources == ("ledger.csv:2-5",)  # the rows up to 2025-11-15, nothing later
    # the earlier contexts have views of their own: this context still ends at 2026-11-15
    assert shop.query("SELECT sum(amount) FROM tx") == [(Decimal(8350),)]


def test_burn_compares_with_the_quarter_before_and_runway_with_its_policy(shop: Context) -> None:
    # burn 2026-11-15: months 08, 09, 10 burned 300, 400, 100: 800 / 3
    burn = _by_basis(shop, "burn.monthly.portfolio")
    # as of 2026-08-15 the last complete months are 05, 06, 07: (600 + 700 + 800) / 3 = 700
    assert burn["previous"].figure.value == Decimal(700) and burn["previous"].as_of == dt.date(2026, 8, 15)
    assert burn["previous"].label == "three months before (2026-08-15)"
    assert burn["year_ago"].figure.value == Decimal(0)  # 2025-08 and 09 had no rows, 2025-10 gained 400
    runway = _by_basis(shop, "runway.days.portfolio")
    assert shop.results("finance").figures["runway.days.portfolio"].value == 939  # floor(8350 * 90 / 800)
    # as of 2026-08-15: cash 10900 - 2100 + 1200 - 1500 = 8500; floor(8500 * 90 / 2100) = floor(364.28)
    assert runway["previous"].figure.value == 364
    # a year before nothing burned, so there was no runway figure to compare with
    assert runway["year_ago"].figure is None
    assert runway["year_ago"].reason == "runway.days.portfolio is not computed as of 2025-11-15"
    target = runway["target"]
    assert (target.figure.value, target.label, target.direction) == (90, "policy minimum", "at_least")
    assert target.figure.sources == ("portfolio.yaml:policies.min_runway_days",)


def test_no_year_before_when_the_data_does_not_reach_back_that_far(shop: Context) -> None:
    # revenue.ttm: 900 + 800 + 700 + 1200 + 1100 + 1000 + 400 + 300 + 50 = 6450 (the 500 of 2025-11-10 is older)
    assert shop.results("finance").figures["revenue.ttm.portfolio"].value == Decimal(6450)
    found = _by_basis(shop, "revenue.ttm.portfolio")
    assert list(found) == ["year_ago"]  # a trailing year's previous period is the year before: one comparison
    # the year before is 2024-11-16 to 2025-11-15; the ledger starts 2025-01-01: no comparison, and why
    assert found["year_ago"].figure is None
    assert found["year_ago"].reason == "the transactions data starts 2025-01-01, after 2024-11-16"


def test_a_month_figure_compares_with_the_month_before_a_year_before_and_the_target_it_had(shop: Context) -> None:
    found = _by_basis(shop, "pnl.shop.2026-10.revenue")  # 1000 + 400 = 1400
    assert found["previous"].figure.value == Decimal(1100) and found["previous"].label == "2026-09"
    assert found["previous"].figure.formula.startswith("pnl.shop.2026-09.revenue as of 2026-10-15")
    assert found["year_ago"].figure.value == Decimal(1000) and found["year_ago"].label == "2025-10"
    # The target of 2026-10 as it stood in 2026-10 (as of 2026-10-15): revenue a month of 07-09 = 3000 / 3 = 1000;
    # break-even revenue (no unit economics) = expenses a month = 4500 / 3 = 1500; 2026-10 is month 1 of the 6 to
    # 2027-03: 1000 + (1500 - 1000) * 1 / 6
    target = found["target"]
    assert target.figure.value == Decimal(1000) + Decimal(500) * 1 / 6
    assert target.label == "target for 2026-10" and target.direction == "at_least"


def test_the_daily_digest_compares_with_the_day_before(shop: Context) -> None:
    found = _by_basis(shop, "cash.portfolio", "day")
    assert found["previous"].figure.value == Decimal(8300)  # without the 50 of 2026-11-15
    assert found["previous"].label == "the day before (2026-11-14)"


def test_the_document_carries_each_comparison_as_a_figure_and_the_change(shop: Context) -> None:
    b = DocumentBuilder(shop, "cfo", "CFO report")
    finance = shop.results("finance").figures
    b.headline([finance["cash.portfolio"], finance["runway.days.portfolio"], None, finance["pnl.shop.2026-10.revenue"]])
    doc = loads(dumps(b.build().to_json()))
    cash, runway, month = doc["headline"]
    assert cash["figure"] == "cash.portfolio"
    previous = cash["comparisons"][0]
    assert previous == {"basis": "previous", "label": "a month before (2026-10-15)",
                        "figure": "comparison.previous.cash.portfolio", "as_of": "2026-10-15", "change": 750,
                        "change_ratio": Decimal(750) / Decimal(7600)}  # fmt: skip
    assert doc["figures"]["comparison.previous.cash.portfolio"]["value"] == 7600
    assert doc["figures"]["comparison.year_ago.cash.portfolio"]["value"] == 10900
    year, policy = runway["comparisons"][1:]
    assert year == {"basis": "year_ago", "label": "a year before (2025-11-15)", "figure": None, "as_of": "2025-11-15",
                    "reason": "runway.days.portfolio is not computed as of 2025-11-15"}  # fmt: skip
    assert policy["met"] is True and policy["change"] == 849  # 939 - 90
    target = month["comparisons"][2]
    assert target["met"] is True  # 1400 against 1083.33...
    assert target["change"] == Decimal(1400) - (Decimal(1000) + Decimal(500) * 1 / 6)


def test_rules_cover_the_contract_figures_and_never_match_month_end_series() -> None:
    for figure_id in ("cash.portfolio", "cash.qosd", "burn.monthly.portfolio", "runway.days.portfolio",
                      "revenue.ttm.qosd", "expenses.ttm.portfolio", "cloud.spend.monthly", "cloud.spend.month.2026-10",
                      "runway.days.self_funded.portfolio", "contributions.ttm.portfolio"):  # fmt: skip
        assert rule_for(figure_id) is not None, figure_id
    for figure_id in ("cash.month_end.2026-10.portfolio", "runway.days.month_end.2026-10.portfolio", "assets.entities"):
        assert rule_for(figure_id) is None, figure_id
    assert len({r.pattern for r in RULES}) == len(RULES)


def test_the_first_day_of_each_entity_is_read_once_not_once_per_compared_figure(
    write_portfolio: WritePortfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every compared figure needs the first day of its entity's data; asking the facts once per figure scanned the
    # whole table each time, entities x rows. Two entities, one whose ledger starts later: each keeps its own day.
    late = "date,account,amount\n" + "\n".join(line for line in LEDGER.splitlines()[1:] if line >= "2026-05")
    manifest = base_manifest(entities=[{"id": "shop", "name": "The Shop", "ledger": "shop.csv"},
                                       {"id": "late", "name": "Late Shop", "ledger": "late.csv"}])  # fmt: skip
    ctx = context(write_portfolio(manifest, {"shop.csv": LEDGER, "late.csv": late}), as_of="2026-11-15")
    figures = ctx.results("finance").figures
    scans: list[str] = []
    query = ctx.facts.query
    monkeypatch.setattr(ctx.facts, "query", lambda sql, params=None: (scans.append(sql), query(sql, params))[1])

    found = {fid: {c.basis: c for c in compare(ctx, figures[fid])} for fid in
             ("revenue.ttm.shop", "revenue.ttm.late", "revenue.ttm.portfolio", "cash.shop", "cash.late")}  # fmt: skip

    assert found["revenue.ttm.shop"]["year_ago"].reason == "the transactions data starts 2025-01-01, after 2024-11-16"
    assert found["revenue.ttm.late"]["year_ago"].reason == "the transactions data starts 2026-05-10, after 2024-11-16"
    assert found["revenue.ttm.portfolio"]["year_ago"].reason == (
        "the transactions data starts 2025-01-01, after 2024-11-16"
    )
    assert found["cash.late"]["previous"].figure is not None  # 2026-10-15: the late ledger covers it
    assert found["cash.late"]["year_ago"].figure is None  # 2025-11-15: it does not
    assert len([sql for sql in scans if "FROM transactions" in sql]) == 1


def test_an_earlier_date_computes_every_compared_figure_exactly_as_a_full_run_would() -> None:
    """Comparisons read earlier dates from lean contexts that skip what no rule compares: on the demo, every figure a
    rule (or a revenue target) covers is the same there (value, unit, formula and sources) as in a full run."""
    from execintel.demo import demo_portfolio
    from execintel.facts import Facts

    ctx = context(demo_portfolio())
    analyses = sorted({rule.analysis for rule in RULES})
    compared = deferred = 0
    for back in (dt.timedelta(days=1), dt.timedelta(days=31), dt.timedelta(days=92), dt.timedelta(days=365)):
        when = ctx.as_of - back
        lean = ctx.at(when)
        full = Context(ctx.portfolio, Facts(ctx.facts.con.cursor()), when)
        assert lean.lean and not full.lean
        for name in analyses:

            def wanted(results: Any, analysis: str = name, at: Context = lean) -> dict[str, Any]:
                return {
                    fid: (f.value, f.unit, f.formula, Figure("x", 0, "", "", resolve_sources(at, f.sources)).sources)
                    for fid, f in results.figures.items()
                    if fid.startswith("target.revenue.")
                    or ((r := rule_for(fid)) is not None and r.analysis == analysis)
                }

            expected = wanted(full.results(name), at=full)
            assert wanted(lean.results(name)) == expected, (name, when)
            compared += len(expected)
            deferred += sum(any(s.startswith(DEFERRED) for s in f.sources) for f in lean.results(name).figures.values())
    assert compared > 200  # the demo has cash, P&L months, cloud months, funnels, property and delivery figures
    assert deferred > 100  # and most of their line ranges were deferred until read
