"""The KPI catalogue: each KPI's id, name, formula, the data it needs, its unit, the revenue models it fits.

Figures are ``kpi.<id>.<entity>`` (and ``kpi.<id>.portfolio`` for the KPIs that add up across entities; a few
KPIs add figures under their own id, e.g. ``kpi.nps.<entity>.<segment>``). A KPI is computed only for the active
entities whose revenue model it fits (CONTRACT section 8): one that does not fit is listed in the figure
``kpis.not_applicable`` with the reason; one that fits but cannot be computed is listed in ``kpis.missing`` with
the data that would enable it. Figures come from the ``tx`` and ``ev`` views and the manifest, except occupancy
(the property analysis) and break-even attainment (the finance analysis's break-even revenue).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execintel.analysis import kpi_customers as customers
from execintel.analysis.context import Context
from execintel.analysis.kpi_customers import Computed, gross_margin_value, slug
from execintel.analysis.kpi_inputs import (
    ALL_INCOME,
    CASH_FLOW,
    COGS,
    EQUITY_IN,
    EXPENSES,
    INCOME,
    NO_LEDGER,
    PORTFOLIO,
    ZERO,
    Inputs,
    Need,
    Totals,
    ledger_sources,
    number_text,
    window_text,
)
from execintel.analysis.model import Figure, Results
from execintel.config.models import Entity

__all__ = ["KPI", "KPIS", "KPI_BY_ID", "MODELS", "analyze", "model_of", "slug"]

# The revenue models of the manifest; an entity without one is treated as "none".
MODELS = ("per_unit", "subscription", "retainer", "rental", "none")
NO_MODEL = "no revenue model (revenue_model: none or not given): nothing is sold to measure"


def model_of(entity: Entity) -> str:
    """The entity's revenue model, ``none`` when the manifest gives none."""
    return entity.revenue_model or "none"


@dataclass(frozen=True)
class KPI:
    """One KPI of the catalogue: id, name, formula, the data it needs, its unit, fit and how it is computed.

    ``not_for`` maps each revenue model the KPI does not fit to the reason (CONTRACT section 8, "Fit").
    """

    id: str
    name: str
    formula: str
    needs: str
    unit: str
    compute: Callable[[Inputs, Entity], Computed]
    portfolio: Callable[[Inputs], Figure | None] | None = None
    not_for: Mapping[str, str] = field(default_factory=dict)

    def figure_id(self, entity: str) -> str:
        """``kpi.<id>.<entity>``."""
        return f"kpi.{self.id}.{entity}"

    def fits(self, entity: Entity) -> bool:
        """True when the KPI fits the entity's revenue model."""
        return model_of(entity) not in self.not_for


# --- money KPIs (ledger) ----------------------------------------------------------------------------------------


def _capital_efficiency_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    invested = inputs.all_time[key].equity_in if key in inputs.all_time else ZERO
    if invested <= 0:
        return None
    revenue = inputs.ttm[key].revenue
    return Figure(
        f"kpi.capital_efficiency.{key}",
        revenue / invested,
        "x",
        f"revenue TTM ({number_text(revenue)}) / capital invested ({number_text(invested)}); capital invested ="
        f" positive Equity amounts up to {inputs.ctx.as_of.isoformat()}; revenue window {window_text(inputs)}",
        (
            *ledger_sources(inputs, entity, INCOME, inputs.ctx.window_start),
            *ledger_sources(inputs, entity, EQUITY_IN),
        ),
        name="Capital efficiency",
        entity=entity,
    )


