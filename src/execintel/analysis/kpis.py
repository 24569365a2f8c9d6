"""The KPI catalogue: each KPI's id, name, formula, the data it needs and its unit, computed per active entity.

Figures are ``kpi.<id>.<entity>`` (and ``kpi.<id>.portfolio`` for the KPIs that add up across entities;
``kpi.nps.<entity>.<segment>`` for NPS by segment). A KPI that cannot be computed for an active entity is
listed in the figure ``kpis.missing`` with the data that would enable it. Everything is computed from the
``tx`` and ``ev`` views and the manifest; nothing here depends on another analysis.

Windows: "TTM" is the 12 months ending at ``as_of`` (``window_start < date <= as_of``); "last complete month"
is the calendar month before the month of ``as_of``; event days are UTC dates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Results, add_months
from execintel.config.models import Entity

ZERO = Decimal(0)
PORTFOLIO = "portfolio"
# Accounts whose name contains one of these (case-insensitive) are marketing spend.
MARKETING_WORDS = ("marketing", "advertising")
# Event types that make a customer a new customer the first time they occur.
ACQUISITION_TYPES = ("booking", "signup")
# Events of every type but these mark a customer as active in a window (leads are prospects, not customers).
NOT_CUSTOMER_TYPES = ("lead",)

_INCOME = "split_part(account, ':', 1) = 'Income' AND amount > 0"
_EXPENSES = "split_part(account, ':', 1) = 'Expenses'"
_COGS = f"{_EXPENSES} AND split_part(account, ':', 2) = 'COGS'"
_MARKETING = f"{_EXPENSES} AND ({' OR '.join(f'lower(account) LIKE {chr(39)}%{w}%{chr(39)}' for w in MARKETING_WORDS)})"
_CASH_FLOW = "split_part(account, ':', 1) NOT IN ('Equity', 'Liabilities')"
_EQUITY_IN = "split_part(account, ':', 1) = 'Equity' AND amount > 0"


def _num(value: Decimal | int) -> str:
    """An exact number for formula text (no exponent, no trailing zeros)."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def slug(text: str) -> str:
    """A segment name as a figure-id part: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unspecified"


@dataclass
class Totals:
    """Ledger sums over some rows: revenue, expenses, COGS, marketing, net cash flow, equity put in."""

    revenue: Decimal = ZERO
    expenses: Decimal = ZERO
    cogs: Decimal = ZERO
    marketing: Decimal = ZERO
    net_flow: Decimal = ZERO
    equity_in: Decimal = ZERO
    rows: int = 0

    def add(self, other: Totals) -> None:
        """Add another set of sums into this one."""
        self.revenue += other.revenue
        self.expenses += other.expenses
        self.cogs += other.cogs
        self.marketing += other.marketing
        self.net_flow += other.net_flow
        self.equity_in += other.equity_in
        self.rows += other.rows


@dataclass
class Inputs:
    """The sums every KPI reads, queried once per context (grouped, so large ledgers stay fast)."""

    ctx: Context
    months: dict[str, dict[str, Totals]] = field(default_factory=lambda: defaultdict(dict))
    ttm: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    all_time: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    _sources: dict[tuple[Any, ...], dict[str, tuple[str, ...]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ctx = self.ctx
        rows = ctx.query(
            "SELECT entity, strftime(date, '%Y-%m'), date > ?,"
            f" coalesce(sum(amount) FILTER (WHERE {_INCOME}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {_EXPENSES}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {_COGS}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {_MARKETING}), 0),"
            f" coalesce(sum(amount) FILTER (WHERE {_CASH_FLOW}), 0),"
            f" coalesce(sum(amount) FILTER (WHERE {_EQUITY_IN}), 0),"
            " count(*) FROM tx GROUP BY ALL",
            [ctx.window_start],
        )
        for entity, month, in_window, revenue, expenses, cogs, marketing, net_flow, equity_in, count in rows:
            totals = Totals(revenue, expenses, cogs, marketing, net_flow, equity_in, int(count))
            for key in (entity, PORTFOLIO):
                self.months[key].setdefault(month, Totals()).add(totals)
                self.all_time[key].add(totals)
                if in_window:
                    self.ttm[key].add(totals)

    def sources(self, view: str, where: str, params: tuple[Any, ...], entity: str | None) -> tuple[str, ...]:
        """Source references (``file:2-9,12``) of the rows of ``view`` matching ``where``, for one entity.

        One grouped query serves every entity (memoised by view, condition and parameters; ``entity=None``
        is the whole portfolio), so the cost does not grow with the number of entities.
        """
        key_sql = "entity" if entity is not None else f"'{PORTFOLIO}'"
        cache_key = (view, where, params, key_sql)
        if cache_key not in self._sources:
            self._sources[cache_key] = _grouped_sources(self.ctx, view, where, params, key_sql)
        return self._sources[cache_key].get(entity if entity is not None else PORTFOLIO, ())

    def month(self, key: str, month: str) -> Totals:
        """Ledger sums of an entity (or ``portfolio``) in one calendar month."""
        return self.months.get(key, {}).get(month, Totals())

    def has_ledger(self, key: str) -> bool:
        """True when the entity has ledger rows up to ``as_of``."""
        return self.all_time[key].rows > 0 if key in self.all_time else False

    @cached_property
    def event_counts(self) -> dict[str, dict[str, int]]:
        """Events up to ``as_of`` by entity and type."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for entity, kind, count in self.ctx.query("SELECT entity, type, count(*) FROM ev GROUP BY ALL"):
            out[entity][kind] = int(count)
        return out

    @cached_property
    def customers(self) -> dict[str, tuple[int, int]]:
        """Per entity: (customers active in the TTM window, customers with a churn event in it)."""
        rows = self.ctx.query(
            "SELECT entity, count(DISTINCT customer), count(DISTINCT customer) FILTER (WHERE type = 'churn')"
            f" FROM ev WHERE customer IS NOT NULL AND type NOT IN ({_in(NOT_CUSTOMER_TYPES)})"
            " AND CAST(ts AS DATE) > ? GROUP BY entity",
            [self.ctx.window_start],
        )
        return {e: (int(a), int(c)) for e, a, c in rows}

    @cached_property
    def new_customers(self) -> dict[str, int]:
        """Per entity: customers whose first booking or signup (up to ``as_of``) is in the TTM window."""
        rows = self.ctx.query(
            "SELECT entity, count(*) FILTER (WHERE first > ?) FROM ("
            " SELECT entity, customer, min(CAST(ts AS DATE)) AS first FROM ev"
            f" WHERE customer IS NOT NULL AND type IN ({_in(ACQUISITION_TYPES)}) GROUP BY ALL"
            ") GROUP BY entity",
            [self.ctx.window_start],
        )
        return {e: int(n) for e, n in rows}

    @cached_property
    def units(self) -> dict[tuple[str, str, str], Decimal]:
        """Units of ``booking`` and ``completion`` events (1 when not given) by (entity, type, month of the event)."""
        rows = self.ctx.query(
            "SELECT entity, type, strftime(ts, '%Y-%m'), sum(coalesce(units, 1)) FROM ev"
            " WHERE type IN ('booking', 'completion') GROUP BY ALL"
        )
        return {(e, t, m): Decimal(u) for e, t, m, u in rows}

    @cached_property
    def nps(self) -> dict[str, dict[str, tuple[int, int, int]]]:
        """Per entity and segment: (responses, promoters 9-10, detractors 0-6) of NPS events in the TTM window."""
        rows = self.ctx.query(
            "SELECT entity, coalesce(nullif(segment, ''), 'unspecified'), count(*),"
            " count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score <= 6)"
            " FROM ev WHERE type = 'nps' AND score BETWEEN 0 AND 10 AND CAST(ts AS DATE) > ? GROUP BY ALL",
            [self.ctx.window_start],
        )
        out: dict[str, dict[str, tuple[int, int, int]]] = defaultdict(dict)
        for entity, segment, n, promoters, detractors in rows:
            out[entity][segment] = (int(n), int(promoters), int(detractors))
        return out

    @cached_property
    def retention(self) -> dict[str, tuple[Decimal, Decimal, int]]:
        """Per entity: (prior-window revenue of the cohort, its TTM revenue, cohort size).

        The cohort is the counterparties of positive Income rows in the 12 months before the TTM window that are
        also customer ids in the entity's events.
        """
        prior_start = add_months(self.ctx.as_of, -24)
        rows = self.ctx.query(
            "SELECT t.entity, t.counterparty,"
            " coalesce(sum(t.amount) FILTER (WHERE t.date > ? AND t.date <= ?), 0),"
            " coalesce(sum(t.amount) FILTER (WHERE t.date > ?), 0)"
            " FROM tx t JOIN (SELECT DISTINCT entity, customer FROM ev WHERE customer IS NOT NULL) c"
            " ON c.entity = t.entity AND c.customer = t.counterparty"
            f" WHERE {_INCOME.replace('account', 't.account').replace('amount', 't.amount')} GROUP BY ALL",
            [prior_start, self.ctx.window_start, self.ctx.window_start],
        )
        out: dict[str, tuple[Decimal, Decimal, int]] = {}
        for entity, _counterparty, prior, current in rows:
            if prior <= 0:
                continue
            before, after, size = out.get(entity, (ZERO, ZERO, 0))
            out[entity] = (before + prior, after + current, size + 1)
        return out


