"""Comparisons of a headline figure: the same figure a period earlier, a year earlier, and its target.

A comparison is never a second formula. The earlier value of a figure is *the same figure computed by the same
analysis as of an earlier date* (:meth:`Context.at`): ``cash.portfolio`` a month before is ``cash.portfolio`` of
the portfolio as of ``as_of`` minus one month, with every row dated after that date left out, exactly as the
contract cuts a run at its ``as_of``. A figure whose id names a month (``pnl.qosd.2026-10.revenue``) is compared
with the same id for the month that many months earlier.

:data:`RULES` says, for each comparable figure, which analysis computes it, which dated facts it reads and over
what window, and how long its period is. An earlier value is given only where the data covers that window at
the earlier date (the source's first row is on or before the window's first day): a ledger that starts in March
has no "a year before" in November, rather than a misleading zero. Targets come from the manifest (the runway
policy minimum) and from the revenue targets of the finance analysis, as they stood in the target's month.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Literal

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, add_months, last_complete_months
from execintel.analysis.recurring import resolve_sources

Basis = Literal["previous", "year_ago", "target"]
Period = Literal["day", "month", "quarter", "year"]
Window = Literal["to_date", "ttm", "last3", "month"]
Table = Literal["transactions", "events", "cloud_costs"]
PERIOD_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
_FIRST_DAY = {  # the date each facts table is dated by, as SQL (the earliest decides whether data exists)
    "transactions": "date",
    "events": "CAST(ts AS DATE)",
    "cloud_costs": "CAST(month || '-01' AS DATE)",
}


@dataclass(frozen=True)
class Rule:
    """How one kind of figure compares with its past: computed by ``analysis``, from ``table`` over ``window``.

    ``pattern`` matches the figure id; its group ``entity`` (when present) names the entity whose data must
    cover the window (else any entity's), its group ``month`` a ``YYYY-MM`` that moves with the period.
    ``target`` names where a target comes from, if anywhere.
    """

    pattern: str
    analysis: str
    table: Table
    period: Period
    window: Window
    target: Literal["min_runway", "revenue_target"] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled ``pattern``."""
        return _compiled(self.pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_E = r"(?P<entity>[a-z0-9-]+)"
_M = r"(?P<month>\d{4}-\d{2})"
RULES: tuple[Rule, ...] = (
    Rule(rf"cash\.{_E}", "finance", "transactions", "month", "to_date"),
    Rule(r"burn\.monthly(\.with_debt)?\.portfolio", "finance", "transactions", "quarter", "last3"),
    Rule(r"runway\.days(\.with_debt|\.self_funded)?\.portfolio", "finance", "transactions", "quarter", "last3",
         target="min_runway"),
    Rule(rf"(revenue|expenses)\.ttm\.{_E}", "finance", "transactions", "year", "ttm"),
    Rule(r"contributions\.ttm\.portfolio", "finance", "transactions", "year", "ttm"),
    Rule(rf"(revenue|opex)\.monthly\.{_E}", "finance", "transactions", "quarter", "last3"),
    Rule(rf"pnl\.{_E}\.{_M}\.revenue", "finance", "transactions", "month", "month", target="revenue_target"),
    Rule(rf"pnl\.{_E}\.{_M}\.(cogs|opex|net)", "finance", "transactions", "month", "month"),
    Rule(r"cloud\.spend\.monthly", "cloud", "cloud_costs", "quarter", "last3"),
    Rule(rf"cloud\.spend\.month\.{_M}", "cloud", "cloud_costs", "month", "month"),
    Rule(rf"deferred_revenue\.{_E}", "accounting", "transactions", "month", "to_date"),
    Rule(rf"audit\.(missing_receipts|uncategorized)\.(count|amount)(\.{_E})?", "accounting", "transactions",
         "month", "to_date"),
    Rule(rf"funnel\.{_E}\.(leads|signups|bookings)", "marketing", "events", "year", "ttm"),
    Rule(rf"property\.{_E}\.(units\.occupied|occupancy|rent_roll\.monthly)", "property", "events", "month",
         "to_date"),
    Rule(rf"property\.{_E}\.(occupancy|vacancy\.days|vacancy_loss|rent\.collected|expenses|opex|noi|capex|"
         r"debt_service|cash_flow\.after_debt)\.ttm", "property", "transactions", "year", "ttm"),
    Rule(rf"delivery\.{_E}\.(jobs|jobs\.completed|nautical_miles|revenue|costs|margin|margin_ratio)\.ttm",
         "delivery", "events", "year", "ttm"),
    Rule(rf"billing\.{_E}\.(contracted|invoiced|under_billed|collected)\.ttm", "billing", "events", "year", "ttm"),
    Rule(rf"billing\.{_E}\.receivables\.(outstanding|overdue)", "billing", "events", "month", "to_date"),
)  # fmt: skip


def rule_for(figure_id: str) -> Rule | None:
    """The first rule whose pattern matches the whole id, or None (the figure has no comparison)."""
    return next((r for r in RULES if r.regex.fullmatch(figure_id)), None)


@dataclass(frozen=True)
class Comparison:
    """One comparison of a figure: the earlier (or target) value as a figure, or why there is none."""

    basis: Basis
    label: str  # how a reader names it: "a month before (2026-10-15)", "policy minimum"
    figure: Figure | None  # its id is ``comparison.<basis>.<figure id>``
    as_of: dt.date | None = None  # the date the earlier figure is computed as of
    reason: str | None = None  # why there is no figure
    direction: Literal["at_least"] | None = None  # for a target: the figure meets it when at least the target


def comparison_id(basis: str, figure_id: str) -> str:
    """``comparison.previous.cash.portfolio``: the id of a comparison figure."""
    return f"comparison.{basis}.{figure_id}"


def _shift_month(month: str, months: int) -> str:
    first = add_months(dt.date.fromisoformat(month + "-01"), months)
    return f"{first.year:04d}-{first.month:02d}"


def _first_day(window: Window, as_of: dt.date, month: str | None) -> dt.date:
    """The first day the figure reads at ``as_of``: the data must reach back to it."""
    if window == "ttm":
        return add_months(as_of, -12) + dt.timedelta(days=1)
    if window == "last3":
        return dt.date.fromisoformat(last_complete_months(as_of, 3)[0] + "-01")
    if window == "month" and month is not None:
        return dt.date.fromisoformat(month + "-01")
    return as_of


def _earliest(ctx: Context, table: Table, entity: str | None) -> dt.date | None:
    """The first dated row of ``table`` (of ``entity`` when it has rows of its own)."""
    firsts = ctx.memo(f"comparisons.first_day.{table}", lambda: _first_days(ctx, table))
    if entity is not None and entity != "portfolio" and firsts.get(entity) is not None:
        return firsts[entity]
    return min((first for first in firsts.values() if first is not None), default=None)


def _first_days(ctx: Context, table: Table) -> dict[str | None, dt.date | None]:
    """The first dated row of ``table`` by entity (None: rows of no entity), in one pass over the table.

    Every compared figure asks for the first day of its entity's data: one query per figure scanned the whole
    table each time (entities x rows); the portfolio's first day is the least of the entities'.
    """
    column = _FIRST_DAY[table]
    return dict(ctx.query(f"SELECT entity, min({column}) FROM {table} GROUP BY entity"))


def _earlier(ctx: Context, figure: Figure, rule: Rule, basis: Basis, back: tuple[int, int]) -> Comparison:
    """``figure`` as computed ``back`` = (months, days) before ``ctx.as_of``."""
    months, days = back
    match = rule.regex.fullmatch(figure.id)
    assert match is not None  # noqa: S101 - the rule was chosen by this match
    groups = match.groupdict()
    month = groups.get("month")
    when = ctx.as_of - dt.timedelta(days=days) if days else add_months(ctx.as_of, -months)
    wanted = figure.id
    if month is not None:
        month = _shift_month(month, -months)
        wanted = figure.id[: match.start("month")] + month + figure.id[match.end("month") :]
    label = _label(basis, rule.period if basis == "previous" else "year", when, month, days)
    first = _earliest(ctx, rule.table, groups.get("entity"))
    needed = _first_day(rule.window, when, month)
    if first is None or first > needed:
        start = "has no rows" if first is None else f"starts {first.isoformat()}"
        return Comparison(basis, label, None, when, f"the {rule.table.replace('_', ' ')} data {start}, after "
                          f"{needed.isoformat()}")  # fmt: skip
    earlier = ctx.at(when)
    found = earlier.results(rule.analysis).figures.get(wanted)
    if found is None or not _numeric(found.value):
        return Comparison(basis, label, None, when, f"{wanted} is not computed as of {when.isoformat()}")
    return Comparison(basis, label, Figure(
        comparison_id(basis, figure.id), found.value, found.unit,
        f"{wanted} as of {when.isoformat()} ({label}): {found.formula}", resolve_sources(earlier, found.sources),
        f"{figure.name or figure.id}, {label}", figure.entity,
    ), when)  # fmt: skip


def _label(basis: Basis, period: str, when: dt.date, month: str | None, days: int) -> str:
    if month is not None:
        return month
    if days:
        return f"the day before ({when.isoformat()})"
    if basis == "year_ago" or period == "year":
        return f"a year before ({when.isoformat()})"
    if period == "quarter":
        return f"three months before ({when.isoformat()})"
    return f"a month before ({when.isoformat()})"


def _numeric(value: object) -> bool:
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def _target(ctx: Context, figure: Figure, rule: Rule) -> Comparison | None:
    """The figure's target, where the manifest or the finance analysis sets one."""
    if rule.target == "min_runway":
        policy = ctx.manifest.policies.min_runway_days
        if policy is None:
            return None
        return Comparison("target", "policy minimum", Figure(
            comparison_id("target", figure.id), policy, "days",
            "policies.min_runway_days: the least runway the portfolio's policy allows",
            (ctx.manifest_key("policies.min_runway_days"),), "Policy minimum runway",
        ), ctx.as_of, direction="at_least")  # fmt: skip
    if rule.target == "revenue_target":
        match = rule.regex.fullmatch(figure.id)
        assert match is not None  # noqa: S101
        entity, month = match["entity"], match["month"]
        # the target of a month as it stood in that month: from the context whose as_of falls in it
        back = (ctx.as_of.year * 12 + ctx.as_of.month) - (int(month[:4]) * 12 + int(month[5:]))
        if back < 0:
            return None
        when = add_months(ctx.as_of, -back)
        earlier = ctx.at(when)
        found = earlier.results("finance").figures.get(f"target.revenue.{entity}.{month}")
        if found is None:
            return None
        return Comparison("target", f"target for {month}", Figure(
            comparison_id("target", figure.id), found.value, found.unit,
            f"target.revenue.{entity}.{month} as of {when.isoformat()} (the target as it stood in {month}): "
            f"{found.formula}", resolve_sources(earlier, found.sources), f"Revenue target, {month}", figure.entity,
        ), when, direction="at_least")  # fmt: skip
    return None


def compare(ctx: Context, figure: Figure, period: Period | None = None) -> list[Comparison]:
    """The comparisons of ``figure``: previous period, a year before, target (each present or with its reason).

    ``period`` overrides the rule's previous period (the daily digest compares with the day before). A figure
    no rule covers has none; a figure whose previous period is a year has one "a year before" comparison.
    """
    rule = rule_for(figure.id)
    if rule is None or not _numeric(figure.value):
        return []
    chosen = period or rule.period
    out: list[Comparison] = []
    if chosen == "day":
        out.append(_earlier(ctx, figure, rule, "previous", (0, 1)))
    elif chosen != "year":
        out.append(_earlier(ctx, figure, rule, "previous", (PERIOD_MONTHS[chosen], 0)))
    out.append(_earlier(ctx, figure, rule, "year_ago", (12, 0)))
    target = _target(ctx, figure, rule)
    if target is not None:
        out.append(target)
    return out