def _capital_efficiency(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    figure = _capital_efficiency_figure(inputs, entity.id, entity.id)
    return [figure] if figure else Need("Equity rows", "Equity rows (capital put in)")


def _time_to_profitability(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    ttm = inputs.ttm[entity.id]
    months = inputs.ctx.complete_months(3)
    totals = [inputs.month(entity.id, m) for m in months]
    reached = ttm.rows > 0 and ttm.net_income > 0
    if not reached and not any(t.rows for t in totals):
        return Need("recent ledger rows", f"ledger rows in {months[0]} to {months[-1]}")
    first, last = totals[0].revenue, totals[-1].revenue
    costs = sum((t.expenses for t in totals), ZERO) / 3
    trend = (last - first) / 2
    value: int | None
    if reached:
        value = 0
    elif last >= costs:
        value = 1  # the last month covered the costs; the 12 months have not yet
    elif trend <= 0:
        value = None  # not in sight while revenue does not grow
    else:
        value = math.ceil((costs - last) / trend)
    net = number_text(ttm.net_income)
    return [
        Figure(
            f"kpi.time_to_profitability.{entity.id}",
            value,
            "months",
            f"0 (reached) when net income TTM (Income - Expenses amounts, {window_text(inputs)}) = {net} > 0;"
            f" else months until revenue reaches the average monthly expenses of {months[0]}..{months[-1]}"
            f" ({number_text(costs)}) at the revenue trend, at least 1: ceil((expenses - revenue {months[-1]}"
            f" ({number_text(last)})) / trend), trend = (revenue {months[-1]} - revenue {months[0]}"
            f" ({number_text(first)})) / 2; none (not in sight) when the trend <= 0",
            ledger_sources(inputs, entity.id, f"({ALL_INCOME}) OR ({EXPENSES})", inputs.ctx.window_start),
            name="Time to profitability",
            entity=entity.id,
        )
    ]  # fmt: skip


def _last3_flows(inputs: Inputs, key: str, entity: str | None) -> tuple[list[str], list[Decimal], tuple[str, ...]]:
    """The last 3 complete months, their net cash flows (Equity and Liabilities rows left out) and the rows."""
    months = list(inputs.ctx.complete_months(3))
    sources = ledger_sources(inputs, entity, f"{CASH_FLOW} AND strftime(date, '%Y-%m') >= '{months[0]}'"
                             f" AND strftime(date, '%Y-%m') <= '{months[-1]}'")  # fmt: skip
    return months, [inputs.month(key, m).net_flow for m in months], sources


def _burn_figure(inputs: Inputs, key: str, entity: str | None) -> Figure:
    months, flows, sources = _last3_flows(inputs, key, entity)
    burns = [max(ZERO, -flow) for flow in flows]
    return Figure(
        f"kpi.burn_rate.{key}",
        sum(burns, ZERO) / 3,
        inputs.ctx.currency,
        "average over " + ", ".join(months) + " of max(0, -net cash flow) ("
        + ", ".join(number_text(b) for b in burns) + "); net cash flow excludes Equity and Liabilities rows",
        sources,
        name="Burn rate",
        entity=entity,
    )  # fmt: skip


def _burn_rate(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    return [_burn_figure(inputs, entity.id, entity.id)]


def _net_cash_flow_figure(inputs: Inputs, key: str, entity: str | None) -> Figure:
    months, flows, sources = _last3_flows(inputs, key, entity)
    return Figure(
        f"kpi.net_cash_flow.{key}",
        sum(flows, ZERO) / 3,
        inputs.ctx.currency,
        f"(net cash flow {' + '.join(f'{m} ({number_text(f)})' for m, f in zip(months, flows, strict=True))}) / 3;"
        " net cash flow = sum of amounts except Equity and Liabilities rows",
        sources,
        name="Net cash flow a month (last 3 complete months)",
        entity=entity,
    )  # fmt: skip


def _net_cash_flow(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    return [_net_cash_flow_figure(inputs, entity.id, entity.id)]


def _revenue_last_month_figure(inputs: Inputs, key: str, entity: str | None) -> Figure:
    month = inputs.ctx.complete_months(1)[0]
    return Figure(
        f"kpi.revenue_last_month.{key}",
        inputs.month(key, month).revenue,
        inputs.ctx.currency,
        f"sum of positive Income amounts dated in {month} (the last complete month)",
        ledger_sources(inputs, entity, f"{INCOME} AND strftime(date, '%Y-%m') = '{month}'"),
        name=f"Revenue, {month}",
        entity=entity,
    )


def _revenue_last_month(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    return [_revenue_last_month_figure(inputs, entity.id, entity.id)]


def _gross_margin_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    ttm = inputs.ttm[key] if key in inputs.ttm else Totals()
    if ttm.revenue <= 0:
        return None
    return Figure(
        f"kpi.gross_margin.{key}",
        gross_margin_value(ttm.revenue, ttm.cogs),
        "ratio",
        f"(revenue TTM {number_text(ttm.revenue)} - COGS TTM {number_text(ttm.cogs)}) / revenue TTM; revenue ="
        f" positive Income amounts, COGS = -Expenses:COGS amounts; {window_text(inputs)}",
        ledger_sources(inputs, entity, f"({INCOME}) OR ({COGS})", inputs.ctx.window_start),
        name="Gross margin",
        entity=entity,
    )


def _gross_margin(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    figure = _gross_margin_figure(inputs, entity.id, entity.id)
    return [figure] if figure else Need("Income rows", "Income rows in the last 12 months")


def _growth_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    before, last = inputs.ctx.complete_months(2)
    previous, current = inputs.month(key, before).revenue, inputs.month(key, last).revenue
    if previous <= 0:
        return None
    return Figure(
        f"kpi.revenue_growth_mom.{key}",
        (current - previous) / previous,
        "ratio",
        f"(revenue {last} ({number_text(current)}) - revenue {before} ({number_text(previous)})) / revenue {before};"
        " revenue = positive Income amounts",
        ledger_sources(inputs, entity, f"{INCOME} AND strftime(date, '%Y-%m') IN ('{before}', '{last}')"),
        name="Revenue growth, month over month",
        entity=entity,
    )


def _revenue_growth(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    figure = _growth_figure(inputs, entity.id, entity.id)
    before = inputs.ctx.complete_months(2)[0]
    return [figure] if figure else Need("Income rows", f"Income rows in {before}")


def _break_even_attainment(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    finance = inputs.ctx.results("finance").figures
    current, target = finance.get(f"revenue.monthly.{entity.id}"), finance.get(f"break_even.revenue.{entity.id}")
    if current is None or target is None:
        return Need("a positive unit margin", "a break-even revenue: unit_economics with price above variable_cost")
    goal = Decimal(target.value) if isinstance(target.value, Decimal | int) else ZERO
    if goal <= 0:
        return Need("expenses", "Expenses rows in the last 3 complete months (break-even revenue is 0)")
    value = Decimal(current.value) if isinstance(current.value, Decimal | int) else ZERO
    return [
        Figure(
            f"kpi.break_even_attainment.{entity.id}",
            value / goal,
            "ratio",
            f"revenue.monthly.{entity.id} ({number_text(value)}) / break_even.revenue.{entity.id}"
            f" ({number_text(goal)}): revenue a month over the last 3 complete months against the revenue the"
            " revenue targets lead to",
            tuple(dict.fromkeys((*current.sources, *target.sources))),
            name="Revenue against break-even",
            entity=entity.id,
        )
    ]


# --- fit: which revenue models each KPI does not fit, and why -------------------------------------------------

_LUMPY = ("per-unit revenue is lumpy (a few sales make a month): a month-over-month change is noise, not a growth"
          " verdict; read TTM revenue and bookings a month instead")  # fmt: skip
_NO_CHURN = {
    "per_unit": "per-unit customers buy unit by unit: there is no subscription to churn from (repeat purchases"
    " are not churn)",
    "rental": "tenants are measured by occupancy and leases, not churn events",
    "none": NO_MODEL,
}
_NO_RECURRING = {
    "per_unit": "per-unit sales do not recur: revenue retention would score a lumpy business's repeat purchases",
    "rental": "rent recurs through leases: occupancy measures what is retained",
    "none": NO_MODEL,
}
_UNIT_KPI = {
    "per_unit": "per-unit businesses are measured by bookings a month and utilisation",
    "subscription": "subscriptions are counted as active subscribers",
    "retainer": "retainers are counted as paying clients",
    "rental": "a rental is measured by occupancy",
    "none": NO_MODEL,
}


def _only(model: str) -> dict[str, str]:
    """Reasons for every model but ``model``."""
    return {m: reason for m, reason in _UNIT_KPI.items() if m != model}


KPIS: tuple[KPI, ...] = (
    KPI("revenue_last_month", "Revenue, last complete month",
        "positive Income amounts dated in the last complete month", "a ledger", "money", _revenue_last_month,
        lambda inputs: _revenue_last_month_figure(inputs, PORTFOLIO, None)),
    KPI("net_cash_flow", "Net cash flow a month",
        "average over the last 3 complete months of the net cash flow (every amount except Equity and Liabilities"
        " rows); negative when the business uses cash", "a ledger", "money", _net_cash_flow,
        lambda inputs: _net_cash_flow_figure(inputs, PORTFOLIO, None)),
    KPI("break_even_attainment", "Revenue against break-even",
        "revenue a month over the last 3 complete months (revenue.monthly) / break-even revenue a month"
        " (break_even.revenue, the finance analysis)", "a ledger and a break-even revenue", "ratio",
        _break_even_attainment),
    KPI("utilisation", "Unit utilisation",
        "units delivered in the last complete month (completion events; booking events when the entity records no"
        " completions) / unit_economics.capacity_per_month",
        "unit_economics.capacity_per_month and completion or booking events", "ratio", customers.utilisation,
        not_for=_only("per_unit")),
    KPI("bookings", "Bookings a month",
        "units of booking events (1 per event without units) in the last 3 complete months / 3",
        "booking events", "units", customers.bookings, not_for=_only("per_unit")),
    KPI("subscribers", "Active subscribers",
        "customers with an event other than a lead up to as_of and no churn event after their latest signup; also"
        " on the day before the last 3 complete months, for comparison",
        "signup and churn events with customer ids", "count", customers.subscribers,
        not_for=_only("subscription")),
    KPI("paying_clients", "Paying clients",
        "distinct counterparties of positive Income rows in the last 3 complete months; also in the 3 months"
        " before, for comparison", "a ledger with a counterparty on Income rows", "count", customers.paying_clients,
        not_for=_only("retainer")),
    KPI("occupancy", "Occupancy",
        "units with a lease in force on as_of / units (the property analysis's property.<e>.occupancy)",
        "lease events", "ratio", customers.occupancy, not_for=_only("rental")),
    KPI("cac", "Customer acquisition cost",
        "marketing expenses TTM (Expenses accounts containing Marketing or Advertising) / new customers TTM"
        " (customers whose first booking or signup event is in the window)",
        "a ledger with marketing expenses, and booking or signup events with customer ids", "money", customers.cac,
        not_for={"rental": "a rental fills units with leases, not bookings or signups: occupancy and vacancy loss"
                 " measure it", "none": NO_MODEL}),
    KPI("ltv", "Lifetime value",
        "(revenue TTM / customers TTM) x gross margin TTM / churn rate TTM",
        "a ledger with Income, customer events and churn events", "money", customers.ltv, not_for=_NO_CHURN),
    KPI("nrr", "Net revenue retention",
        "revenue TTM / revenue in the 12 months before, both from the customers who paid in those 12 months before",
        "24 months of Income rows whose counterparty is a customer id of the events", "ratio", customers.nrr,
        not_for=_NO_RECURRING),
    KPI("capital_efficiency", "Capital efficiency",
        "revenue TTM / capital invested (positive Equity amounts up to as_of)",
        "a ledger with Income and Equity rows", "x", _capital_efficiency,
        lambda inputs: _capital_efficiency_figure(inputs, PORTFOLIO, None)),
    KPI("time_to_profitability", "Time to profitability",
        "0 = reached: net income TTM (Income - Expenses) is positive; else months until monthly revenue reaches"
        " the average monthly expenses of the last 3 complete months at their linear revenue trend (at least 1;"
        " none = not in sight, revenue not growing)",
        "ledger rows in the last 3 complete months", "months", _time_to_profitability),
    KPI("burn_rate", "Burn rate",
        "average over the last 3 complete months of max(0, -net cash flow), excluding Equity and Liabilities rows",
        "a ledger", "money", _burn_rate, lambda inputs: _burn_figure(inputs, PORTFOLIO, None)),
    KPI("churn", "Churn, last 12 months",
        "customers with a churn event TTM / customers with any non-lead event TTM (a 12-month rate)",
        "churn events and customer events", "ratio", customers.churn, not_for=_NO_CHURN),
    KPI("nps", "NPS by segment",
        "% promoters (score 9-10) - % detractors (score 0-6) of nps events TTM, overall and per segment, each with"
        f" its number of responses (kpi.nps_responses.*; under {customers.NPS_MIN_RESPONSES} flagged)",
        "nps events with a score", "points", customers.nps),
    KPI("gross_margin", "Gross margin",
        "(revenue TTM - COGS TTM) / revenue TTM; COGS = Expenses:COGS",
        "a ledger with Income rows", "ratio", _gross_margin,
        lambda inputs: _gross_margin_figure(inputs, PORTFOLIO, None)),
    KPI("revenue_growth_mom", "Revenue growth, month over month",
        "(revenue of the last complete month - revenue of the month before) / revenue of the month before",
        "Income rows in the two last complete months", "ratio", _revenue_growth,
        lambda inputs: _growth_figure(inputs, PORTFOLIO, None), not_for={"per_unit": _LUMPY, "none": NO_MODEL}),
)  # fmt: skip
KPI_BY_ID: dict[str, KPI] = {k.id: k for k in KPIS}


def _portfolio_unfit(kpi: KPI, inputs: Inputs) -> str | None:
    """Why a portfolio-wide KPI does not fit: it would mix in revenue of entities it does not fit."""
    unfit = [e.id for e in inputs.ctx.active_entities if not kpi.fits(e) and inputs.has_ledger(e.id)]
    if not unfit or kpi.id != "revenue_growth_mom":
        return None
    names = ", ".join(inputs.ctx.entities[e].name for e in unfit)
    reason = kpi.not_for[model_of(inputs.ctx.entities[unfit[0]])]
    return f"the portfolio's revenue includes {names}, where it does not fit: {reason}"


def analyze(ctx: Context) -> Results:
    """Every fitting KPI for every active entity (and the portfolio), ``kpis.missing`` and ``kpis.not_applicable``."""
    results = Results()
    inputs = Inputs(ctx)
    missing: list[dict[str, Any]] = []
    unfit: list[dict[str, Any]] = []
    for kpi in KPIS:
        for entity in ctx.active_entities:
            if not kpi.fits(entity):
                unfit.append({"id": kpi.id, "entity": entity.id, "reason": kpi.not_for[model_of(entity)]})
                continue
            computed = kpi.compute(inputs, entity)
            if isinstance(computed, Need):
                missing.append({"id": kpi.id, "entity": entity.id, "needs": computed.detail, "data": computed.data})
                continue
            for figure in computed:
                results.add(figure)
        if kpi.portfolio is not None and inputs.has_ledger(PORTFOLIO):
            reason = _portfolio_unfit(kpi, inputs)
            if reason is not None:
                unfit.append({"id": kpi.id, "entity": PORTFOLIO, "reason": reason})
                continue
            total = kpi.portfolio(inputs)
            if total is not None:
                results.add(total)
    results.add(
        Figure(
            "kpis.missing",
            missing,
            "list",
            "KPIs of the catalogue that fit an active entity's revenue model but cannot be computed, each with the"
            " data it needs ({id, entity, needs, data}: needs in full, data in short)",
            (ctx.manifest_key("entities"),),
            name="Missing KPIs",
        )
    )
    results.add(
        Figure(
            "kpis.not_applicable",
            unfit,
            "list",
            "KPIs of the catalogue that do not fit an active entity's revenue model (or the portfolio's mix),"
            " each with the reason ({id, entity, reason})",
            (ctx.manifest_key("entities"),),
            name="KPIs that do not apply",
        )
    )
    return results