def _grouped_sources(ctx: Context, view: str, where: str, params: Sequence[Any], key_sql: str
                     ) -> dict[str, tuple[str, ...]]:  # fmt: skip
    """Source references by key (entity, or one portfolio key): runs of consecutive lines found in SQL."""
    rows = ctx.query(
        f"""WITH r AS (SELECT DISTINCT {key_sql} AS k, source_file AS f, source_line AS l FROM {view} WHERE {where}),
        g AS (SELECT k, f, l, l - row_number() OVER (PARTITION BY k, f ORDER BY l) AS run FROM r WHERE l IS NOT NULL)
        SELECT k, f, min(l) AS lo, max(l) AS hi FROM g GROUP BY k, f, run
        UNION ALL SELECT DISTINCT k, f, NULL, NULL FROM r WHERE l IS NULL AND f IS NOT NULL
        ORDER BY k, f, lo NULLS FIRST""",
        list(params),
    )
    ranges: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for key, file, low, high in rows:
        parts = ranges[key].setdefault(file, [])
        if low is not None:
            parts.append(f"{low}" if low == high else f"{low}-{high}")
    return {
        key: tuple(f"{file}:{','.join(parts)}" if parts else file for file, parts in sorted(files.items()))
        for key, files in ranges.items()
    }


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


