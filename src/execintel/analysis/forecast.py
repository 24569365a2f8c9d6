"""The 13-week cash forecast (direct method), with a base and a low case.

Week k (1..13) holds the days ``as_of + 7(k-1) + 1 .. as_of + 7k``. It opens with the cash in cash and bank
accounts (``cash.bank.portfolio``: no brokerage or retirement balance), then adds, week by week:

- recurring receipts and payments, projected at their detected cadence (:mod:`execintel.analysis.recurring`,
  shared with the accounting report), loan repayments (Liabilities) and interest as debt service;
- receivables by due date (open invoices of the billing audit); a current invoice stands for the next receipt of
  that client's recurring series, which is not projected a second time;
- the rest at its recent run rate: receipts and payments of the last 3 complete months that belong to no
  projected series, per day, times 7.

It assumes no new owner contributions and no new loans. The low case takes a quarter off recurring receipts and
half off the other receipts, collects invoices 4 weeks late and never those more than 60 days overdue; payments
are as in the base case. The first week whose closing cash is below the policy minimum (the cash that covers
``policies.min_runway_days`` at the current burn; 0 without a policy) is flagged. The method is documented in
``docs/reports/cfo.md``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execintel.analysis.billing import BillingResults
from execintel.analysis.context import Context
from execintel.analysis.expenselines import expense_line
from execintel.analysis.finance import money_text
from execintel.analysis.model import Figure, Finding, Results, compress_lines
from execintel.analysis.recurring import PAYEE, Recurring, recurring

ZERO = Decimal(0)
WEEKS = 13
CASES = ("base", "low")
LOW_RECURRING_RECEIPTS = Decimal("0.75")  # the low case collects three quarters of each recurring receipt
LOW_OTHER_RECEIPTS = Decimal("0.5")  # and half the run rate of other receipts
LOW_DELAY_DAYS = 28  # invoices are paid 4 weeks after the base case's date
BASE_WRITE_OFF_DAYS = 90  # an invoice more than this many days overdue is not counted on (base case)
LOW_WRITE_OFF_DAYS = 60  # ... low case
# Forecast lines: (id, title, receipts?)
LINES = (
    ("recurring-receipts", "Recurring receipts", True),
    ("receivables", "Invoices due (receivables)", True),
    ("other-receipts", "Other receipts (recent run rate)", True),
    ("recurring-payments", "Recurring payments", False),
    ("debt-service", "Debt service (loan repayments and interest)", False),
    ("other-payments", "Other payments (recent run rate)", False),
)
TITLES = {key: title for key, title, _ in LINES}


@dataclass(frozen=True)
class Item:
    """One projected cash movement: a line, a week, an amount per case (cash convention), where it comes from."""

    line: str
    week: int
    base: Decimal
    low: Decimal
    label: str
    sources: tuple[str, ...] = ()


@dataclass
class ForecastResults(Results):
    """Figures and findings, plus the projected items and series the CFO report lists."""

    weeks: list[dt.date] = field(default_factory=list)  # the first day of each week
    items: list[Item] = field(default_factory=list)
    series: list[Recurring] = field(default_factory=list)  # the projected recurring series
    floor: Decimal = ZERO


class _Forecast:
    """Builds the forecast for one context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cur = ctx.currency
        self.as_of = ctx.as_of
        self.end = ctx.as_of + dt.timedelta(days=7 * WEEKS)
        self.res = ForecastResults(weeks=[ctx.as_of + dt.timedelta(days=7 * k + 1) for k in range(WEEKS)])
        self.finance = ctx.results("finance").figures

    def week(self, day: dt.date) -> int | None:
        """The week (1..13) of a day, None outside the horizon."""
        if day <= self.as_of or day > self.end:
            return None
        return ((day - self.as_of).days + 6) // 7

    def run(self) -> ForecastResults:
        """The items, the weekly figures per case, the flagged week."""
        if "cash.bank.portfolio" not in self.finance:
            return self.res
        skip = self.receivables()
        self.recurring_series(skip)
        self.run_rate()
        self.figures()
        return self.res

    # --- receivables ---------------------------------------------------------------------------
    def receivables(self) -> dict[tuple[str, str], int]:
        """Open invoices by due date; returns, per (entity, client), the current invoices (each stands for the
        next receipt of that client's recurring series)."""
        billing = self.ctx.results("billing")
        current: dict[tuple[str, str], int] = defaultdict(int)
        if not isinstance(billing, BillingResults):
            return current
        for entity, detail in billing.entities.items():
            for invoice in detail.invoices:
                owed = invoice.outstanding
                if owed <= 0:
                    continue
                overdue = invoice.days_overdue(self.as_of)
                if invoice.due >= self.as_of:
                    current[(entity, invoice.client.lower())] += 1
                base_day = invoice.due if invoice.due > self.as_of else self.as_of + dt.timedelta(days=1)
                base = self.week(base_day) if overdue <= BASE_WRITE_OFF_DAYS else None
                low = self.week(base_day + dt.timedelta(days=LOW_DELAY_DAYS)) if overdue <= LOW_WRITE_OFF_DAYS else None
                label = f"{entity}: invoice {invoice.invoice} to {invoice.client}, due {invoice.due.isoformat()}"
                refs = tuple(f"{f}:{ln}" if ln is not None else str(f) for f, ln in (invoice.ref,) if f)
                if base is not None:
                    self.res.items.append(Item("receivables", base, owed, ZERO, label, refs))
                if low is not None:
                    self.res.items.append(Item("receivables", low, ZERO, owed, label, refs))
        return current

    # --- recurring series ----------------------------------------------------------------------
    def recurring_series(self, skip: dict[tuple[str, str], int]) -> None:
        """Every active recurring series projected at its cadence (receipts, payments, debt service)."""
        expenses = recurring(self.ctx)  # the accounting classification's series (found once per context)
        for side, series_list in (("income", recurring(self.ctx, side="income")), ("expenses", expenses),
                                  ("debt", recurring(self.ctx, side="debt"))):  # fmt: skip
            for series in series_list:
                occurrences = series.projected(self.end)
                if not occurrences:
                    continue
                if side == "income":
                    line = "recurring-receipts"
                    for key in ((series.entity, series.payee), (series.entity, series.counterparty.lower())):
                        dropped = min(skip.get(key, 0), len(occurrences))
                        occurrences = occurrences[dropped:]
                        skip[key] = skip.get(key, 0) - dropped
                elif side == "debt" or expense_line(series.account) == "interest":
                    line = "debt-service"
                else:
                    line = "recurring-payments"
                self.res.series.append(series)
                label = f"{series.entity}: {series.counterparty or series.payee}, {series.account} ({series.cadence})"
                for day, amount in occurrences:
                    week = self.week(day)
                    if week is None:
                        continue
                    low = amount * LOW_RECURRING_RECEIPTS if line == "recurring-receipts" else amount
                    self.res.items.append(Item(line, week, amount, low, label, series.sources))

    # --- the rest at its run rate --------------------------------------------------------------
    def run_rate(self) -> None:
        """Receipts and payments of the last 3 complete months outside every projected series, per week."""
        months = self.ctx.complete_months(3)
        first = dt.date.fromisoformat(months[0] + "-01")
        days = (self.as_of.replace(day=1) - first).days
        keys = {(s.entity, s.account, s.payee) for s in self.res.series}
        rows = self.ctx.query(
            f"""SELECT entity, account, {PAYEE} AS payee, split_part(account, ':', 1) AS root, sum(amount),
                       list(source_file || ':' || coalesce(CAST(source_line AS VARCHAR), ''))
                FROM tx WHERE date >= ? AND date < ? AND ((split_part(account, ':', 1) = 'Income' AND amount > 0)
                      OR (split_part(account, ':', 1) = 'Expenses' AND amount < 0))
                GROUP BY ALL""",
            [first, self.as_of.replace(day=1)],
        )
        totals = {"Income": ZERO, "Expenses": ZERO}
        refs: dict[str, list[str]] = {"Income": [], "Expenses": []}
        for entity, account, payee, root, total, lines in rows:
            if (entity, account, payee) in keys:
                continue
            totals[root] += total or ZERO
            refs[root] += [r for r in lines if r]
        for root, line, low_factor in (("Income", "other-receipts", LOW_OTHER_RECEIPTS),
                                       ("Expenses", "other-payments", Decimal(1))):  # fmt: skip
            weekly = totals[root] * 7 / days
            label = (f"{'receipts' if root == 'Income' else 'payments'} of {months[0]} to {months[-1]} outside the "
                     f"projected series: {money_text(totals[root], self.cur)} over {days} days, x 7")  # fmt: skip
            src = _compress(refs[root])
            for week in range(1, WEEKS + 1):
                self.res.items.append(Item(line, week, weekly, weekly * low_factor, label, src))

    # --- figures -------------------------------------------------------------------------------
    def figures(self) -> None:
        """Per case and week: receipts, payments, closing cash; line totals; the first week below the floor."""
        opening_fig = self.finance["cash.bank.portfolio"]
        opening = Decimal(opening_fig.value) if isinstance(opening_fig.value, Decimal | int) else ZERO
        self.add("forecast.opening.portfolio", opening, "cash.bank.portfolio (cash and bank accounts only)",
                 opening_fig.sources, "Cash at the start of the forecast (cash and bank accounts)")  # fmt: skip
        floor, floor_text, floor_src = self.floor()
        self.res.floor = floor
        all_src = tuple(dict.fromkeys(s for i in self.res.items for s in i.sources))
        for case in CASES:
            cash = opening
            first_below: int | None = None
            lowest: tuple[Decimal, int] | None = None
            for week in range(1, WEEKS + 1):
                mine = [i for i in self.res.items if i.week == week]
                values = [getattr(i, case) for i in mine]
                receipts = sum((v for v in values if v > 0), ZERO)
                payments = -sum((v for v in values if v < 0), ZERO)
                cash += receipts - payments
                src = tuple(dict.fromkeys(s for i in mine for s in i.sources))
                start = self.res.weeks[week - 1]
                span = f"week {week} ({start.isoformat()} .. {(start + dt.timedelta(days=6)).isoformat()})"
                self.add(f"forecast.{case}.week.{week:02d}.receipts", receipts,
                         f"sum of the {case} case's projected receipts dated in {span}", src,
                         f"Receipts, week {week}, {case} case")  # fmt: skip
                self.add(f"forecast.{case}.week.{week:02d}.payments", payments,
                         f"-sum of the {case} case's projected payments dated in {span}", src,
                         f"Payments, week {week}, {case} case")  # fmt: skip
                self.add(f"forecast.{case}.week.{week:02d}.closing", cash,
                         f"forecast.opening.portfolio + receipts - payments of weeks 1 .. {week}, {case} case",
                         (*opening_fig.sources, *all_src), f"Closing cash, week {week}, {case} case")  # fmt: skip
                if first_below is None and cash < floor:
                    first_below = week
                if lowest is None or cash < lowest[0]:
                    lowest = (cash, week)
            for key, title, _ in LINES:
                total = sum((getattr(i, case) for i in self.res.items if i.line == key), ZERO)
                src = tuple(dict.fromkeys(s for i in self.res.items if i.line == key for s in i.sources))
                self.add(f"forecast.{case}.{key}.total", total, f"sum over the 13 weeks of the {case} case's "
                         f"{title.lower()} (cash convention: payments negative)", src, f"{title}, 13 weeks, {case} "
                         "case")  # fmt: skip
            if first_below is not None and lowest is not None:
                self.res.add(Figure(f"forecast.{case}.first_week_below_minimum", first_below, "week",
                                    f"the first week whose closing cash is below {floor_text}", floor_src,
                                    f"First week below the minimum, {case} case"))  # fmt: skip
                if opening >= floor:  # already below at as_of: runway-below-policy says so, with its amount
                    self.finding(case, first_below, lowest, floor, floor_text)

    def floor(self) -> tuple[Decimal, str, tuple[str, ...]]:
        """The minimum cash the policy asks for: min_runway_days of the current burn (0 without a policy)."""
        policy = self.ctx.manifest.policies.min_runway_days
        burn = self.finance.get("burn.monthly.portfolio")
        if policy is None or burn is None or not isinstance(burn.value, Decimal | int) or burn.value <= 0:
            return ZERO, "0 (no runway policy, or no burn)", ()
        floor = Decimal(burn.value) * policy / 30
        sources = (*burn.sources, self.ctx.manifest_key("policies.min_runway_days"))
        self.add("forecast.minimum.portfolio", floor,
                 f"burn.monthly.portfolio * policies.min_runway_days ({policy}) / 30: the cash that covers the "
                 "policy's runway at the current burn", sources, "Policy minimum cash")  # fmt: skip
        return floor, f"forecast.minimum.portfolio ({money_text(floor, self.cur)})", sources

    def finding(self, case: str, week: int, lowest: tuple[Decimal, int], floor: Decimal, floor_text: str) -> None:
        """``forecast-below-minimum``: high when the base case dips, medium when only the low case does."""
        if case == "low" and any(f.kind == "forecast-below-minimum" for f in self.res.findings):
            return
        start = self.res.weeks[week - 1]
        shortfall = floor - lowest[0]
        self.res.find(Finding(
            "forecast-below-minimum", "high" if case == "base" else "medium",
            f"Cash falls below the minimum in week {week} (from {start.isoformat()}) of the 13-week forecast"
            + ("" if case == "base" else " in the low case"),
            evidence=(f"{case} case: closing cash of week {week} under {floor_text}",
                      f"lowest closing cash {money_text(lowest[0], self.cur)} in week {lowest[1]}: "
                      f"{money_text(shortfall, self.cur)} short of the minimum"),
            amount=shortfall, file=self.ctx.manifest_file, subject="13-week cash forecast",
            recommendation="Bring receipts forward (invoice and chase), defer payments, or arrange funding before "
                           "that week.",
        ))  # fmt: skip

    def add(self, fid: str, value: Decimal, formula: str, sources: Iterable[str], name: str) -> None:
        """Record a money figure of the portfolio."""
        src = tuple(dict.fromkeys(sources)) or (self.ctx.manifest_key("entities"),)
        self.res.add(Figure(fid, value, self.cur, formula, src, name))


def _compress(refs: list[str]) -> tuple[str, ...]:
    pairs: list[tuple[str | None, int | None]] = []
    for ref in refs:
        file, _, line = ref.rpartition(":")
        pairs.append((file, int(line)) if line.isdigit() else (ref, None))
    return compress_lines(pairs)


def analyze(ctx: Context) -> ForecastResults:
    """The 13-week cash forecast of a portfolio from ``ctx.as_of``."""
    return _Forecast(ctx).run()


def as_rows(res: ForecastResults, case: str) -> list[Any]:
    """(week start, receipts, payments, closing) per week of a case, from the figures."""
    return [[res.weeks[w - 1].isoformat(), *(res.figures[f"forecast.{case}.week.{w:02d}.{k}"].value
                                             for k in ("receipts", "payments", "closing"))]
            for w in range(1, WEEKS + 1)]  # fmt: skip
