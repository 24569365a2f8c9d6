"""The sums the KPI catalogue reads, queried once per context with grouped SQL (so large ledgers stay fast).

Windows: "TTM" is the 12 months ending at ``as_of`` (``window_start < date <= as_of``); "the last complete
month" is the calendar month before the month of ``as_of``; event days are local dates (portfolio.timezone).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import add_months

ZERO = Decimal(0)
PORTFOLIO = "portfolio"
# Accounts whose name contains one of these (case-insensitive) are marketing spend.
MARKETING_WORDS = ("marketing", "advertising")
# Event types that make a customer a new customer the first time they occur.
ACQUISITION_TYPES = ("booking", "signup")
# Events of every type but these mark a customer as active in a window (leads are prospects, not customers).
NOT_CUSTOMER_TYPES = ("lead",)

INCOME = "split_part(account, ':', 1) = 'Income' AND amount > 0"
ALL_INCOME = "split_part(account, ':', 1) = 'Income'"
EXPENSES = "split_part(account, ':', 1) = 'Expenses'"
COGS = f"{EXPENSES} AND split_part(account, ':', 2) = 'COGS'"
MARKETING = f"{EXPENSES} AND ({' OR '.join(f'lower(account) LIKE {chr(39)}%{w}%{chr(39)}' for w in MARKETING_WORDS)})"
CASH_FLOW = "split_part(account, ':', 1) NOT IN ('Equity', 'Liabilities')"
EQUITY_IN = "split_part(account, ':', 1) = 'Equity' AND amount > 0"


def sql_list(values: Sequence[str]) -> str:
    """Quoted SQL literals for ``IN (...)`` (only ever our own constants)."""
    return ", ".join(f"'{v}'" for v in values)


@dataclass
class Totals:
    """Ledger sums over some rows: revenue, net income rows, expenses, COGS, marketing, net cash flow, equity."""

    revenue: Decimal = ZERO  # positive Income amounts
    income: Decimal = ZERO  # every Income amount (refunds net)
    expenses: Decimal = ZERO
    cogs: Decimal = ZERO
    marketing: Decimal = ZERO
    net_flow: Decimal = ZERO
    equity_in: Decimal = ZERO
    rows: int = 0

    def add(self, other: Totals) -> None:
        """Add another set of sums into this one."""
        self.revenue += other.revenue
        self.income += other.income
        self.expenses += other.expenses
        self.cogs += other.cogs
        self.marketing += other.marketing
        self.net_flow += other.net_flow
        self.equity_in += other.equity_in
        self.rows += other.rows

    @property
    def net_income(self) -> Decimal:
        """Income (refunds net) minus expenses: the P&L's net income over these rows."""
        return self.income - self.expenses


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
            f" coalesce(sum(amount) FILTER (WHERE {INCOME}), 0),"
            f" coalesce(sum(amount) FILTER (WHERE {ALL_INCOME}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {EXPENSES}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {COGS}), 0),"
            f" coalesce(-sum(amount) FILTER (WHERE {MARKETING}), 0),"
            f" coalesce(sum(amount) FILTER (WHERE {CASH_FLOW}), 0),"
            f" coalesce(sum(amount) FILTER (WHERE {EQUITY_IN}), 0),"
            " count(*) FROM tx GROUP BY ALL",
            [ctx.window_start],
        )
        for entity, month, in_window, revenue, income, expenses, cogs, marketing, net_flow, equity_in, count in rows:
            totals = Totals(revenue, income, expenses, cogs, marketing, net_flow, equity_in, int(count))
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
            f" FROM ev WHERE customer IS NOT NULL AND type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)})"
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
            f" WHERE customer IS NOT NULL AND type IN ({sql_list(ACQUISITION_TYPES)}) GROUP BY ALL"
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
            f" WHERE {INCOME.replace('account', 't.account').replace('amount', 't.amount')} GROUP BY ALL",
            [prior_start, self.ctx.window_start, self.ctx.window_start],
        )
        out: dict[str, tuple[Decimal, Decimal, int]] = {}
        for entity, _counterparty, prior, current in rows:
            if prior <= 0:
                continue
            before, after, size = out.get(entity, (ZERO, ZERO, 0))
            out[entity] = (before + prior, after + current, size + 1)
        return out

    @cached_property
    def subscribers(self) -> dict[str, dict[dt.date, int]]:
        """Per entity: active subscribers at ``as_of`` and at :attr:`quarter_start` (see :meth:`subscriber_rule`)."""
        out: dict[str, dict[dt.date, int]] = defaultdict(dict)
        for day in (self.ctx.as_of, self.quarter_start):
            rows = self.ctx.query(
                "SELECT entity, count(*) FILTER (WHERE churn IS NULL OR signup > churn) FROM ("
                " SELECT entity, customer, max(ts) FILTER (WHERE type = 'signup') AS signup,"
                " max(ts) FILTER (WHERE type = 'churn') AS churn FROM ev"
                f" WHERE customer IS NOT NULL AND type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)})"
                " AND CAST(ts AS DATE) <= ? GROUP BY ALL) GROUP BY entity",
                [day],
            )
            for entity, count in rows:
                out[entity][day] = int(count)
        return out

    @staticmethod
    def subscriber_rule(day: dt.date) -> str:
        """The definition of an active subscriber on ``day``, for formulas."""
        return (
            f"customers with an event other than a lead dated <= {day.isoformat()} and no churn event after their"
            " latest signup event (a customer without a signup event counts until a churn event)"
        )

    @property
    def quarter_start(self) -> dt.date:
        """The day before the first of the last 3 complete months (2026-07-31 for as_of 2026-11-15)."""
        first = self.ctx.complete_months(3)[0]
        return dt.date(int(first[:4]), int(first[5:7]), 1) - dt.timedelta(days=1)

    def paying_clients(self, months: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per entity: (distinct counterparties of positive Income rows in ``months``, such rows without one)."""
        rows = self.ctx.query(
            "SELECT entity, count(DISTINCT nullif(counterparty, '')),"
            " count(*) FILTER (WHERE coalesce(counterparty, '') = '') FROM tx"
            f" WHERE {INCOME} AND strftime(date, '%Y-%m') IN ({', '.join('?' for _ in months)}) GROUP BY entity",
            list(months),
        )
        return {e: (int(n), int(blank)) for e, n, blank in rows}


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


def ledger_sources(inputs: Inputs, entity: str | None, condition: str, since: dt.date | None = None
                   ) -> tuple[str, ...]:  # fmt: skip
    """Source rows of an entity's (or, with ``entity=None``, the portfolio's) ledger rows matching ``condition``."""
    where, params = f"({condition})", []
    if since is not None:
        where += " AND date > ?"
        params.append(since)
    return inputs.sources("tx", where, tuple(params), entity)


def event_sources(inputs: Inputs, entity: str, condition: str, since: dt.date | None = None,
                  extra: Sequence[Any] = ()) -> tuple[str, ...]:  # fmt: skip
    """Source rows of an entity's events matching ``condition`` (``?`` bound to ``extra``)."""
    where, params = f"({condition})", list(extra)
    if since is not None:
        where += " AND CAST(ts AS DATE) > ?"
        params.append(since)
    return inputs.sources("ev", where, tuple(params), entity)


@dataclass(frozen=True)
class Need:
    """Data a KPI cannot be computed without: a short name (for one line per entity) and the full requirement."""

    data: str
    detail: str


NO_LEDGER = Need("a ledger", "a ledger (rows up to as_of)")


def window_text(inputs: Inputs) -> str:
    """The TTM window as formula text."""
    return f"{inputs.ctx.window_start.isoformat()} < date <= {inputs.ctx.as_of.isoformat()}"


def number_text(value: Decimal | int) -> str:
    """An exact number for formula text (no exponent, no trailing zeros)."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text
