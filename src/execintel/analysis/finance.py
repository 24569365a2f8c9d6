"""Finance: cash, trailing revenue and expenses, burn, runway, break-even, monthly P&L, targets, policy compliance.

Every figure follows CONTRACT.md section 7 and reads the ``tx`` view (ledger rows
dated on or before ``as_of``). Accounts are classified by their first segment:
``Income`` is revenue, ``Expenses:COGS`` (and below) is cost of goods sold
(variable cost), every other ``Expenses`` account is operating (fixed) cost, and
``Equity``/``Liabilities`` rows are financing, left out of burn. The formulas are
listed in ``docs/reports/cfo.md``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, last_complete_months, month_key
from execintel.analysis.recurring import grouped_sources

ZERO = Decimal(0)
PORTFOLIO = "portfolio"
PNL_LINES = ("revenue", "cogs", "opex", "net")
# Days a newest ledger row may be old before the cash review counts as overdue, by policies.cash_review.
REVIEW_GRACE_DAYS = {"daily": 3, "weekly": 10, "monthly": 35}

# Ledger rows with their P&L category and month; every query below reads this.
# (``tx`` computes both once per context: see analysis/context.py.)
CATEGORIZED = "(SELECT *, ledger_month AS month, ledger_cat AS cat FROM tx) AS t"


def money_text(value: Decimal, currency: str) -> str:
    """An amount for finding evidence, rounded to cents for display only (``25,000.00 USD``)."""
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f} {currency}"


def sources_by(
    ctx: Context, keys: str | Sequence[str], where_sql: str = "TRUE", params: Sequence[Any] = ()
) -> dict[str, tuple[str, ...]]:
    """Provenance (``file:2-40,44``) of the categorised ledger rows matching ``where_sql``, grouped by each of ``keys``.

    ``keys`` are SQL expressions over the rows (``entity``, ``month``, ``'*'`` for all rows); every grouping is
    computed in one query, with the line ranges and their text built in SQL (gaps and islands), so a large
    interleaved ledger costs one pass and little Python. References read exactly as :func:`compress_lines` writes.
    """
    selects = " UNION ALL ".join(
        f"SELECT CAST({key} AS VARCHAR) AS k, source_file AS f, source_line AS l FROM {CATEGORIZED} "
        f"WHERE ({where_sql}) AND source_file IS NOT NULL"
        for key in ([keys] if isinstance(keys, str) else keys)
    )
    return grouped_sources(ctx, selects, list(params) * (1 if isinstance(keys, str) else len(keys)))


def months_between(first: str, last: str) -> list[str]:
    """``YYYY-MM`` months from ``first`` to ``last`` inclusive."""
    year, month = int(first[:4]), int(first[5:7])
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def target_months(as_of: dt.date) -> list[str]:
    """From the month of ``as_of`` to the last month of the next calendar quarter (2026-11-15 -> 2026-11..2027-03)."""
    index = as_of.year * 12 + as_of.month - 1
    quarter_start = index - (as_of.month - 1) % 3
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, quarter_start + 6)]


@dataclass
class _Ledger:
    """The aggregates every finance figure is computed from (a few grouped queries)."""

    cash: dict[str, Decimal] = field(default_factory=dict)
    first_month: dict[str, str] = field(default_factory=dict)
    newest: dict[str, tuple[dt.date, str | None, int | None]] = field(default_factory=dict)
    # (entity, month, category) -> sum(amount), for the P&L months
    monthly: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    # (month, category) -> sum(amount) over every entity
    portfolio_monthly: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    revenue_ttm: dict[str, Decimal] = field(default_factory=dict)
    expenses_ttm: dict[str, Decimal] = field(default_factory=dict)
    liabilities: dict[str, Decimal] = field(default_factory=dict)

    def month_sum(self, entity: str | None, month: str, *cats: str) -> Decimal:
        """Sum of amounts of ``cats`` rows in ``month`` (of all entities when ``entity`` is None)."""
        if entity is None:
            return sum((self.portfolio_monthly.get((month, c), ZERO) for c in cats), ZERO)
        return sum((self.monthly.get((entity, month, c), ZERO) for c in cats), ZERO)


def _load(ctx: Context, pnl_first: str) -> _Ledger:
    ledger = _Ledger()
    for entity, cash, first, liabilities in ctx.query(
        f"""SELECT entity, sum(amount), min(month),
                   sum(amount) FILTER (WHERE split_part(account, ':', 1) = 'Liabilities')
            FROM {CATEGORIZED} GROUP BY entity"""
    ):
        ledger.cash[entity] = cash or ZERO
        ledger.first_month[entity] = first
        if liabilities is not None:
            ledger.liabilities[entity] = liabilities
    for entity, date, file, line in ctx.query(
        "SELECT entity, date, source_file, source_line FROM tx "
        "QUALIFY row_number() OVER (PARTITION BY entity ORDER BY date DESC, source_line DESC) = 1"
    ):
        ledger.newest[entity] = (date, file, line)
    for entity, month, cat, total in ctx.query(
        f"SELECT entity, month, cat, sum(amount) FROM {CATEGORIZED} WHERE month >= ? GROUP BY ALL", [pnl_first]
    ):
        ledger.monthly[(entity, month, cat)] = total or ZERO
        ledger.portfolio_monthly[(month, cat)] = ledger.portfolio_monthly.get((month, cat), ZERO) + (total or ZERO)
    for entity, revenue, expenses in ctx.query(
        f"""SELECT entity, sum(amount) FILTER (WHERE cat = 'income' AND amount > 0),
                   sum(amount) FILTER (WHERE cat IN ('cogs', 'opex'))
            FROM {CATEGORIZED} WHERE date > ? GROUP BY entity""",
        [ctx.window_start],
    ):
        ledger.revenue_ttm[entity] = revenue or ZERO
        ledger.expenses_ttm[entity] = -(expenses or ZERO)
    return ledger


class _Finance:
    """Builds the finance results for one context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.results = Results()
        self.cur = ctx.currency
        self.as_of = ctx.as_of.isoformat()
        self.last3 = list(ctx.complete_months(3))
        first = ctx.as_of.year * 12 + ctx.as_of.month - 1 - 11
        self.pnl_months = months_between(f"{first // 12:04d}-{first % 12 + 1:02d}", month_key(ctx.as_of))
        # three months before the P&L window too: the runway at each month end averages 3 months of burn
        self.ledger = _load(ctx, month_key(dt.date(first // 12, first % 12 + 1, 1) - dt.timedelta(days=85)))
        self.with_ledger = [e for e in ctx.entities if e in self.ledger.cash]
        self.with_ledger += sorted(e for e in self.ledger.cash if e not in ctx.entities)
        self.cash_total = sum(self.ledger.cash.values(), ZERO)
        self.month_end_cash: dict[str, Decimal] = {}

    def _name(self, entity: str) -> str:
        found = self.ctx.entities.get(entity)
        return found.name if found is not None else entity

    def _fallback(self, entity: str | None) -> tuple[str, ...]:
        """Where the ledger is declared, for figures that no row contributes to (a 0 from an existing ledger)."""
        found = self.ctx.entities.get(entity or "")
        if found is not None and found.ledger:
            return (self.ctx.entity_key(found.id, "ledger"),)
        if self.ctx.manifest.ledger:
            return (self.ctx.manifest_key("ledger"),)
        return tuple(self.ctx.entity_key(e.id, "ledger") for e in self.ctx.manifest.entities if e.ledger)

    def add(self, fid: str, value: Decimal | int, formula: str, sources: tuple[str, ...], *, name: str,
            entity: str | None = None, unit: str = "") -> Figure:  # fmt: skip
        """Record a figure (money unless ``unit`` says otherwise; the ledger's manifest key when no row contributed)."""
        fig = Figure(fid, value, unit or self.cur, formula, sources or self._fallback(entity), name, entity)
        return self.results.add(fig)

    def run(self) -> Results:
        """Every figure and finding, in report order."""
        # The honest-cash and expense-line modules build on this class and import it: imported here, not above.
        from execintel.analysis.expenselines import add_expense_lines  # noqa: PLC0415
        from execintel.analysis.honestcash import HonestCash  # noqa: PLC0415

        lean = self.ctx.lean  # an earlier date's context: only what comparisons read (see Context.lean)
        if self.with_ledger:
            self.cash()
            self.ttm()
            self.burn_and_runway()
            if not lean:
                self.runway_history()
            HonestCash(self).run()
            self.pnl()
            if not lean:
                add_expense_lines(self)
        self.break_even_and_targets()
        if not lean:
            self.units_booked()
            self.unapproved_debt()
            self.cash_review()
        return self.results

    # --- cash and trailing twelve months -----------------------------------------------------
    def cash(self) -> None:
        """``cash.<e>`` and ``cash.portfolio``: the sum of every ledger row up to ``as_of``."""
        per = sources_by(self.ctx, ["entity", "'*'"])
        for e in self.with_ledger:
            self.add(f"cash.{e}", self.ledger.cash[e], f"sum(amount) of {e}'s ledger rows dated on or before "
                     f"{self.as_of}", per.get(e, ()), name=f"Cash on hand, {self._name(e)}", entity=e)  # fmt: skip
        self.add("cash.portfolio", self.cash_total,
                 f"sum(amount) of every entity's ledger rows dated on or before {self.as_of}",
                 per.get("*", ()), name="Cash on hand, portfolio")  # fmt: skip
        # Month-end cash of the portfolio over the P&L months (the cash chart): cash minus later months' flows.
        flows = dict(self.ctx.query("SELECT strftime(date, '%Y-%m'), sum(amount) FROM tx GROUP BY 1"))
        for month in self.pnl_months:
            later = sum((v for k, v in flows.items() if k > month), ZERO)
            end = self.as_of if month == self.pnl_months[-1] else f"the end of {month}"
            self.month_end_cash[month] = self.cash_total - later
            self.add(f"cash.month_end.{month}.portfolio", self.month_end_cash[month],
                     f"sum(amount) of every entity's ledger rows dated on or before {end}",
                     per.get("*", ()), name=f"Cash on hand at the end of {month}")  # fmt: skip

    def ttm(self) -> None:
        """``revenue.ttm.*`` (positive Income amounts) and ``expenses.ttm.*`` (minus Expenses amounts)."""
        start = self.ctx.window_start
        window = f"{start.isoformat()} < date <= {self.as_of}"
        side = "CASE WHEN cat = 'income' THEN 'revenue|' ELSE 'expenses|' END"
        rows = "date > ? AND (cat = 'income' AND amount > 0 OR cat IN ('cogs', 'opex'))"
        src = sources_by(self.ctx, [f"{side} || entity", f"{side} || '*'"], rows, [start])
        rev_formula = "sum(amount) of {who} rows on Income accounts with amount > 0 and " + window
        exp_formula = "-sum(amount) of {who} rows on Expenses accounts with " + window
        for e in self.with_ledger:
            name = self._name(e)
            self.add(f"revenue.ttm.{e}", self.ledger.revenue_ttm.get(e, ZERO), rev_formula.format(who=f"{e}'s"),
                     src.get(f"revenue|{e}", ()), name=f"Revenue, trailing 12 months, {name}", entity=e)  # fmt: skip
            self.add(f"expenses.ttm.{e}", self.ledger.expenses_ttm.get(e, ZERO), exp_formula.format(who=f"{e}'s"),
                     src.get(f"expenses|{e}", ()), name=f"Expenses, trailing 12 months, {name}", entity=e)  # fmt: skip
        self.add("revenue.ttm.portfolio", sum(self.ledger.revenue_ttm.values(), ZERO),
                 rev_formula.format(who="every entity's"), src.get("revenue|*", ()),
                 name="Revenue, trailing 12 months, portfolio")  # fmt: skip
        self.add("expenses.ttm.portfolio", sum(self.ledger.expenses_ttm.values(), ZERO),
                 exp_formula.format(who="every entity's"), src.get("expenses|*", ()),
                 name="Expenses, trailing 12 months, portfolio")  # fmt: skip

    # --- burn and runway ---------------------------------------------------------------------
    def burn_and_runway(self) -> None:
        """``burn.monthly.portfolio`` over the last 3 complete months, then ``runway.days.portfolio``."""
        where = "month IN (?, ?, ?) AND cat <> 'financing'"
        by_month = sources_by(self.ctx, ["month", "'*'"], where, self.last3)
        flows: list[Decimal] = []
        for month in self.last3:
            net = self.ledger.month_sum(None, month, "income", "cogs", "opex", "other")
            flows.append(net)
            src = by_month.get(month, ())
            self.add(f"cashflow.net.{month}.portfolio", net,
                     f"sum(amount) of every ledger row dated in {month}, except Equity and Liabilities accounts",
                     src, name=f"Net cash flow, {month}, portfolio")  # fmt: skip
            self.add(f"burn.month.{month}.portfolio", max(ZERO, -net), f"max(0, -cashflow.net.{month}.portfolio)",
                     src, name=f"Burn, {month}, portfolio")  # fmt: skip
        total = sum((max(ZERO, -net) for net in flows), ZERO)
        burn = self.add("burn.monthly.portfolio", total / 3,
                        f"(sum over {', '.join(self.last3)} of max(0, -net cash flow of the month)) / 3; net cash "
                        "flow = sum(amount) of the month's ledger rows except Equity and Liabilities accounts",
                        by_month.get("*", ()),
                        name="Monthly burn (average of the last 3 complete months)")  # fmt: skip
        if total == 0:
            self.results.find(Finding(
                "no-burn", "info", "Runway not computed: the portfolio did not burn cash in the last 3 complete months",
                evidence=tuple(f"net cash flow {m}: {money_text(v, self.cur)}"
                               for m, v in zip(self.last3, flows, strict=True)), subject="portfolio burn",
                recommendation="Runway is unlimited while cash flow stays positive; it is computed again once a "
                               "month burns cash.",
            ))  # fmt: skip
            return
        cash = self.cash_total
        days = math.floor(Fraction(cash) * 90 / Fraction(total))
        self.add("runway.days.portfolio", days, "floor(cash.portfolio / burn.monthly.portfolio * 30), computed "
                 "exactly as floor(cash.portfolio * 90 / sum of the 3 monthly burns)",
                 tuple(dict.fromkeys(self.results.figures["cash.portfolio"].sources + burn.sources)),
                 name="Runway", unit="days")  # fmt: skip
        policy = self.ctx.manifest.policies.min_runway_days
        if policy is not None and days < policy:
            needed = total * policy / 90 - cash
            self.results.find(Finding(
                "runway-below-policy", "high", f"Runway of {days} days is below the {policy}-day policy minimum",
                evidence=(f"runway {days} days = floor(cash {money_text(cash, self.cur)} / burn "
                          f"{money_text(total / 3, self.cur)} a month * 30)",
                          f"policy minimum {policy} days ({self.ctx.manifest_key('policies.min_runway_days')})",
                          f"cash needed to reach the minimum at this burn: {money_text(needed, self.cur)} more"),
                amount=needed, file=self.ctx.manifest_file, subject="portfolio runway",
                recommendation="Cut monthly burn or add cash until runway is back above the policy minimum.",
            ))  # fmt: skip

    def runway_history(self) -> None:
        """``runway.days.month_end.<YYYY-MM>.portfolio``: runway as it stood at each P&L month's end (the chart).

        Month-end cash over the average burn of the 3 complete months ending with that month; the current
        month uses the 3 complete months before it, as ``runway.days.portfolio`` does. A month with no burn
        has no runway figure (unlimited).
        """
        history = [*last_complete_months(dt.date.fromisoformat(self.pnl_months[0] + "-01"), 3), *self.pnl_months]
        for i, month in enumerate(self.pnl_months):
            window = history[i : i + 3] if month == self.pnl_months[-1] else history[i + 1 : i + 4]
            burns = [max(ZERO, -self.ledger.month_sum(None, m, "income", "cogs", "opex", "other")) for m in window]
            total = sum(burns, ZERO)
            cash = self.results.figures[f"cash.month_end.{month}.portfolio"]
            if total <= 0:
                continue
            days = math.floor(Fraction(self.month_end_cash[month]) * 90 / Fraction(total))
            self.add(f"runway.days.month_end.{month}.portfolio", days,
                     f"floor(cash.month_end.{month}.portfolio * 90 / sum of the monthly burns of "
                     f"{', '.join(window)}); burn of a month = max(0, -net cash flow), net cash flow excluding "
                     "Equity and Liabilities accounts", cash.sources,
                     name=f"Runway at the end of {month}", unit="days")  # fmt: skip

    # --- monthly P&L -------------------------------------------------------------------------
    def pnl(self) -> None:
        """``pnl.<e>.<YYYY-MM>.revenue|cogs|opex|net`` for the 12 calendar months ending with the month of ``as_of``."""
        where, first = "month >= ? AND cat IN ('income', 'cogs', 'opex')", [self.pnl_months[0]]
        keys = ["entity || '|' || month || '|' || cat", "'*|' || month || '|' || cat",
                "entity || '|' || month || '|net'", "'*|' || month || '|net'"]  # fmt: skip
        by_line = sources_by(self.ctx, keys, where, first)
        starts = {e: self.ledger.first_month[e] for e in self.with_ledger}
        cats = {"revenue": "income", "cogs": "cogs", "opex": "opex"}
        for who, entity in [*((e, e) for e in self.with_ledger), (PORTFOLIO, None)]:
            begin = min(starts.values()) if entity is None else starts[entity]
            label, title = ("every entity's", "portfolio") if entity is None else (f"{who}'s", self._name(who))
            for month in self.pnl_months:
                if month < begin:
                    continue  # before the ledger starts: unknown, not zero
                revenue = self.ledger.month_sum(entity, month, "income")
                cogs = -self.ledger.month_sum(entity, month, "cogs")
                opex = -self.ledger.month_sum(entity, month, "opex")
                lines = {
                    "revenue": (revenue, f"sum(amount) of {label} Income rows dated in {month} (refunds included)",
                                "Revenue"),
                    "cogs": (cogs, f"-sum(amount) of {label} rows on Expenses:COGS and its sub-accounts dated in "
                             f"{month}", "COGS"),
                    "opex": (opex, f"-sum(amount) of {label} rows on other Expenses accounts dated in {month}",
                             "Operating expenses"),
                    "net": (revenue - cogs - opex,
                            f"pnl.{who}.{month}.revenue - pnl.{who}.{month}.cogs - pnl.{who}.{month}.opex",
                            "Net income"),
                }  # fmt: skip
                for line, (value, formula, heading) in lines.items():
                    src = by_line.get(f"{entity or '*'}|{month}|{cats.get(line, 'net')}", ())
                    self.add(f"pnl.{who}.{month}.{line}", value, formula, src, name=f"{heading}, {month}, {title}",
                             entity=entity)  # fmt: skip

    # --- break-even and targets --------------------------------------------------------------
    def break_even_and_targets(self) -> None:
        """Margin, break-even units and revenue per entity, and the ramp of monthly revenue targets."""
        months = ", ".join(self.last3)
        src = sources_by(self.ctx, ["cat || '|' || entity", "CASE WHEN cat <> 'income' THEN 'cost|' || entity END"],
                         "month IN (?, ?, ?) AND cat IN ('opex', 'cogs', 'income')", self.last3)  # fmt: skip
        for entity in self.ctx.manifest.entities:
            e, econ = entity.id, entity.unit_economics
            ue_key = self.ctx.entity_key(e, "unit_economics")
            margin = None if econ is None else econ.price - econ.variable_cost
            if econ is not None and margin is not None:
                self.add(f"unit_economics.margin.{e}", margin,
                         f"price {econ.price} - variable_cost {econ.variable_cost} per {econ.unit}", (ue_key,),
                         name=f"Margin per {econ.unit}, {entity.name}", entity=e)  # fmt: skip
                if margin <= 0:
                    self.results.find(Finding(
                        "negative-unit-margin", "high",
                        f"{entity.name} loses money on every {econ.unit}: no break-even volume exists", entity=e,
                        evidence=(f"price {money_text(econ.price, self.cur)} - variable cost "
                                  f"{money_text(econ.variable_cost, self.cur)} = {money_text(margin, self.cur)} "
                                  f"per {econ.unit} ({ue_key})",),
                        amount=margin, file=self.ctx.manifest_file, subject="unit_economics",
                        recommendation=f"Raise the price or cut the variable cost of a {econ.unit}.",
                    ))  # fmt: skip
            if e not in self.ledger.cash:
                continue
            opex_sum = -sum((self.ledger.month_sum(e, m, "opex") for m in self.last3), ZERO)
            cogs_sum = -sum((self.ledger.month_sum(e, m, "cogs") for m in self.last3), ZERO)
            revenue_sum = sum((self.ledger.month_sum(e, m, "income") for m in self.last3), ZERO)
            opex = self.add(f"opex.monthly.{e}", opex_sum / 3,
                            f"-sum(amount) of {e}'s Expenses rows not under Expenses:COGS dated in {months}, / 3",
                            src.get(f"opex|{e}", ()), name=f"Operating expenses a month, {entity.name}",
                            entity=e)  # fmt: skip
            current = self.add(f"revenue.monthly.{e}", revenue_sum / 3,
                               f"sum(amount) of {e}'s Income rows dated in {months} (refunds included), / 3",
                               src.get(f"income|{e}", ()), name=f"Revenue a month, {entity.name}",
                               entity=e)  # fmt: skip
            if econ is not None and margin is not None and margin > 0:
                units = max(0, math.ceil(Fraction(opex_sum) / (3 * Fraction(margin))))
                self.add(f"break_even.units.{e}", units,
                         f"ceil(opex.monthly.{e} / (price {econ.price} - variable_cost {econ.variable_cost})), "
                         f"computed exactly as ceil(operating expenses of {months} / (3 * {margin})); at least 0",
                         (*opex.sources, ue_key), name=f"Break-even volume, {econ.unit}s a month, {entity.name}",
                         entity=e, unit="units")  # fmt: skip
                target = self.add(f"break_even.revenue.{e}", econ.price * units,
                                  f"break_even.units.{e} * price {econ.price}", (*opex.sources, ue_key),
                                  name=f"Break-even revenue a month, {entity.name}", entity=e)  # fmt: skip
            elif econ is None:
                target = self.add(f"break_even.revenue.{e}", (opex_sum + cogs_sum) / 3,
                                  f"-sum(amount) of {e}'s Expenses rows (COGS and operating) dated in {months}, / 3",
                                  src.get(f"cost|{e}", ()), name=f"Break-even revenue a month (average expenses), "
                                  f"{entity.name}", entity=e)  # fmt: skip
            else:
                continue
            self._targets(e, entity.name, revenue_sum / 3, current, target)

    def _targets(self, e: str, name: str, start: Decimal, current: Figure, target: Figure) -> None:
        """``target.revenue.<e>.<YYYY-MM>``: month k of n is current + (break-even - current) * k / n."""
        goal = Decimal(target.value) if isinstance(target.value, Decimal | int) else ZERO
        if start >= goal:
            return
        months = target_months(self.ctx.as_of)
        n = len(months)
        src = tuple(dict.fromkeys(current.sources + target.sources))
        for k, month in enumerate(months, start=1):
            self.add(f"target.revenue.{e}.{month}", start + (goal - start) * k / n,
                     f"revenue.monthly.{e} + (break_even.revenue.{e} - revenue.monthly.{e}) * {k} / {n} "
                     f"(month {k} of {n}, {months[0]} to {months[-1]}, the end of the next calendar quarter)",
                     src, name=f"Revenue target, {month}, {name}", entity=e)  # fmt: skip

    # --- units sold --------------------------------------------------------------------------
    def units_booked(self) -> None:
        """``units.booked|completed.<e>.<YYYY-MM>``: units of booking / completion events in the last complete month."""
        month = self.ctx.complete_months(1)[0]
        with_events = {row[0] for row in self.ctx.query("SELECT DISTINCT entity FROM ev")}
        totals = {
            (entity, kind): units
            for entity, kind, units in self.ctx.query(
                "SELECT entity, type, sum(coalesce(units, 1)) FROM ev WHERE type IN ('booking', 'completion') "
                "AND strftime(ts, '%Y-%m') = ? GROUP BY ALL",
                [month],
            )
        }
        # the source rows of every (kind, entity) in one pass: a query per entity and kind scanned the events twice
        # per entity
        sources = grouped_sources(
            self.ctx,
            "SELECT type || '|' || entity AS k, source_file AS f, source_line AS l FROM ev "
            "WHERE type IN ('booking', 'completion') AND strftime(ts, '%Y-%m') = ?",
            [month],
        )
        for entity in self.ctx.manifest.entities:
            econ = entity.unit_economics
            if econ is None or entity.id not in with_events:
                continue
            for kind, word in (("booking", "booked"), ("completion", "completed")):
                units = totals.get((entity.id, kind)) or ZERO
                src = sources.get(f"{kind}|{entity.id}", ())
                value: Decimal | int = int(units) if units == units.to_integral_value() else units
                self.results.add(Figure(
                    f"units.{word}.{entity.id}.{month}", value, "units",
                    f"sum(units, 1 when absent) of {entity.id}'s {kind} events with ts (local time) in {month}",
                    src or (self.ctx.entity_key(entity.id, "events"),),
                    f"{econ.unit.capitalize()}s {word} in {month}, {entity.name}", entity.id,
                ))  # fmt: skip

    # --- policies ----------------------------------------------------------------------------
    def unapproved_debt(self) -> None:
        """``unapproved-debt``: each debt with ``board_approved: false`` when the policy requires approval."""
        if not self.ctx.manifest.policies.debt_requires_board_approval:
            return
        for entity in self.ctx.manifest.entities:
            for index, debt in enumerate(entity.debts):
                if debt.board_approved:
                    continue
                key = self.ctx.entity_key(entity.id, f"debts[{index}]")
                evidence = [
                    f"{debt.lender}: principal {money_text(debt.principal, self.cur)}, board_approved: false ({key})",
                    f"policy: {self.ctx.manifest_key('policies.debt_requires_board_approval')} is true",
                ]
                owed = self.ledger.liabilities.get(entity.id)
                if owed is not None:
                    evidence.append(f"the ledger's Liabilities rows net to {money_text(owed, self.cur)} owed")
                self.results.find(Finding(
                    "unapproved-debt", "high", f"{entity.name} carries debt the board has not approved ({debt.lender})",
                    entity=entity.id, evidence=tuple(evidence), amount=debt.principal, file=self.ctx.manifest_file,
                    subject=f"debt {debt.lender}",
                    recommendation="Put the loan to the board for approval or repay it.",
                ))  # fmt: skip

    def cash_review(self) -> None:
        """``cash-review-overdue``: an entity's newest ledger row is older than the review cadence allows."""
        cadence = self.ctx.manifest.policies.cash_review
        if cadence is None:
            return
        grace = REVIEW_GRACE_DAYS[cadence]
        for e in self.with_ledger:
            date, file, line = self.ledger.newest[e]
            age = (self.ctx.as_of - date).days
            if age <= grace:
                continue
            self.results.find(Finding(
                "cash-review-overdue", "medium",
                f"{self._name(e)}'s ledger is {age} days old: a {cadence} cash review cannot be done on it",
                entity=e,
                evidence=(f"newest ledger row dated {date.isoformat()}, {age} days before {self.as_of}",
                          f"policy: cash_review {cadence} ({self.ctx.manifest_key('policies.cash_review')}); "
                          f"overdue after {grace} days"),
                file=file, line=line, subject="ledger",
                recommendation="Bring the ledger up to date and review the cash position.",
            ))  # fmt: skip


def analyze(ctx: Context) -> Results:
    """The finance figures and findings of one portfolio as of ``ctx.as_of``."""
    return _Finance(ctx).run()
