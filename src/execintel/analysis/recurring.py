"""Recurring payments and receipts: which ledger series repeat, at what cadence, and when they come next.

A *series* is the rows of one entity with one payee on one account (``Expenses:Slip-Rent`` paid to the marina is
one series, ``Expenses:Utilities`` paid to the marina another). Its *payment days* are its distinct dates up to
``as_of``; the gaps between consecutive payment days give its cadence. The accounting report classifies expenses
with it and the CFO's cash forecast projects both sides with :meth:`Recurring.projected`. The rules, with their
numbers, are in ``docs/reports/accounting.md`` ("Recurring expenses"); the constants below are those numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from execintel.analysis.model import add_months

if TYPE_CHECKING:
    from execintel.analysis.context import Context

Side = Literal["expenses", "income", "debt"]
ZERO = Decimal(0)


DEFERRED = "\x00deferred\x00"  # starts the placeholder reference of a lean context's deferred provenance
_Deferred = tuple[str, list[Any], list[Any]]  # a deferred query: its SQL, parameters and the keys it has


def grouped_sources(ctx: Context, keyed_sql: str, params: Sequence[Any] = ()) -> dict[str, tuple[str, ...]]:
    """Provenance (``file:2-40,44``) grouped by key, from a query with columns ``k``, ``f`` (file), ``l`` (line).

    The line ranges are built in SQL (gaps and islands), so a million-row ledger costs one pass; the references
    read exactly as :func:`compress_lines` writes them.

    In a lean context (an earlier date's, for comparisons) only the keys are read: each key's references are one
    placeholder that :func:`resolve_sources` turns into the same references when a comparison reads the figure.
    Most figures of an earlier date are never read, and their line ranges were most of its cost.
    """
    if ctx.lean:
        keys = [row[0] for row in ctx.query(f"SELECT DISTINCT k FROM ({keyed_sql}) WHERE f IS NOT NULL", params)]
        deferred: list[_Deferred] = ctx.memo("recurring.deferred", list)
        deferred.append((keyed_sql, list(params), keys))
        return {key: (f"{DEFERRED}{len(deferred) - 1}\x00{index}",) for index, key in enumerate(keys)}
    return _grouped_sources(ctx, keyed_sql, params)


def resolve_sources(ctx: Context, sources: Sequence[str]) -> tuple[str, ...]:
    """``sources`` of a figure of ``ctx`` with each deferred placeholder replaced by the references it stands for
    (see :func:`grouped_sources`): exactly what a full run as of that date cites."""
    if not any(ref.startswith(DEFERRED) for ref in sources):
        return tuple(sources)
    deferred: list[_Deferred] = ctx.memo("recurring.deferred", list)
    resolved: dict[str, tuple[str, ...]] = ctx.memo("recurring.resolved", dict)
    asked: set[int] = ctx.memo("recurring.asked", set)  # deferred queries a key was resolved of
    out: list[str] = []
    for ref in sources:
        if not ref.startswith(DEFERRED):
            out.append(ref)
            continue
        if ref not in resolved:
            token, index = (int(part) for part in ref[len(DEFERRED) :].split("\x00"))
            keyed_sql, params, keys = deferred[token]
            if token not in asked:  # most deferred queries are read for one key: only its rows
                asked.add(token)
                key = keys[index]
                where, extra = ("k IS NULL", []) if key is None else ("k = ?", [key])
                found = _grouped_sources(ctx, f"SELECT * FROM ({keyed_sql}) WHERE {where}", [*params, *extra])
                resolved[ref] = found.get(key, ())
            else:  # a second key of the same query (one per entity, say): every key in one pass
                found = _grouped_sources(ctx, keyed_sql, params)
                prefix = ref[: ref.rindex("\x00") + 1]
                for i, key in enumerate(keys):
                    resolved.setdefault(f"{prefix}{i}", found.get(key, ()))
        out.extend(resolved[ref])
    return tuple(out)


def _grouped_sources(ctx: Context, keyed_sql: str, params: Sequence[Any]) -> dict[str, tuple[str, ...]]:
    rows = ctx.query(
        f"""WITH s AS (SELECT k, f, l FROM ({keyed_sql}) WHERE f IS NOT NULL),
             r AS (SELECT k, f, l, l - dense_rank() OVER (PARTITION BY k, f ORDER BY l) AS g FROM s
                   WHERE l IS NOT NULL),
             spans AS (SELECT k, f, min(l) AS a, max(l) AS b FROM r GROUP BY k, f, g)
        SELECT k, f, string_agg(CASE WHEN a = b THEN CAST(a AS VARCHAR) ELSE CAST(a AS VARCHAR) || '-' ||
                                CAST(b AS VARCHAR) END, ',' ORDER BY a) FROM spans GROUP BY k, f
        UNION ALL SELECT DISTINCT k, f, NULL FROM s WHERE l IS NULL""",
        list(params),
    )
    grouped: dict[str, dict[str, str | None]] = defaultdict(dict)
    for key, file, text in rows:
        if text is not None or file not in grouped[key]:
            grouped[key][file] = text
    return {
        key: tuple(f if files[f] is None else f"{f}:{files[f]}" for f in sorted(files))
        for key, files in grouped.items()
    }


@dataclass(frozen=True)
class Cadence:
    """A calendar rhythm: its gap range in days (both ends included), how many such gaps prove it, its step."""

    name: str
    low: int
    high: int
    min_gaps: int
    days: int  # nominal interval, for "still active" and the monthly equivalent
    months: int  # calendar step of the projection (0: a step of ``days`` days)
    per_year: int  # occurrences a year, for the monthly equivalent


# Shortest first: the first cadence that fits a series is its cadence. The ranges do not overlap.
CADENCES = (
    Cadence("weekly", 5, 9, 3, 7, 0, 52),
    Cadence("twice-monthly", 12, 18, 3, 15, 1, 24),  # projected on the days of month of the last two payments
    Cadence("monthly", 25, 35, 2, 30, 1, 12),
    Cadence("quarterly", 80, 100, 2, 91, 3, 4),
    Cadence("twice-yearly", 165, 200, 2, 182, 6, 2),
    Cadence("yearly", 350, 380, 1, 365, 12, 1),
)
BY_NAME = {c.name: c for c in CADENCES}
YEARLY = BY_NAME["yearly"]
PER_JOB = "per-job"
MIN_SHARE = Decimal("0.5")  # more than half of a series' gaps must be in its cadence's range
MAX_INSTALMENTS = 4  # a yearly series pays at most this many instalments in a year (more is not "yearly")
PER_JOB_MIN_DAYS = 2  # a per-job cost has been paid on at least this many days
ACTIVE_FACTOR = Decimal("1.5")  # a series is active while as_of - last payment <= 1.5 x its nominal interval
AMOUNT_DAYS = 3  # the typical amount is the mean of the last 3 payment days' totals
COGS = "(account = 'Expenses:COGS' OR starts_with(account, 'Expenses:COGS:'))"
# Who was paid (or who paid): the counterparty, or the description when the counterparty is empty (case and
# surrounding spaces ignored).
PAYEE = "lower(trim(coalesce(nullif(trim(counterparty), ''), description, '')))"
PAYEE_SHOWN = "coalesce(nullif(trim(counterparty), ''), trim(description), '')"
# The rows of the series listed in three parameters (entities, accounts, payees), joined to the facts.
KEYED = (
    "JOIN (SELECT unnest(?::VARCHAR[]) AS k_entity, unnest(?::VARCHAR[]) AS k_account, "
    f"unnest(?::VARCHAR[]) AS k_payee) ON entity = k_entity AND account = k_account AND {PAYEE} = k_payee"
)
SIDES: dict[str, str] = {
    "expenses": "split_part(account, ':', 1) = 'Expenses' AND amount < 0",
    "income": "split_part(account, ':', 1) = 'Income' AND amount > 0",
    "debt": "split_part(account, ':', 1) = 'Liabilities' AND amount < 0",  # loan repayments (the cash forecast)
}


@dataclass(frozen=True)
class Recurring:
    """One recurring series: who, which account, its cadence, its typical amount and when it comes next."""

    entity: str
    account: str
    counterparty: str  # the payee as the ledger shows it (counterparty, else description)
    payee: str  # the normalised payee the series is grouped by
    cadence: str  # weekly | twice-monthly | monthly | quarterly | twice-yearly | yearly | per-job
    amount: Decimal  # typical amount of one occurrence, cash convention (negative = money out)
    first_date: dt.date
    last_date: dt.date
    payments: int  # distinct payment days up to as_of
    active: bool
    next_date: dt.date | None  # the first projected date after as_of (None for per-job and inactive series)
    anchors: tuple[tuple[dt.date, Decimal], ...] = ()  # the occurrences a projection repeats
    sources: tuple[str, ...] = ()
    as_of: dt.date | None = None

    @property
    def monthly(self) -> Decimal | None:
        """What the series comes to in an average month (cash convention); None for per-job costs."""
        found = BY_NAME.get(self.cadence)
        if found is None:
            return None
        if found is YEARLY:
            return sum((a for _, a in self.anchors), ZERO) / 12
        return self.amount * found.per_year / 12

    def projected(self, until: dt.date) -> list[tuple[dt.date, Decimal]]:
        """Every projected occurrence (date, signed amount) with ``as_of < date <= until``, by date.

        Empty for per-job costs and for series that are no longer active.
        """
        cadence = BY_NAME.get(self.cadence)
        if cadence is None or not self.active or self.as_of is None:
            return []
        out: list[tuple[dt.date, Decimal]] = []
        for anchor, amount in self.anchors:
            step = 1
            while True:
                day = (add_months(anchor, cadence.months * step) if cadence.months
                       else anchor + dt.timedelta(days=cadence.days * step))  # fmt: skip
                if day > until:
                    break
                if day > self.as_of:
                    out.append((day, amount))
                step += 1
        return sorted(out)


def _cadence(gaps: dict[str, int], total: int) -> Cadence | None:
    """The first calendar cadence whose range holds at least ``min_gaps`` gaps and more than half of all gaps."""
    for cadence in CADENCES:
        hits = gaps[cadence.name]
        if hits >= cadence.min_gaps and hits > MIN_SHARE * total:
            return cadence
    return None


def instalments(days: Sequence[dt.date]) -> list[dt.date] | None:
    """The payment days of the last 12 months when ``days`` repeat yearly in instalments, else None.

    Yearly in instalments: some payment day has another 350-380 days before it, every payment day with a year of
    history before it has one, and the 12 months ending at the last payment hold at most 4 payment days.
    """
    if len(days) < 2:
        return None
    first, last = days[0], days[-1]

    def year_before(day: dt.date) -> bool:
        return any(YEARLY.low <= (day - other).days <= YEARLY.high for other in days)

    seasoned = [d for d in days if (d - first).days >= YEARLY.high]
    matched = [d for d in days if year_before(d)]
    recent = [d for d in days if d > add_months(last, -12)]
    if not matched or any(not year_before(d) for d in seasoned) or len(recent) > MAX_INSTALMENTS:
        return None
    return recent


def _series_sql(side: Side) -> str:
    """Per series: payment days, gap counts per cadence range, the last days and their totals."""
    counts = ", ".join(f'count(*) FILTER (WHERE gap BETWEEN {c.low} AND {c.high}) AS "{c.name}"' for c in CADENCES)
    return f"""
        WITH r AS (SELECT entity, account, {PAYEE} AS payee, {PAYEE_SHOWN} AS shown, date, amount FROM tx
                   WHERE {SIDES[side]}),
             d AS (SELECT entity, account, payee, min(shown) AS shown, date, sum(amount) AS amount FROM r
                   WHERE payee <> '' GROUP BY entity, account, payee, date),
             g AS (SELECT *, date_diff('day', lag(date) OVER w, date) AS gap,
                          row_number() OVER (PARTITION BY entity, account, payee ORDER BY date DESC) AS back,
                          max(date) OVER (PARTITION BY entity, account, payee) AS series_last
                   FROM d WINDOW w AS (PARTITION BY entity, account, payee ORDER BY date))
        SELECT entity, account, payee, min(shown), count(*), min(date), max(date),
               count(*) FILTER (WHERE date > series_last - INTERVAL 12 MONTH), bool_and({COGS}),
               list(date ORDER BY date) FILTER (WHERE back <= {AMOUNT_DAYS}),
               list(amount ORDER BY date) FILTER (WHERE back <= {AMOUNT_DAYS}), count(gap), {counts}
        FROM g GROUP BY entity, account, payee ORDER BY entity, account, payee"""


@dataclass(frozen=True)
class _Series:
    """What the first query knows about one series."""

    entity: str
    account: str
    payee: str
    shown: str
    days: int
    first: dt.date
    last: dt.date
    last_year: int  # payment days in the 12 months ending at the last payment
    cogs: bool
    recent: tuple[tuple[dt.date, Decimal], ...]  # the last payment days with their totals

    @property
    def key(self) -> tuple[str, str, str]:
        """(entity, account, payee)."""
        return self.entity, self.account, self.payee

    @property
    def typical(self) -> Decimal:
        """The mean of the last payment days' totals."""
        return sum((a for _, a in self.recent), ZERO) / len(self.recent)


def recurring(ctx: Context, side: Side = "expenses") -> list[Recurring]:
    """The recurring series of one side of the ledger (expenses: amount < 0; income: amount > 0), by entity.

    A series is recurring when its gaps fit a calendar cadence (:data:`CADENCES`), when it repeats yearly in
    instalments (:func:`instalments`), or, for expenses only, when it is on ``Expenses:COGS`` (a variable cost,
    CONTRACT section 2) and was paid on at least 2 days: a per-job cost. Found once per context and side (the
    accounting classification and the cash forecast read the same series).
    """
    return list(ctx.memo(f"recurring.series.{side}", lambda: _recurring(ctx, side)))


def _recurring(ctx: Context, side: Side) -> list[Recurring]:
    found: list[Recurring] = []
    pending: list[_Series] = []  # no calendar cadence, a year or more of history: yearly in instalments?
    for entity, account, payee, shown, days, first, last, last_year, cogs, dates, amounts, gaps, *counts in ctx.query(
        _series_sql(side)
    ):
        series = _Series(entity, account, payee, shown or payee, days, first, last, last_year, bool(cogs),
                         tuple(zip(dates, amounts, strict=True)))  # fmt: skip
        cadence = _cadence(dict(zip((c.name for c in CADENCES), counts, strict=True)), gaps)
        if cadence is not None:
            # twice a month: on the days of month of the last two payments; otherwise from the last payment
            anchors = series.recent[-2:] if cadence.name == "twice-monthly" else series.recent[-1:]
            found.append(_make(ctx, series, cadence, tuple((d, series.typical) for d, _ in anchors)))
        elif (last - first).days >= YEARLY.low and last_year <= MAX_INSTALMENTS:
            pending.append(series)
        elif side == "expenses" and series.cogs and days >= PER_JOB_MIN_DAYS:
            found.append(_make(ctx, series, None, ()))
    if pending:
        history: dict[tuple[str, str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for entity, account, payee, date, amount in ctx.query(
            f"""SELECT entity, account, {PAYEE} AS payee, date, sum(amount) FROM tx {KEYED} WHERE {SIDES[side]}
                GROUP BY ALL ORDER BY date""",
            [[s.entity for s in pending], [s.account for s in pending], [s.payee for s in pending]],
        ):
            history[(entity, account, payee)].append((date, amount))
        for series in pending:
            paid = dict(history[series.key])
            recent = instalments(sorted(paid))
            if recent is not None:
                found.append(_make(ctx, series, YEARLY, tuple((d, paid[d]) for d in recent)))
            elif side == "expenses" and series.cogs and series.days >= PER_JOB_MIN_DAYS:
                found.append(_make(ctx, series, None, ()))
    if not found:
        return []
    sources = grouped_sources(
        ctx,
        f"""SELECT entity || '|' || account || '|' || {PAYEE} AS k, source_file AS f, source_line AS l
            FROM tx {KEYED} WHERE {SIDES[side]}""",
        [[r.entity for r in found], [r.account for r in found], [r.payee for r in found]],
    )
    found.sort(key=lambda r: (r.entity, r.account, r.payee))
    return [replace(r, sources=sources.get(f"{r.entity}|{r.account}|{r.payee}", ())) for r in found]


def _make(ctx: Context, series: _Series, cadence: Cadence | None,
          anchors: tuple[tuple[dt.date, Decimal], ...]) -> Recurring:  # fmt: skip
    """The recurring series with its activity and next date worked out."""
    typical = sum((a for _, a in anchors), ZERO) / len(anchors) if cadence is YEARLY and anchors else series.typical
    if cadence is None:  # per-job: paid in the 12 months ending at as_of
        active = series.last > ctx.window_start
    else:
        active = Decimal((ctx.as_of - series.last).days) <= ACTIVE_FACTOR * cadence.days
    draft = Recurring(series.entity, series.account, series.shown, series.payee,
                      cadence.name if cadence else PER_JOB, typical, series.first, series.last, series.days, active,
                      None, anchors, (), ctx.as_of)  # fmt: skip
    upcoming = draft.projected(add_months(ctx.as_of, 24))
    return replace(draft, next_date=upcoming[0][0] if upcoming else None)