Computed = Sequence[Figure] | str  # figures (the first is the KPI's value), or the data that is missing


@dataclass(frozen=True)
class KPI:
    """One KPI of the catalogue: id, name, formula, the data it needs, its unit and how it is computed."""

    id: str
    name: str
    formula: str
    needs: str
    unit: str
    compute: Callable[[Inputs, Entity], Computed]
    portfolio: Callable[[Inputs], Figure | None] | None = None

    def figure_id(self, entity: str) -> str:
        """``kpi.<id>.<entity>``."""
        return f"kpi.{self.id}.{entity}"


def _ledger_sources(inputs: Inputs, entity: str | None, condition: str, since: dt.date | None = None
                    ) -> tuple[str, ...]:  # fmt: skip
    """Source rows of an entity's (or, with ``entity=None``, the portfolio's) ledger rows matching ``condition``."""
    where, params = f"({condition})", []
    if since is not None:
        where += " AND date > ?"
        params.append(since)
    return inputs.sources("tx", where, tuple(params), entity)


def _event_sources(inputs: Inputs, entity: str, condition: str, since: dt.date | None = None,
                   extra: Sequence[Any] = ()) -> tuple[str, ...]:  # fmt: skip
    """Source rows of an entity's events matching ``condition`` (``?`` bound to ``extra``)."""
    where, params = f"({condition})", list(extra)
    if since is not None:
        where += " AND CAST(ts AS DATE) > ?"
        params.append(since)
    return inputs.sources("ev", where, tuple(params), entity)


