"""Accounting: expense audit, expense classification, deferred revenue, a proposed chart of accounts, a roadmap.

Reads the ``tx`` view (ledger rows dated on or before ``as_of``), amounts in the
cash convention (positive = cash in). An *expense row* is a row on an
``Expenses`` account with ``amount < 0`` (refunds to an expense account are not
expenses). The rules and every figure's formula are listed in
``docs/reports/accounting.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, add_months, compress_lines, month_key

ZERO = Decimal(0)
EXPENSE = "split_part(account, ':', 1) = 'Expenses' AND amount < 0"
NO_RECEIPT = "(receipt IS NULL OR trim(receipt) = '')"
UNCATEGORIZED = "lower(account) = 'expenses:uncategorized' OR ends_with(lower(account), ':uncategorized')"
COGS = "(account = 'Expenses:COGS' OR starts_with(account, 'Expenses:COGS:'))"
# Who was paid: the counterparty, or the description when the counterparty is empty (case and spaces ignored).
PAYEE = "lower(trim(coalesce(nullif(trim(counterparty), ''), description, '')))"
PAYEE_SHOWN = "coalesce(nullif(trim(counterparty), ''), trim(description), '')"
# A payee is paid on a monthly rhythm when at least RHYTHM_INTERVALS gaps between consecutive payment days are
# RHYTHM_DAYS[0]..RHYTHM_DAYS[1] days long and the payments fall in at least RHYTHM_MONTHS calendar months.
RHYTHM_DAYS = (25, 35)
RHYTHM_INTERVALS = 2
RHYTHM_MONTHS = 3
# Classes of the classification, in pairs: (class when the test holds, class when it does not).
CLASS_PAIRS = (("recurring", "one_time"), ("capital_candidate", "expensed"), ("revenue_producing", "administrative"))
CLASS_NAMES = {
    "recurring": "Recurring expenses",
    "one_time": "One-time expenses",
    "capital_candidate": "Capital candidates",
    "expensed": "Expensed (below the capitalisation threshold)",
    "revenue_producing": "Revenue-producing expenses (COGS)",
    "administrative": "Administrative expenses",
}
EVIDENCE_ROWS = 20  # deferred-revenue evidence lists at most this many rows, then how many more


def money_text(value: Decimal, currency: str) -> str:
    """An amount for finding text, rounded to cents for display only (``4,850.00 USD``)."""
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f} {currency}"


def grouped_sources(ctx: Context, keyed_sql: str, params: Sequence[Any] = ()) -> dict[str, tuple[str, ...]]:
    """Provenance (``file:2-40,44``) grouped by key, from a query with columns ``k``, ``f`` (file), ``l`` (line).

    The line ranges are built in SQL (gaps and islands), so a million-row ledger costs one pass; the references
    read exactly as :func:`compress_lines` writes them.
    """
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


# --- the proposed chart of accounts ------------------------------------------------------------
# (statement section, line, token prefixes): the first rule one of whose prefixes starts a token of the account
# (segments after the first, split on ':', '-', '_', ' ') gives the line.
_ASSET_LINES = (
    ("Cash and cash equivalents", ("bank", "cash", "checking", "savings", "stripe", "paypal")),
    ("Accounts receivable", ("receivable",)),
    ("Inventory", ("inventory",)),
    ("Prepaid expenses", ("prepaid",)),
    ("Property and equipment", ("equipment", "vehicle", "property", "building", "furniture", "computer", "vessel",
                                "boat", "land", "improvement")),
)  # fmt: skip
_LIABILITY_LINES = (
    ("Loans and notes payable", ("mortgage", "loan", "note", "debt")),
    ("Credit cards payable", ("credit", "card")),
    ("Deposits held", ("deposit",)),
    ("Deferred revenue", ("deferred", "unearned")),
    ("Taxes payable", ("tax",)),
    ("Accounts payable", ("payable",)),
)
_EQUITY_LINES = (
    ("Opening balance equity", ("opening",)),
    ("Owner contributions", ("contribution", "capital", "investment")),
    ("Owner draws and distributions", ("draw", "distribution", "dividend")),
    ("Retained earnings", ("retained",)),
)
_OPEX_LINES = (
    ("Uncategorized (to reclassify)", ("uncategorized", "uncategorised")),
    ("Depreciation and amortization", ("depreciation", "amortization", "amortisation")),
    ("Rent and occupancy", ("rent", "lease", "slip", "mooring", "occupancy")),
    ("Software and cloud", ("software", "cloud", "aws", "hosting", "saas", "domain", "subscription")),
    ("Marketing and advertising", ("marketing", "advert", "promotion", "ads")),
    ("Insurance", ("insurance",)),
    ("Fuel, repairs and maintenance", ("fuel", "maintenance", "repair", "vehicle")),
    ("Professional fees", ("professional", "legal", "accounting", "audit", "consult", "bookkeeping")),
    ("Payroll and contract labour", ("contractor", "payroll", "wage", "salar", "labor", "labour", "crew", "staff")),
    ("Utilities and telephone", ("utilit", "telephone", "phone", "internet", "electric", "water")),
    ("Taxes and licences", ("tax", "license", "licence", "permit")),
    ("Bank and payment fees", ("bank", "fee", "merchant", "payment")),
    ("Travel and meals", ("travel", "meal", "lodging")),
)


@dataclass(frozen=True)
class GaapLine:
    """Where an account goes in GAAP financial statements."""

    statement: str  # Balance sheet | Income statement
    section: str  # Assets, Liabilities, Equity, Revenue, Cost of revenue, Operating expenses, Other income and expense
    line: str


def _tokens(account: str) -> list[str]:
    return [t for t in re.split(r"[:\-_ ]+", account.lower())[1:] if t]


def _match(tokens: list[str], rules: Sequence[tuple[str, tuple[str, ...]]], default: str) -> str:
    for line, prefixes in rules:
        if any(t.startswith(p) for t in tokens for p in prefixes):
            return line
    return default


def _human(segment: str) -> str:
    return segment.replace("-", " ").replace("_", " ").strip().capitalize()


def gaap_line(account: str) -> GaapLine:
    """The proposed GAAP statement line of a ledger account (rules in ``docs/reports/accounting.md``)."""
    parts = account.split(":")
    top, tokens = parts[0], _tokens(account)
    if top == "Assets":
        return GaapLine("Balance sheet", "Assets", _match(tokens, _ASSET_LINES, "Other assets"))
    if top == "Liabilities":
        return GaapLine("Balance sheet", "Liabilities", _match(tokens, _LIABILITY_LINES, "Other liabilities"))
    if top == "Equity":
        return GaapLine("Balance sheet", "Equity", _match(tokens, _EQUITY_LINES, "Other equity"))
    if top == "Income":
        if any(t.startswith("interest") for t in tokens):
            return GaapLine("Income statement", "Other income and expense", "Interest income")
        return GaapLine("Income statement", "Revenue", f"Revenue: {_human(parts[1])}" if len(parts) > 1 else "Revenue")
    if top == "Expenses":
        if len(parts) > 1 and parts[1] == "COGS":
            line = f"Cost of revenue: {_human(parts[2])}" if len(parts) > 2 else "Cost of revenue"
            return GaapLine("Income statement", "Cost of revenue", line)
        if any(t.startswith("interest") for t in tokens):
            return GaapLine("Income statement", "Other income and expense", "Interest expense")
        if "income" in tokens and any(t.startswith("tax") for t in tokens):
            return GaapLine("Income statement", "Income taxes", "Income tax expense")
        return GaapLine(
            "Income statement", "Operating expenses", _match(tokens, _OPEX_LINES, "Other operating expenses")
        )
    return GaapLine("Other", "Other", "Unmapped (first segment is not a contract account type)")


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecurringPayee:
    """A payee paid on a monthly rhythm, with what was paid to it in the 12 months ending at ``as_of``."""

    entity: str
    payee: str
    payments: int
    amount: Decimal
    monthly_intervals: int
    months: int


@dataclass(frozen=True)
class ScheduleLine:
    """Deferred revenue an entity will recognise in one future service month."""

    entity: str
    month: str
    amount: Decimal
    rows: int


@dataclass(frozen=True)
class ChartAccount:
    """One ledger account of the portfolio and its proposed GAAP line, with its activity."""

    account: str
    gaap: GaapLine
    entities: tuple[str, ...]
    rows_ttm: int
    amount_ttm: Decimal
    rows: int


@dataclass(frozen=True)
class Gap:
    """One gap the roadmap closes: what kind, how many rows (or entities), how much money, which entities."""

    kind: str  # no-ledger | uncategorized | missing-receipts | capital-candidates | deferred-revenue
    count: int
    amount: Decimal | None
    entities: tuple[str, ...]


@dataclass(frozen=True)
class Milestone:
    """A step of the accounting roadmap, due at the end of a month."""

    key: str  # books | expense-records | fixed-assets | accrual
    due: dt.date
    gaps: tuple[Gap, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the ``roadmap.milestones`` figure)."""
        return {
            "id": self.key,
            "due": self.due.isoformat(),
            "gaps": [
                {"kind": g.kind, "count": g.count, "amount": g.amount, "entities": list(g.entities)} for g in self.gaps
            ],
        }


