"""KPI fit (CONTRACT section 8): one hand-made entity per revenue model (tests/models_portfolio.py), every KPI
computed only where it fits, with the values worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio
from execintel.analysis import kpis
from execintel.analysis.context import Context
from execintel.analysis.model import Results
from helpers import context
from models_portfolio import AS_OF, write_models


@pytest.fixture
def ctx(write_portfolio: WritePortfolio) -> Context:
    """The five-model portfolio's analysis context."""
    return context(write_models(write_portfolio), as_of=AS_OF)


@pytest.fixture
def results(ctx: Context) -> Results:
    return ctx.results("kpis")


def _value(results: Results, fid: str) -> Any:
    return results.figures[fid].value


def _listed(results: Results, figure: str) -> dict[tuple[str, str], str]:
    key = "reason" if figure == "kpis.not_applicable" else "data"
    return {(m["id"], m["entity"]): m[key] for m in _value(results, figure)}


# Which KPIs do not fit which model (the table of docs/reports/ceo.md).
UNFIT = {
    "u": {"subscribers", "paying_clients", "occupancy", "ltv", "nrr", "churn", "revenue_growth_mom"},
    "s": {"utilisation", "bookings", "paying_clients", "occupancy"},
    "r": {"utilisation", "bookings", "subscribers", "occupancy"},
    "h": {"utilisation", "bookings", "subscribers", "paying_clients", "cac", "ltv", "nrr", "churn"},
    "n": {"utilisation", "bookings", "subscribers", "paying_clients", "occupancy", "cac", "ltv", "nrr", "churn",
          "revenue_growth_mom"},
}  # fmt: skip


def test_each_kpi_is_computed_missing_or_not_applicable_by_revenue_model(results: Results) -> None:
    unfit, missing = _listed(results, "kpis.not_applicable"), _listed(results, "kpis.missing")
    for entity, kpi_ids in UNFIT.items():
        assert {k for k, e in unfit if e == entity} == kpi_ids, entity
    for kpi in kpis.KPIS:
        for entity in UNFIT:
            computed = kpi.figure_id(entity) in results.figures
            # exactly one of: computed, missing (fits, no data), not applicable (does not fit)
            assert [computed, (kpi.id, entity) in missing, (kpi.id, entity) in unfit].count(True) == 1, (kpi, entity)
    assert missing == {
        ("cac", "s"): "marketing spend",
        ("nrr", "s"): "Income counterparties that are customer ids",
        ("capital_efficiency", "s"): "Equity rows",
        ("nps", "s"): "nps events",
        ("cac", "r"): "marketing spend",
        ("capital_efficiency", "r"): "Equity rows",
        ("capital_efficiency", "h"): "Equity rows",
        ("nps", "h"): "nps events",
        ("gross_margin", "n"): "Income rows",
        ("nps", "n"): "nps events",
        ("nps", "u"): "nps events",
    }


def test_nrr_only_for_subscription_and_retainer(results: Results) -> None:
    # r: the cohort who paid in the prior 12 months is a (1000) and b (500) = 1500; in the last 12 months a paid
    # 1000 + 1200 + 1200 and b 500 = 3900 (c is new, not in the cohort); 3900 / 1500 = 2.6
    assert _value(results, "kpi.nrr.r") == Decimal("2.6")
    unfit = _listed(results, "kpis.not_applicable")
    assert unfit[("nrr", "u")].startswith("per-unit sales do not recur")
    assert unfit[("nrr", "h")].startswith("rent recurs through leases")
    assert unfit[("nrr", "n")].startswith("no revenue model")
    assert ("nrr", "s") in _listed(results, "kpis.missing")  # fits, but its Income rows name no customer
    assert {f for f in results.figures if f.startswith("kpi.nrr.")} == {"kpi.nrr.r"}


def test_no_month_over_month_growth_verdict_for_lumpy_per_unit_revenue(results: Results) -> None:
    # r: (1200 in October - 300 in September) / 300 = 3; h: (1000 - 1000) / 1000 = 0; s: (1200 - 1100) / 1100
    assert _value(results, "kpi.revenue_growth_mom.r") == 3
    assert _value(results, "kpi.revenue_growth_mom.h") == 0
    assert _value(results, "kpi.revenue_growth_mom.s") == Decimal(100) / 1100
    unfit = _listed(results, "kpis.not_applicable")
    assert (
        "lumpy" in unfit[("revenue_growth_mom", "u")] and "not a growth verdict" in unfit[("revenue_growth_mom", "u")]
    )
    # the portfolio's revenue mixes in u's: no portfolio verdict either, and it says why
    assert "kpi.revenue_growth_mom.portfolio" not in results.figures
    assert unfit[("revenue_growth_mom", "portfolio")].startswith("the portfolio's revenue includes Units Co")