def _window(inputs: Inputs) -> str:
    return f"{inputs.ctx.window_start.isoformat()} < date <= {inputs.ctx.as_of.isoformat()}"


def _no_ledger(entity: Entity) -> str:
    return "a ledger (rows up to as_of)"


# --- the KPIs -------------------------------------------------------------------------------------------------


def _utilisation(inputs: Inputs, entity: Entity) -> Computed:
    economics = entity.unit_economics
    if economics is None or not economics.capacity_per_month:
        return "unit_economics.capacity_per_month in the manifest"
    counts = inputs.event_counts.get(entity.id, {})
    # Capacity is used by units delivered: completions when the entity records them, else bookings.
    kind = "completion" if counts.get("completion") else "booking"
    if not counts.get(kind):
        return "completion or booking events"
    month = inputs.ctx.complete_months(1)[0]
    units = inputs.units.get((entity.id, kind, month), ZERO)
    capacity = economics.capacity_per_month
    return [
        Figure(
            f"kpi.utilisation.{entity.id}",
            units / capacity,
            "ratio",
            f"units of {kind} events in {month} ({_num(units)}; 1 per event without units)"
            f" / unit_economics.capacity_per_month ({capacity})",
            (
                *_event_sources(inputs, entity.id, f"type = '{kind}' AND strftime(ts, '%Y-%m') = '{month}'"),
                inputs.ctx.entity_key(entity.id, "unit_economics"),
            ),
            name=f"{economics.unit.capitalize()} utilisation",
            entity=entity.id,
        )
    ]