# Milestones in order, each closing the listed gap kinds.
MILESTONES = (
    ("books", ("no-ledger",)),
    ("expense-records", ("uncategorized", "missing-receipts")),
    ("fixed-assets", ("capital-candidates",)),
    ("accrual", ("deferred-revenue",)),
)


@dataclass
class AccountingResults(Results):
    """Figures and findings, plus the tables the accounting report lays out."""

    ledgered: list[str] = field(default_factory=list)
    recurring: list[RecurringPayee] = field(default_factory=list)
    schedule: list[ScheduleLine] = field(default_factory=list)
    chart: list[ChartAccount] = field(default_factory=list)
    roadmap: list[Milestone] = field(default_factory=list)
    capitalize_above: Decimal | None = None


def month_end(day: dt.date, months_ahead: int) -> dt.date:
    """The last day of the month ``months_ahead`` months after the month of ``day``."""
    return add_months(day.replace(day=1), months_ahead + 1) - dt.timedelta(days=1)


class _Accounting:
    """Builds the accounting results for one context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cur = ctx.currency
        self.as_of = ctx.as_of.isoformat()
        self.start = ctx.window_start
        self.window = f"{self.start.isoformat()} < date <= {self.as_of}"
        self.res = AccountingResults(capitalize_above=ctx.manifest.policies.capitalize_above)
        present = {row[0] for row in ctx.query("SELECT DISTINCT entity FROM tx")}
        self.res.ledgered = [e for e in ctx.entities if e in present] + sorted(present - set(ctx.entities))

    def name(self, entity: str) -> str:
        """An entity's display name (its id when the manifest does not list it)."""
        found = self.ctx.entities.get(entity)
        return found.name if found is not None else entity

    def fallback(self, entity: str | None) -> tuple[str, ...]:
        """Where the ledger is declared, for a zero no row contributes to."""
        found = self.ctx.entities.get(entity or "")
        if found is not None and found.ledger:
            return (self.ctx.entity_key(found.id, "ledger"),)
        if self.ctx.manifest.ledger:
            return (self.ctx.manifest_key("ledger"),)
        return tuple(self.ctx.entity_key(e.id, "ledger") for e in self.ctx.manifest.entities if e.ledger)

    def add(self, fid: str, value: Any, unit: str, formula: str, sources: tuple[str, ...], *, name: str,
            entity: str | None = None) -> Figure:  # fmt: skip
        """Record a figure; a figure no row contributes to cites where the ledger is declared."""
        return self.res.add(Figure(fid, value, unit, formula, sources or self.fallback(entity), name, entity))

    def run(self) -> AccountingResults:
        """Every figure, finding and table, in report order."""
        if self.res.ledgered:
            self.audit()
            self.classify()
            self.deferred()
            self.chart()
        self.roadmap()
        return self.res

    # --- expense audit ---------------------------------------------------------------------
    def audit(self) -> None:
        """``missing-receipt`` and ``uncategorized-expense`` findings, ``audit.*`` figures."""
        rows = self.ctx.query(
            f"""SELECT entity, date, account, amount, description, {PAYEE_SHOWN}, source_file, source_line,
                       {NO_RECEIPT}, {UNCATEGORIZED}
                FROM tx WHERE {EXPENSE} AND ({NO_RECEIPT} OR {UNCATEGORIZED})
                ORDER BY entity, date, source_file, source_line"""
        )
        found: dict[str, dict[str, list[tuple[Decimal, str | None, int | None]]]] = {
            "missing_receipts": defaultdict(list), "uncategorized": defaultdict(list)}  # fmt: skip
        for entity, date, account, amount, description, payee, file, line, no_receipt, uncategorized in rows:
            paid = -amount
            where = f"{file}:{line}" if line is not None else str(file)
            detail = (f"{where}: {account}, payee {payee or 'none'}, description {description or 'none'}",)
            if no_receipt:
                found["missing_receipts"][entity].append((paid, file, line))
                self.res.find(Finding(
                    "missing-receipt", "low",
                    f"No receipt for {money_text(paid, self.cur)} paid to {payee or 'an unnamed payee'} on "
                    f"{date.isoformat()}", entity, detail, paid, file, line, subject=f"row {file}:{line}",
                    recommendation="Attach the receipt (or the invoice) and record its reference in `receipt`.",
                ))  # fmt: skip
            if uncategorized:
                found["uncategorized"][entity].append((paid, file, line))
                self.res.find(Finding(
                    "uncategorized-expense", "medium",
                    f"Uncategorized expense of {money_text(paid, self.cur)} paid to {payee or 'an unnamed payee'} "
                    f"on {date.isoformat()}", entity, detail, paid, file, line, subject=f"row {file}:{line}",
                    recommendation="Move it to the expense account that says what was bought.",
                ))  # fmt: skip
        tests = {"missing_receipts": f"an empty receipt ({NO_RECEIPT})",
                 "uncategorized": "an account whose last segment is Uncategorized"}  # fmt: skip
        titles = {"missing_receipts": "Expenses without a receipt", "uncategorized": "Uncategorized expenses"}
        for key, per in found.items():
            base = f"expense rows (Expenses account, amount < 0, dated <= {self.as_of}) with {tests[key]}"
            for who, entity in [*((e, e) for e in self.res.ledgered), ("portfolio", None)]:
                items = per.get(who, []) if entity else [i for v in per.values() for i in v]
                label = f" of {entity}" if entity else ""
                suffix = f".{entity}" if entity else ""
                src = compress_lines((f, ln) for _, f, ln in items)
                title = f"{titles[key]}, {self.name(entity) if entity else 'portfolio'}"
                self.add(f"audit.{key}.count{suffix}", len(items), "count", f"number of {base}{label}", src,
                         name=f"{title} (count)", entity=entity)  # fmt: skip
                self.add(f"audit.{key}.amount{suffix}", sum((a for a, _, _ in items), ZERO), self.cur,
                         f"-sum(amount) of {base}{label}", src, name=f"{title} (amount)", entity=entity)  # fmt: skip

    # --- classification --------------------------------------------------------------------
    def _classified_sql(self) -> tuple[str, list[Any]]:
        """Expense rows of the 12-month window with their class flags (``recurring``, ``capital``, ``cogs``)."""
        low, high = RHYTHM_DAYS
        threshold = self.res.capitalize_above
        capital = "(-t.amount > ?)" if threshold is not None else "FALSE"
        sql = f"""WITH d AS (SELECT DISTINCT entity, {PAYEE} AS payee, date FROM tx WHERE {EXPENSE}),
                 g AS (SELECT entity, payee, date,
                              date_diff('day', lag(date) OVER (PARTITION BY entity, payee ORDER BY date), date) AS gap
                       FROM d WHERE payee <> ''),
                 rec AS (SELECT entity, payee, count(*) FILTER (WHERE gap BETWEEN {low} AND {high}) AS intervals,
                                count(DISTINCT strftime(date, '%Y-%m')) AS months
                         FROM g GROUP BY entity, payee
                         HAVING intervals >= {RHYTHM_INTERVALS} AND months >= {RHYTHM_MONTHS})
            SELECT t.entity, t.amount, t.source_file, t.source_line, t.payee, t.shown, rec.intervals, rec.months,
                   rec.payee IS NOT NULL AS recurring, {capital} AS capital, {COGS} AS cogs
            FROM (SELECT *, {PAYEE} AS payee, {PAYEE_SHOWN} AS shown FROM tx WHERE {EXPENSE} AND date > ?) AS t
            LEFT JOIN rec USING (entity, payee)"""
        params: list[Any] = [threshold] if threshold is not None else []
        return sql, [*params, self.start]

    def classify(self) -> None:
        """``classification.<class>.count|amount[.<e>]`` over the window's expense rows; capital-candidate findings."""
        sql, params = self._classified_sql()
        pairs = [p for p in CLASS_PAIRS if p[0] != "capital_candidate" or self.res.capitalize_above is not None]
        totals: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for entity, recurring, capital, cogs, count, amount in self.ctx.query(
            f"SELECT entity, recurring, capital, cogs, count(*), sum(-amount) FROM ({sql}) GROUP BY ALL", params
        ):
            for (yes, no), flag in zip(CLASS_PAIRS, (recurring, capital, cogs), strict=True):
                for who in (entity, "*"):
                    n, a = totals.get((who, yes if flag else no), (0, ZERO))
                    totals[(who, yes if flag else no)] = (n + count, a + amount)
        label = ("CASE WHEN recurring THEN 'recurring' ELSE 'one_time' END",
                 "CASE WHEN capital THEN 'capital_candidate' ELSE 'expensed' END",
                 "CASE WHEN cogs THEN 'revenue_producing' ELSE 'administrative' END")  # fmt: skip
        keys = ", ".join(f"{who} || '|' || {lab}" for lab in label for who in ("entity", "'*'"))
        src = grouped_sources(self.ctx, f"SELECT unnest([{keys}]) AS k, source_file AS f, source_line AS l "
                                        f"FROM ({sql})", params)  # fmt: skip
        tests = {
            "recurring": f"whose payee is paid on a monthly rhythm (at least {RHYTHM_INTERVALS} gaps of "
                         f"{RHYTHM_DAYS[0]}-{RHYTHM_DAYS[1]} days between consecutive payment days, in at least "
                         f"{RHYTHM_MONTHS} calendar months, over all expense rows dated <= {self.as_of}); payee = "
                         "counterparty, or description when the counterparty is empty",
            "one_time": "whose payee is not paid on a monthly rhythm (see classification.recurring)",
            "capital_candidate": f"with -amount > policies.capitalize_above ({self.res.capitalize_above})",
            "expensed": f"with -amount <= policies.capitalize_above ({self.res.capitalize_above})",
            "revenue_producing": "on Expenses:COGS or an account under it",
            "administrative": "on any Expenses account other than Expenses:COGS and its sub-accounts",
        }  # fmt: skip
        for pair in pairs:
            for cls in pair:
                base = f"expense rows (Expenses account, amount < 0, {self.window}) {tests[cls]}"
                extra = ((self.ctx.manifest_key("policies.capitalize_above"),)
                         if cls in ("capital_candidate", "expensed") else ())  # fmt: skip
                for who, entity in [*((e, e) for e in self.res.ledgered), ("*", None)]:
                    count, amount = totals.get((who, cls), (0, ZERO))
                    suffix, of = (f".{entity}", f" of {entity}") if entity else ("", "")
                    title = f"{CLASS_NAMES[cls]}, {self.name(entity) if entity else 'portfolio'}"
                    sources = src.get(f"{who}|{cls}", ()) + extra
                    self.add(f"classification.{cls}.count{suffix}", count, "count", f"number of {base}{of}",
                             sources, name=f"{title}, last 12 months (count)", entity=entity)  # fmt: skip
                    self.add(f"classification.{cls}.amount{suffix}", amount, self.cur, f"-sum(amount) of {base}{of}",
                             sources, name=f"{title}, last 12 months", entity=entity)  # fmt: skip
        for entity, payee, shown, payments, amount, intervals, months in self.ctx.query(
            f"""SELECT entity, payee, min(shown), count(*), sum(-amount), any_value(intervals), any_value(months)
                FROM ({sql}) WHERE recurring GROUP BY entity, payee ORDER BY entity, sum(-amount) DESC, payee""",
            params,
        ):
            self.res.recurring.append(RecurringPayee(entity, shown or payee, payments, amount, intervals, months))
        if self.res.capitalize_above is not None:
            self.capital_candidates()

    def capital_candidates(self) -> None:
        """One ``capital-candidate`` finding per window expense row above ``policies.capitalize_above``."""
        threshold = self.res.capitalize_above
        if threshold is None:
            return
        key = self.ctx.manifest_key("policies.capitalize_above")
        for entity, date, account, amount, description, payee, file, line in self.ctx.query(
            f"""SELECT entity, date, account, amount, description, {PAYEE_SHOWN}, source_file, source_line
                FROM tx WHERE {EXPENSE} AND date > ? AND -amount > ? ORDER BY entity, date, source_file, source_line""",
            [self.start, threshold],
        ):
            paid = -amount
            where = f"{file}:{line}" if line is not None else str(file)
            self.res.find(Finding(
                "capital-candidate", "info",
                f"{money_text(paid, self.cur)} expensed on {date.isoformat()} ({description or payee or account}) is "
                f"above the capitalisation threshold", entity,
                (f"{where}: {date.isoformat()} {account} {money_text(amount, self.cur)}, payee {payee or 'none'}",
                 f"policies.capitalize_above = {money_text(threshold, self.cur)} ({key})"),
                paid, file, line, subject=f"row {file}:{line}",
                recommendation="Decide whether it is a fixed asset; if so record it in a fixed-asset register and "
                               "depreciate it instead of expensing it at once.",
            ))  # fmt: skip

    # --- deferred revenue ------------------------------------------------------------------
    def deferred(self) -> None:
        """``deferred_revenue.<e>`` / ``.portfolio``, one ``deferred-revenue`` finding per entity, the schedule."""
        rows = self.ctx.query(
            """SELECT entity, date, service_date, account, amount, source_file, source_line FROM tx
               WHERE split_part(account, ':', 1) = 'Income' AND service_date > ?
               ORDER BY entity, service_date, date, source_file, source_line""",
            [self.ctx.as_of],
        )
        per: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            per[row[0]].append(row)
        base = (f"sum(amount) of Income rows dated <= {self.as_of} whose service_date is after {self.as_of} "
                "(received before the service is delivered: a liability until the service date)")  # fmt: skip
        for entity in self.res.ledgered:
            items = per.get(entity, [])
            total = sum((r[4] for r in items), ZERO)
            src = compress_lines((r[5], r[6]) for r in items)
            self.add(f"deferred_revenue.{entity}", total, self.cur, f"{base}, entity {entity}", src,
                     name=f"Deferred revenue at {self.as_of}, {self.name(entity)}", entity=entity)  # fmt: skip
            months: dict[str, list[Decimal]] = defaultdict(list)
            for r in items:
                months[month_key(r[2])].append(r[4])
            self.res.schedule += [ScheduleLine(entity, m, sum(v, ZERO), len(v)) for m, v in sorted(months.items())]
            if items:
                self._deferred_finding(entity, items, total)
        self.add(
            "deferred_revenue.portfolio",
            sum((r[4] for r in rows), ZERO),
            self.cur,
            f"{base}, every entity",
            compress_lines((r[5], r[6]) for r in rows),
            name=f"Deferred revenue at {self.as_of}, portfolio",
        )

    def _deferred_finding(self, entity: str, items: list[tuple[Any, ...]], total: Decimal) -> None:
        evidence = [
            f"{file}:{line}: received {date.isoformat()}, service {service.isoformat()}, {account} "
            f"{money_text(amount, self.cur)}"
            for _, date, service, account, amount, file, line in items[:EVIDENCE_ROWS]
        ]
        if len(items) > EVIDENCE_ROWS:
            evidence.append(f"... and {len(items) - EVIDENCE_ROWS} more rows")
        self.res.find(Finding(
            "deferred-revenue", "medium" if total > 0 else "info",
            f"{self.name(entity)}: {money_text(total, self.cur)} received for services after {self.as_of} is "
            f"deferred revenue, not yet earned", entity, tuple(evidence), total, subject="deferred revenue",
            recommendation="Record it as a deferred-revenue liability and recognise it as income on each service "
                           "date (ASC 606).",
        ))  # fmt: skip

    # --- chart of accounts -----------------------------------------------------------------
    def chart(self) -> None:
        """Every distinct account with its proposed GAAP line; ``chart.accounts``."""
        for account, entities, rows_ttm, amount_ttm, rows in self.ctx.query(
            """SELECT account, list(DISTINCT entity ORDER BY entity), count(*) FILTER (WHERE date > ?),
                      coalesce(sum(amount) FILTER (WHERE date > ?), 0), count(*)
               FROM tx GROUP BY account ORDER BY account""",
            [self.start, self.start],
        ):
            self.res.chart.append(ChartAccount(account, gaap_line(account), tuple(entities), rows_ttm,
                                               amount_ttm, rows))  # fmt: skip
        src = grouped_sources(self.ctx, "SELECT '*' AS k, source_file AS f, source_line AS l FROM tx")
        self.add("chart.accounts", len(self.res.chart), "count",
                 f"number of distinct accounts over every ledger row dated <= {self.as_of}", src.get("*", ()),
                 name="Ledger accounts mapped to GAAP lines")  # fmt: skip

    # --- roadmap ---------------------------------------------------------------------------
    def gaps(self) -> dict[str, Gap]:
        """The gaps that exist, by kind."""
        found: dict[str, Gap] = {}
        rank = {e: i for i, e in enumerate(self.res.ledgered)}
        ledgerless = [e.id for e in self.ctx.active_entities if e.id not in self.res.ledgered]
        if ledgerless:
            found["no-ledger"] = Gap("no-ledger", len(ledgerless), None, tuple(ledgerless))
        by_kind: dict[str, list[Finding]] = defaultdict(list)
        for finding in self.res.findings:
            by_kind[finding.kind].append(finding)
        for kind, gap in (("uncategorized-expense", "uncategorized"), ("missing-receipt", "missing-receipts"),
                          ("capital-candidate", "capital-candidates")):  # fmt: skip
            items = by_kind.get(kind, [])
            if items:
                entities = tuple(sorted({f.entity or "" for f in items}, key=lambda e: rank.get(e, len(rank))))
                found[gap] = Gap(gap, len(items), sum((f.amount or ZERO for f in items), ZERO), entities)
        deferred = [f for f in by_kind.get("deferred-revenue", []) if (f.amount or ZERO) > 0]
        if deferred:
            found["deferred-revenue"] = Gap("deferred-revenue", len(deferred),
                                            sum((f.amount or ZERO for f in deferred), ZERO),
                                            tuple(f.entity or "" for f in deferred))  # fmt: skip
        return found

    def roadmap(self) -> None:
        """Milestones for the gaps that exist, in order, due at successive month ends; ``roadmap.milestones``."""
        gaps = self.gaps()
        for key, kinds in MILESTONES:
            mine = tuple(gaps[k] for k in kinds if k in gaps)
            if mine:
                self.res.roadmap.append(Milestone(key, month_end(self.ctx.as_of, len(self.res.roadmap) + 1), mine))
        sources: list[str] = []
        for fid in ("audit.missing_receipts.count", "audit.uncategorized.count",
                    "classification.capital_candidate.count", "deferred_revenue.portfolio"):  # fmt: skip
            if fid in self.res.figures:
                sources += self.res.figures[fid].sources
        if "no-ledger" in gaps:
            sources += [self.ctx.entity_key(e) for e in gaps["no-ledger"].entities]
        self.res.add(Figure(
            "roadmap.milestones", [m.to_json() for m in self.res.roadmap], "list",
            "one milestone per group of gaps that exist, in this order: books (active entities with no ledger rows), "
            "expense-records (uncategorized expenses, missing receipts), fixed-assets (capital candidates), accrual "
            "(deferred revenue > 0); the k-th milestone is due on the last day of the k-th month after the month of "
            "as_of", tuple(dict.fromkeys(sources)), "Accounting roadmap",
        ))  # fmt: skip


def analyze(ctx: Context) -> AccountingResults:
    """Expense audit, classification, deferred revenue, chart of accounts and roadmap of a portfolio."""
    return _Accounting(ctx).run()
