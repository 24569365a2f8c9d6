"""The KPI catalogue: each KPI on a hand-made portfolio with the arithmetic written out, and kpis.missing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis import kpis
from execintel.analysis.model import Results
from helpers import context

AS_OF = "2026-11-15"  # TTM: 2025-11-15 < date <= 2026-11-15; last 3 complete months: 2026-08, 2026-09, 2026-10

# "u": per-unit business with capacity 12 a month.
U_LEDGER = """date,account,amount,counterparty
2026-01-10,Equity:Opening-Balances,10000,
2025-10-01,Income:Sales,800,c1
2026-08-05,Income:Sales,1000,c1
2026-08-20,Expenses:COGS:Labor,-300,
2026-08-25,Expenses:Marketing,-200,
2026-09-05,Income:Sales,1500,c2
2026-09-20,Expenses:COGS:Labor,-450,
2026-09-25,Expenses:Rent,-1200,
2026-10-05,Income:Sales,2000,c3
2026-10-20,Expenses:COGS:Labor,-600,
2026-10-25,Expenses:Rent,-2500,
2026-10-26,Expenses:Advertising:Online,-100,
"""
# "s": subscription business, loses money, revenue growing 100 a month.
S_LEDGER = """date,account,amount
2026-08-01,Income:Subscriptions,1000
2026-08-02,Expenses:Contractors,-3000
2026-09-01,Income:Subscriptions,1100
2026-09-02,Expenses:Contractors,-3000
2026-10-01,Income:Subscriptions,1200
2026-10-02,Expenses:Contractors,-3000
2026-10-03,Expenses:COGS:Fees,-120
"""


def _ev(ts: str, entity: str, kind: str, customer: str, **extra: Any) -> str:
    return json.dumps({"ts": ts, "entity": entity, "type": kind, "customer": customer, **extra})


U_EVENTS = [
    _ev("2025-10-01T10:00:00Z", "u", "booking", "c1"),  # c1's first booking is before the window: not new
    _ev("2026-08-05T10:00:00Z", "u", "booking", "c1"),
    _ev("2026-09-05T10:00:00Z", "u", "booking", "c2"),
    _ev("2026-10-05T10:00:00Z", "u", "booking", "c3", units=2),
    _ev("2026-10-02T10:00:00Z", "u", "completion", "c2"),  # 1 unit (no units given)
    _ev("2026-10-07T10:00:00Z", "u", "completion", "c3", units=2),
    _ev("2026-11-02T10:00:00Z", "u", "completion", "c1"),  # November is not a complete month
    # NPS in the window: corp 10, 9, 7, 3; retail 10, 6; one old response (score 0) outside it
    *(_ev(f"2026-0{i + 1}-15T10:00:00Z", "u", "nps", f"n{i}", score=s, segment="corp") for i, s in enumerate((10, 9, 7, 3))),
    _ev("2026-06-15T10:00:00Z", "u", "nps", "n5", score=10, segment="retail"),
    _ev("2026-07-15T10:00:00Z", "u", "nps", "n6", score=6, segment="retail"),
    _ev("2025-01-15T10:00:00Z", "u", "nps", "n7", score=0, segment="corp"),
]  # fmt: skip
S_EVENTS = [
    _ev("2026-02-01T10:00:00Z", "s", "signup", "u1"),
    _ev("2026-03-01T10:00:00Z", "s", "login", "u2"),
    _ev("2026-03-02T10:00:00Z", "s", "login", "u3"),
    _ev("2025-06-01T10:00:00Z", "s", "signup", "u4"),
    _ev("2026-04-01T10:00:00Z", "s", "login", "u4"),
    _ev("2026-09-01T10:00:00Z", "s", "churn", "u1"),
    _ev("2026-10-01T10:00:00Z", "s", "churn", "u4"),
    _ev("2026-05-01T10:00:00Z", "s", "lead", "p1"),  # a lead is not a customer
]


@pytest.fixture
def results(write_portfolio: WritePortfolio) -> Results:
    entities = [
        {"id": "u", "name": "Units Co", "revenue_model": "per_unit", "ledger": "data/u.csv", "events": "data/u.jsonl",
         "unit_economics": {"unit": "charter", "price": 1000, "variable_cost": 300, "capacity_per_month": 12}},
        {"id": "s", "name": "Subs Co", "revenue_model": "subscription", "ledger": "data/s.csv",
         "events": "data/s.jsonl"},
    ]  # fmt: skip
    files: dict[str, str | bytes] = {
        "data/u.csv": U_LEDGER,
        "data/s.csv": S_LEDGER,
        "data/u.jsonl": "\n".join(U_EVENTS),
        "data/s.jsonl": "\n".join(S_EVENTS),
    }
    return kpis.analyze(context(write_portfolio(base_manifest(entities=entities), files), as_of=AS_OF))


def _value(results: Results, fid: str) -> Any:
    return results.figures[fid].value


def test_utilisation_counts_units_delivered_in_the_last_complete_month(results: Results) -> None:
    # completions in 2026-10: c2 (1 unit) + c3 (2 units) = 3; 3 / 12 = 0.25
    figure = results.figures["kpi.utilisation.u"]
    assert figure.value == Decimal("0.25")
    assert (figure.unit, figure.name) == ("ratio", "Charter utilisation")
    assert "portfolio.yaml:entities[0].unit_economics" in figure.sources


def test_customer_acquisition_cost(results: Results) -> None:
    # marketing TTM = 200 (Expenses:Marketing) + 100 (Expenses:Advertising:Online) = 300
    # new customers TTM = c2, c3 (c1's first booking was 2025-10-01) = 2; 300 / 2 = 150
    assert _value(results, "kpi.cac.u") == Decimal(150)
    assert results.figures["kpi.cac.u"].unit == "USD"


def test_gross_margin_and_growth(results: Results) -> None:
    # u: revenue TTM 1000 + 1500 + 2000 = 4500; COGS 300 + 450 + 600 = 1350; (4500 - 1350) / 4500 = 0.7
    assert _value(results, "kpi.gross_margin.u") == Decimal("0.7")
    # s: (1200 in 2026-10 - 1100 in 2026-09) / 1100 = 1/11
    assert _value(results, "kpi.revenue_growth_mom.s") == Decimal(100) / Decimal(1100)
    # u is a per-unit business: no month-over-month verdict on its lumpy revenue, and so none for the portfolio
    assert "kpi.revenue_growth_mom.u" not in results.figures
    assert "kpi.revenue_growth_mom.portfolio" not in results.figures
    unfit = {(m["id"], m["entity"]): m["reason"] for m in _value(results, "kpis.not_applicable")}
    assert "lumpy" in unfit[("revenue_growth_mom", "u")]
    assert unfit[("revenue_growth_mom", "portfolio")].startswith("the portfolio's revenue includes Units Co")
    # portfolio: revenue 4500 + 3300 = 7800, COGS 1350 + 120 = 1470; 6330 / 7800
    assert _value(results, "kpi.gross_margin.portfolio") == Decimal(6330) / Decimal(7800)


def test_net_revenue_retention_only_where_revenue_recurs(results: Results) -> None:
    # u (per unit): c1 paid 800 in the prior 12 months and 1000 since, but a repeat purchase is not retention
    assert "kpi.nrr.u" not in results.figures
    unfit = {(m["id"], m["entity"]) for m in _value(results, "kpis.not_applicable")}
    missing = {(m["id"], m["entity"]) for m in _value(results, "kpis.missing")}
    assert ("nrr", "u") in unfit and ("nrr", "u") not in missing
    # s (subscription) fits, but its Income rows name no customer: missing, not "not applicable"
    assert ("nrr", "s") in missing and ("nrr", "s") not in unfit


def test_capital_efficiency(results: Results) -> None:
    # revenue TTM 4500 / positive Equity 10000 = 0.45
    assert _value(results, "kpi.capital_efficiency.u") == Decimal("0.45")
    # the portfolio: 7800 / 10000 (s has no Equity rows, so its own figure is missing)
    assert _value(results, "kpi.capital_efficiency.portfolio") == Decimal("0.78")


def test_burn_rate_per_entity_and_portfolio(results: Results) -> None:
    # u net cash flow: Aug 1000-300-200 = +500 (burn 0), Sep 1500-450-1200 = -150, Oct 2000-600-2500-100 = -1200
    assert _value(results, "kpi.burn_rate.u") == Decimal(1350) / 3
    # s: Aug -2000, Sep -1900, Oct 1200-3000-120 = -1920 -> 5820 / 3 = 1940
    assert _value(results, "kpi.burn_rate.s") == Decimal(1940)
    # portfolio burns per month on the sum: Aug -1500, Sep -2050, Oct -3120 -> 6670 / 3
    assert _value(results, "kpi.burn_rate.portfolio") == Decimal(6670) / 3


def test_time_to_profitability(results: Results) -> None:
    # s: expenses Aug 3000, Sep 3000, Oct 3120 -> average 3040; revenue Oct 1200, trend (1200 - 1000) / 2 = 100
    # ceil((3040 - 1200) / 100) = ceil(18.4) = 19 months
    assert _value(results, "kpi.time_to_profitability.s") == 19
    # u: revenue Oct 2000 >= average expenses (500 + 1650 + 3200) / 3 = 1783.33, but the 12 months' net income is
    # 4500 - (300 + 200 + 450 + 1200 + 600 + 2500 + 100 = 5350) = -850: not reached, 1 month (at least 1)
    figure = results.figures["kpi.time_to_profitability.u"]
    assert figure.value == 1
    assert "= -850 > 0" in figure.formula


def test_churn_and_lifetime_value(results: Results) -> None:
    # customers TTM (any non-lead event): u1, u2, u3, u4 = 4; churned u1, u4 = 2 -> 0.5, a 12-month rate
    assert _value(results, "kpi.churn.s") == Decimal("0.5")
    assert results.figures["kpi.churn.s"].name == "Churn, last 12 months"
    assert results.figures["kpi.churn.s"].formula.startswith("over 12 months:")
    # LTV = (3300 / 4) x ((3300 - 120) / 3300) / 0.5 = 795 / 0.5 = 1590
    assert _value(results, "kpi.ltv.s") == Decimal(1590)


def test_nps_by_segment(results: Results) -> None:
    # corp: 4 responses, promoters 10 and 9, detractor 3 -> (2 - 1) / 4 x 100 = 25
    assert _value(results, "kpi.nps.u.corp") == Decimal(25)
    # retail: 10 (promoter) and 6 (detractor) -> (1 - 1) / 2 x 100 = 0
    assert _value(results, "kpi.nps.u.retail") == Decimal(0)
    # all: 6 responses, 3 promoters, 2 detractors -> 100 / 6 (the 2025 response is outside the window)
    assert _value(results, "kpi.nps.u") == Decimal(100) / 6
    assert results.figures["kpi.nps.u.corp"].name == "NPS (corp)"
    # each with its sample size; all three are under 10 responses, which the formula says
    assert [_value(results, f"kpi.nps_responses.u{s}") for s in ("", ".corp", ".retail")] == [6, 4, 2]
    assert results.figures["kpi.nps.u.retail"].formula.endswith("2 responses, fewer than 10: too few to rely on")


def test_missing_kpis_name_the_data_they_need(results: Results) -> None:
    missing = {(m["id"], m["entity"]): (m["needs"], m["data"]) for m in _value(results, "kpis.missing")}
    assert missing == {
        ("cac", "s"): ("marketing spend (Expenses accounts named Marketing or Advertising) in the last 12 months",
                       "marketing spend"),
        ("nrr", "s"): ("Income rows whose counterparty is a customer id of the events, in the 12 months before the"
                       " last 12", "Income counterparties that are customer ids"),
        ("capital_efficiency", "s"): ("Equity rows (capital put in)", "Equity rows"),
        ("nps", "s"): ("nps events (score 0-10) in the last 12 months", "nps events"),
    }  # fmt: skip
    # what does not fit the revenue model is not missing: churn and LTV of a per-unit business, utilisation of a
    # subscription (before CONTRACT section 8 these were listed as missing "churn events", "capacity_per_month")
    unfit = {(m["id"], m["entity"]) for m in _value(results, "kpis.not_applicable")}
    assert {("ltv", "u"), ("churn", "u"), ("utilisation", "s"), ("bookings", "s")} <= unfit
    assert results.figures["kpis.missing"].unit == results.figures["kpis.not_applicable"].unit == "list"


def test_kpis_missing_on_a_portfolio_with_no_events(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Charters", "ledger": "data/l.csv", "revenue_model": "per_unit",
              "unit_economics": {"price": 1800, "variable_cost": 650, "capacity_per_month": 12}}  # fmt: skip
    ledger = "date,account,amount\n2026-01-01,Equity:Opening-Balances,5000\n2026-09-03,Income:Charters,1800\n"
    ctx = context(write_portfolio(base_manifest(entities=[entity]), {"data/l.csv": ledger}), as_of=AS_OF)
    missing = kpis.analyze(ctx).figures["kpis.missing"].value
    assert isinstance(missing, list)
    # every KPI that fits a per-unit business and reads events is missing, each with the data that would enable
    # it; with no expenses the break-even revenue is 0, so there is nothing to measure revenue against
    assert [(m["id"], m["needs"]) for m in missing] == [
        ("break_even_attainment", "Expenses rows in the last 3 complete months (break-even revenue is 0)"),
        ("utilisation", "completion or booking events"),
        ("bookings", "booking events"),
        ("cac", "marketing spend (Expenses accounts named Marketing or Advertising) in the last 12 months"),
        ("nps", "nps events (score 0-10) in the last 12 months"),
    ]
    assert {m["entity"] for m in missing} == {"qosd"}


def test_an_entity_without_a_ledger_misses_every_ledger_kpi(write_portfolio: WritePortfolio) -> None:
    # no revenue_model: the model-specific KPIs do not fit, every other one is missing for want of a ledger
    ctx = context(write_portfolio(base_manifest()), as_of=AS_OF)
    results = kpis.analyze(ctx)
    missing = {m["id"]: m["needs"] for m in _value(results, "kpis.missing")}
    unfit = {m["id"]: m["reason"] for m in _value(results, "kpis.not_applicable")}
    assert set(missing) | set(unfit) == {k.id for k in kpis.KPIS} and not set(missing) & set(unfit)
    assert set(unfit) == {"utilisation", "bookings", "subscribers", "paying_clients", "occupancy", "cac", "ltv",
                          "nrr", "churn", "revenue_growth_mom"}  # fmt: skip
    assert missing["burn_rate"] == missing["gross_margin"] == "a ledger (rows up to as_of)"
    assert unfit["nrr"].startswith("no revenue model")
    assert [f for f in results.figures if not f.startswith("kpis.")] == []


def test_catalogue_describes_every_kpi() -> None:
    assert [k.id for k in kpis.KPIS] == ["revenue_last_month", "net_cash_flow", "break_even_attainment",
                                        "utilisation", "bookings", "subscribers", "paying_clients", "occupancy",
                                        "cac", "ltv", "nrr", "capital_efficiency", "time_to_profitability",
                                        "burn_rate", "churn", "nps", "gross_margin", "revenue_growth_mom"]  # fmt: skip
    assert all(k.name and k.formula and k.needs and k.unit for k in kpis.KPIS)
    # CONTRACT section 8: NRR only for subscription and retainer entities
    assert sorted(m for m in kpis.MODELS if m not in kpis.KPI_BY_ID["nrr"].not_for) == ["retainer", "subscription"]