def test_time_to_profitability_is_reached_when_the_12_months_net_is_positive(results: Results) -> None:
    # r: Income 4200 - Expenses 900 = 3300 > 0: reached; h: 11000 - 200 > 0: reached
    assert _value(results, "kpi.time_to_profitability.r") == 0
    assert _value(results, "kpi.time_to_profitability.h") == 0
    # u: Oct revenue 2000 covers the average expenses 1783.33, but the 12 months' net is 4500 - 5350 = -850: 1 month
    assert _value(results, "kpi.time_to_profitability.u") == 1
    # n: net -50, no revenue and no trend: not in sight
    assert _value(results, "kpi.time_to_profitability.n") is None


def test_churn_has_its_period(results: Results) -> None:
    # r: customers with a non-lead event in the 12 months: a (login 03-01), b (login, churn), c (signup) = 3;
    # churned: b -> 1/3 over 12 months
    figure = results.figures["kpi.churn.r"]
    assert figure.value == Decimal(1) / 3
    assert figure.name == "Churn, last 12 months"
    assert "over 12 months" in figure.formula
    # LTV = (4200 / 3) x (4200 - 900) / 4200 / (1/3) = 3300
    assert _value(results, "kpi.ltv.r") == 3300


def test_nps_carries_its_sample_size_and_flags_fewer_than_10(results: Results) -> None:
    # ten: (6 - 2) / 10 x 100 = 40 from 10 responses (not flagged); nine: (3 - 3) / 9 = 0 from 9 (flagged)
    # all: (9 - 5) / 19 x 100
    assert _value(results, "kpi.nps.r.ten") == 40 and _value(results, "kpi.nps_responses.r.ten") == 10
    assert _value(results, "kpi.nps.r.nine") == 0 and _value(results, "kpi.nps_responses.r.nine") == 9
    assert _value(results, "kpi.nps.r") == Decimal(400) / 19 and _value(results, "kpi.nps_responses.r") == 19
    assert "too few to rely on" not in results.figures["kpi.nps.r.ten"].formula
    assert results.figures["kpi.nps.r.nine"].formula.endswith("9 responses, fewer than 10: too few to rely on")


def test_unit_kpis_by_revenue_model(results: Results) -> None:
    # u: booking units Aug 1, Sep 1, Oct 2 -> 4 / 3 a month; utilisation: 2 completed in Oct / 12
    assert _value(results, "kpi.bookings.u") == Decimal(4) / 3
    assert _value(results, "kpi.utilisation.u") == Decimal(2) / 12
    # s: active on as_of: u2, u3 (never signed up, never churned); u1 and u4 churned after their signup -> 2;
    # on 2026-07-31 (before both churns) u1, u2, u3, u4 -> 4
    assert (_value(results, "kpi.subscribers.s"), _value(results, "kpi.subscribers.s.start")) == (2, 4)
    assert results.figures["kpi.subscribers.s.start"].name == "Active subscribers on 2026-07-31"
    # r: paid in Aug-Oct: a, c -> 2 clients; in May-Jul: a, b -> 2
    assert (_value(results, "kpi.paying_clients.r"), _value(results, "kpi.paying_clients.r.start")) == (2, 2)
    # h: unit A let (2026-01-01..2026-12-31), unit B's lease ended 2026-06-30 -> 1 of 2
    assert _value(results, "kpi.occupancy.h") == Decimal("0.5")


def test_scorecard_money_kpis(results: Results) -> None:
    # revenue last complete month (October): u 2000, s 1200, r 1200, h 1000, n 0; portfolio 5400
    assert [_value(results, f"kpi.revenue_last_month.{e}") for e in ("u", "s", "r", "h", "n", "portfolio")] == [
        2000, 1200, 1200, 1000, 0, 5400]  # fmt: skip
    # net cash flow a month, Aug..Oct: u (500 - 150 - 1200) / 3; r (1200 + 300 + 300) / 3 = 600; n -50 / 3
    assert _value(results, "kpi.net_cash_flow.u") == Decimal(-850) / 3
    assert _value(results, "kpi.net_cash_flow.r") == 600
    assert _value(results, "kpi.net_cash_flow.n") == Decimal(-50) / 3
    # break-even attainment: u revenue a month 4500 / 3 = 1500 against ceil(opex 4000 / 3 / margin 700) = 2
    # charters x 1000 = 2000 -> 0.75; s 1100 / (9120 / 3 = 3040); r 900 / (900 / 3 = 300) = 3
    assert _value(results, "kpi.break_even_attainment.u") == Decimal("0.75")
    assert _value(results, "kpi.break_even_attainment.s") == Decimal(1100) / 3040
    assert _value(results, "kpi.break_even_attainment.r") == 3