def _cac(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    marketing = inputs.ttm[entity.id].marketing
    if marketing <= 0:
        return "marketing spend (Expenses accounts named Marketing or Advertising) in the last 12 months"
    new = inputs.new_customers.get(entity.id, 0)
    if new == 0:
        return "booking or signup events with customer ids in the last 12 months"
    return [
        Figure(
            f"kpi.cac.{entity.id}",
            marketing / new,
            inputs.ctx.currency,
            f"marketing expenses TTM ({_num(marketing)}) / new customers TTM ({new}); marketing = -Expenses amounts"
            " on accounts containing Marketing or Advertising; a new customer's first booking or signup event is"
            f" in the window; {_window(inputs)}",
            (
                *_ledger_sources(inputs, entity.id, _MARKETING, inputs.ctx.window_start),
                *_event_sources(inputs, entity.id, f"type IN ({_in(ACQUISITION_TYPES)})"),
            ),
            name="Customer acquisition cost",
            entity=entity.id,
        )
    ]


def _gross_margin_value(totals: Totals) -> Decimal:
    return (totals.revenue - totals.cogs) / totals.revenue


def _ltv(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    ttm = inputs.ttm[entity.id]
    if ttm.revenue <= 0:
        return "Income rows in the last 12 months"
    customers, churned = inputs.customers.get(entity.id, (0, 0))
    if customers == 0:
        return "customer events (customer ids) in the last 12 months"
    if churned == 0:
        return "churn events in the last 12 months"
    per_customer = ttm.revenue / customers
    margin = _gross_margin_value(ttm)
    churn = Decimal(churned) / customers
    return [
        Figure(
            f"kpi.ltv.{entity.id}",
            per_customer * margin / churn,
            inputs.ctx.currency,
            f"(revenue TTM {_num(ttm.revenue)} / customers {customers}) x gross margin TTM"
            f" ((revenue - COGS {_num(ttm.cogs)}) / revenue) / churn rate TTM ({churned} / {customers});"
            f" {_window(inputs)}",
            (
                *_ledger_sources(inputs, entity.id, f"({_INCOME}) OR ({_COGS})", inputs.ctx.window_start),
                *_event_sources(inputs, entity.id, f"type NOT IN ({_in(NOT_CUSTOMER_TYPES)})", inputs.ctx.window_start),
            ),
            name="Lifetime value",
            entity=entity.id,
        )
    ]


def _nrr(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    if entity.id not in inputs.retention:
        return "Income rows whose counterparty is a customer id of the events, in the 12 months before the last 12"
    prior, current, size = inputs.retention[entity.id]
    prior_start = add_months(inputs.ctx.as_of, -24)
    return [
        Figure(
            f"kpi.nrr.{entity.id}",
            current / prior,
            "ratio",
            f"revenue TTM ({_num(current)}) / revenue in the prior 12 months ({_num(prior)}) of the {size} customers"
            f" who paid in the prior 12 months ({prior_start.isoformat()} < date <= "
            f"{inputs.ctx.window_start.isoformat()}); customers = Income counterparties that are event customer ids",
            _ledger_sources(inputs, entity.id, _INCOME, prior_start),
            name="Net revenue retention",
            entity=entity.id,
        )
    ]


def _capital_efficiency_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    invested = inputs.all_time[key].equity_in if key in inputs.all_time else ZERO
    if invested <= 0:
        return None
    revenue = inputs.ttm[key].revenue
    return Figure(
        f"kpi.capital_efficiency.{key}",
        revenue / invested,
        "x",
        f"revenue TTM ({_num(revenue)}) / capital invested ({_num(invested)}); capital invested = positive Equity"
        f" amounts up to {inputs.ctx.as_of.isoformat()}; revenue window {_window(inputs)}",
        (
            *_ledger_sources(inputs, entity, _INCOME, inputs.ctx.window_start),
            *_ledger_sources(inputs, entity, _EQUITY_IN),
        ),
        name="Capital efficiency",
        entity=entity,
    )


def _capital_efficiency(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    figure = _capital_efficiency_figure(inputs, entity.id, entity.id)
    return [figure] if figure else "Equity rows (capital put in)"


def _time_to_profitability(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    months = inputs.ctx.complete_months(3)
    totals = [inputs.month(entity.id, m) for m in months]
    if not any(t.rows for t in totals):
        return f"ledger rows in {months[0]} to {months[-1]}"
    first, last = totals[0].revenue, totals[-1].revenue
    costs = sum((t.expenses for t in totals), ZERO) / 3
    trend = (last - first) / 2
    value: int | None
    if last >= costs:
        value = 0
    elif trend <= 0:
        value = None  # not reached while revenue does not grow
    else:
        value = math.ceil((costs - last) / trend)
    return [
        Figure(
            f"kpi.time_to_profitability.{entity.id}",
            value,
            "months",
            f"0 when revenue in {months[-1]} ({_num(last)}) >= average monthly expenses over {months[0]}..{months[-1]}"
            f" ({_num(costs)}); else ceil((expenses - revenue) / monthly revenue trend), trend = (revenue"
            f" {months[-1]} - revenue {months[0]} ({_num(first)})) / 2; none (not reached) when the trend <= 0",
            _ledger_sources(
                inputs, entity.id, f"(({_INCOME}) OR ({_EXPENSES})) AND strftime(date, '%Y-%m') >= '{months[0]}'"
            ),
            name="Time to profitability",
            entity=entity.id,
        )
    ]


def _burn_figure(inputs: Inputs, key: str, entity: str | None) -> Figure:
    months = inputs.ctx.complete_months(3)
    burns = [max(ZERO, -inputs.month(key, m).net_flow) for m in months]
    return Figure(
        f"kpi.burn_rate.{key}",
        sum(burns, ZERO) / 3,
        inputs.ctx.currency,
        "average over " + ", ".join(months) + " of max(0, -net cash flow) ("
        + ", ".join(_num(b) for b in burns) + "); net cash flow excludes Equity and Liabilities rows",
        _ledger_sources(inputs, entity, f"{_CASH_FLOW} AND strftime(date, '%Y-%m') >= '{months[0]}'"
                        f" AND strftime(date, '%Y-%m') <= '{months[-1]}'"),
        name="Burn rate",
        entity=entity,
    )  # fmt: skip


def _burn_rate(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    return [_burn_figure(inputs, entity.id, entity.id)]


def _churn(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.event_counts.get(entity.id, {}).get("churn"):
        return "churn events"
    customers, churned = inputs.customers.get(entity.id, (0, 0))
    if customers == 0:
        return "customer events (customer ids) in the last 12 months"
    return [
        Figure(
            f"kpi.churn.{entity.id}",
            Decimal(churned) / customers,
            "ratio",
            f"customers with a churn event TTM ({churned}) / customers with any event other than a lead TTM"
            f" ({customers}); {_window(inputs)}",
            _event_sources(inputs, entity.id, f"type NOT IN ({_in(NOT_CUSTOMER_TYPES)})", inputs.ctx.window_start),
            name="Churn",
            entity=entity.id,
        )
    ]


def _nps_value(n: int, promoters: int, detractors: int) -> Decimal:
    return Decimal(promoters - detractors) * 100 / n


def _nps(inputs: Inputs, entity: Entity) -> Computed:
    segments = inputs.nps.get(entity.id)
    if not segments:
        return "nps events (score 0-10) in the last 12 months"
    n = sum(s[0] for s in segments.values())
    promoters = sum(s[1] for s in segments.values())
    detractors = sum(s[2] for s in segments.values())
    rule = "% promoters (9-10) - % detractors (0-6) of nps events"
    sources = _event_sources(inputs, entity.id, "type = 'nps'", inputs.ctx.window_start)
    figures = [
        Figure(
            f"kpi.nps.{entity.id}",
            _nps_value(n, promoters, detractors),
            "points",
            f"{rule}, all segments: ({promoters} - {detractors}) / {n} x 100; {_window(inputs)}",
            sources,
            name="NPS",
            entity=entity.id,
        )
    ]
    for segment, (count, pro, det) in sorted(segments.items()):
        figures.append(
            Figure(
                f"kpi.nps.{entity.id}.{slug(segment)}",
                _nps_value(count, pro, det),
                "points",
                f"{rule} of segment {segment}: ({pro} - {det}) / {count} x 100; {_window(inputs)}",
                _event_sources(
                    inputs,
                    entity.id,
                    "type = 'nps' AND coalesce(nullif(segment, ''), 'unspecified') = ?",
                    inputs.ctx.window_start,
                    [segment],
                ),
                name=f"NPS ({segment})",
                entity=entity.id,
            )
        )
    return figures


def _gross_margin_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    ttm = inputs.ttm[key] if key in inputs.ttm else Totals()
    if ttm.revenue <= 0:
        return None
    return Figure(
        f"kpi.gross_margin.{key}",
        _gross_margin_value(ttm),
        "ratio",
        f"(revenue TTM {_num(ttm.revenue)} - COGS TTM {_num(ttm.cogs)}) / revenue TTM; revenue = positive Income"
        f" amounts, COGS = -Expenses:COGS amounts; {_window(inputs)}",
        _ledger_sources(inputs, entity, f"({_INCOME}) OR ({_COGS})", inputs.ctx.window_start),
        name="Gross margin",
        entity=entity,
    )


def _gross_margin(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    figure = _gross_margin_figure(inputs, entity.id, entity.id)
    return [figure] if figure else "Income rows in the last 12 months"


def _growth_figure(inputs: Inputs, key: str, entity: str | None) -> Figure | None:
    before, last = inputs.ctx.complete_months(2)
    previous, current = inputs.month(key, before).revenue, inputs.month(key, last).revenue
    if previous <= 0:
        return None
    return Figure(
        f"kpi.revenue_growth_mom.{key}",
        (current - previous) / previous,
        "ratio",
        f"(revenue {last} ({_num(current)}) - revenue {before} ({_num(previous)})) / revenue {before};"
        " revenue = positive Income amounts",
        _ledger_sources(inputs, entity, f"{_INCOME} AND strftime(date, '%Y-%m') IN ('{before}', '{last}')"),
        name="Revenue growth, month over month",
        entity=entity,
    )


def _revenue_growth(inputs: Inputs, entity: Entity) -> Computed:
    if not inputs.has_ledger(entity.id):
        return _no_ledger(entity)
    figure = _growth_figure(inputs, entity.id, entity.id)
    before = inputs.ctx.complete_months(2)[0]
    return [figure] if figure else f"Income rows in {before}"


KPIS: tuple[KPI, ...] = (
    KPI(
        "utilisation", "Unit utilisation",
        "units delivered in the last complete month (completion events; booking events when the entity records no"
        " completions) / unit_economics.capacity_per_month",
        "unit_economics.capacity_per_month and completion or booking events", "ratio", _utilisation,
    ),
    KPI(
        "cac", "Customer acquisition cost",
        "marketing expenses TTM (Expenses accounts containing Marketing or Advertising) / new customers TTM"
        " (customers whose first booking or signup event is in the window)",
        "a ledger with marketing expenses, and booking or signup events with customer ids", "money", _cac,
    ),
    KPI(
        "ltv", "Lifetime value",
        "(revenue TTM / customers TTM) x gross margin TTM / churn rate TTM",
        "a ledger with Income, customer events and churn events", "money", _ltv,
    ),
    KPI(
        "nrr", "Net revenue retention",
        "revenue TTM / revenue in the 12 months before, both from the customers who paid in those 12 months before",
        "24 months of Income rows whose counterparty is a customer id of the events", "ratio", _nrr,
    ),
    KPI(
        "capital_efficiency", "Capital efficiency",
        "revenue TTM / capital invested (positive Equity amounts up to as_of)",
        "a ledger with Income and Equity rows", "x", _capital_efficiency,
        lambda inputs: _capital_efficiency_figure(inputs, PORTFOLIO, None),
    ),
    KPI(
        "time_to_profitability", "Time to profitability",
        "months until monthly revenue reaches average monthly expenses of the last 3 complete months, at the"
        " linear revenue trend of those months (0 = already profitable; none = revenue not growing)",
        "ledger rows in the last 3 complete months", "months", _time_to_profitability,
    ),
    KPI(
        "burn_rate", "Burn rate",
        "average over the last 3 complete months of max(0, -net cash flow), excluding Equity and Liabilities rows",
        "a ledger", "money", _burn_rate, lambda inputs: _burn_figure(inputs, PORTFOLIO, None),
    ),
    KPI(
        "churn", "Churn",
        "customers with a churn event TTM / customers with any non-lead event TTM",
        "churn events and customer events", "ratio", _churn,
    ),
    KPI(
        "nps", "NPS by segment",
        "% promoters (score 9-10) - % detractors (score 0-6) of nps events TTM, overall and per segment",
        "nps events with a score", "points", _nps,
    ),
    KPI(
        "gross_margin", "Gross margin",
        "(revenue TTM - COGS TTM) / revenue TTM; COGS = Expenses:COGS",
        "a ledger with Income rows", "ratio", _gross_margin,
        lambda inputs: _gross_margin_figure(inputs, PORTFOLIO, None),
    ),
    KPI(
        "revenue_growth_mom", "Revenue growth, month over month",
        "(revenue of the last complete month - revenue of the month before) / revenue of the month before",
        "Income rows in the two last complete months", "ratio", _revenue_growth,
        lambda inputs: _growth_figure(inputs, PORTFOLIO, None),
    ),
)  # fmt: skip
KPI_BY_ID: dict[str, KPI] = {k.id: k for k in KPIS}


def analyze(ctx: Context) -> Results:
    """Every KPI for every active entity (and the portfolio where it adds up), plus ``kpis.missing``."""
    results = Results()
    inputs = Inputs(ctx)
    missing: list[dict[str, str]] = []
    for kpi in KPIS:
        for entity in ctx.active_entities:
            computed = kpi.compute(inputs, entity)
            if isinstance(computed, str):
                missing.append({"id": kpi.id, "entity": entity.id, "needs": computed})
                continue
            for figure in computed:
                results.add(figure)
        if kpi.portfolio is not None and inputs.has_ledger(PORTFOLIO):
            total = kpi.portfolio(inputs)
            if total is not None:
                results.add(total)
    results.add(
        Figure(
            "kpis.missing",
            missing,
            "list",
            "KPIs of the catalogue that cannot be computed for an active entity, each with the data it needs",
            (ctx.manifest_key("entities"),),
            name="Missing KPIs",
        )
    )
    return results
