"""Accounting: expense audit, expense classification, deferred revenue, a proposed chart of accounts, a roadmap.

Reads the ``tx`` view (ledger rows dated on or before ``as_of``), amounts in the
cash convention (positive = cash in). An *expense row* is a row on an
``Expenses`` account with ``amount < 0`` (refunds to an expense account are not
expenses). The rules and every figure's formula are listed in
``docs/reports/accounting.md``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execintel.analysis.chart_of_accounts import GaapLine, gaap_line
from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, add_months, compress_lines, month_key
from execintel.analysis.recurring import COGS, PAYEE, PAYEE_SHOWN, Recurring, grouped_sources, recurring
from execintel.formatting import money

__all__ = ["AccountingResults", "ExpenseItem", "GaapLine", "UntrackedSource", "analyze", "gaap_line", "month_end"]

ZERO = Decimal(0)
EXPENSE = "split_part(account, ':', 1) = 'Expenses' AND amount < 0"
NO_RECEIPT = "(receipt IS NULL OR trim(receipt) = '')"
UNCATEGORIZED = "lower(account) = 'expenses:uncategorized' OR ends_with(lower(account), ':uncategorized')"
# A ledger file tracks receipts when one of its rows (dated <= as_of) has a receipt value at all, even an empty
# one: a CSV with a ``receipt`` column, a beancount file with ``receipt:`` metadata somewhere. The sources write
# NULL for a CSV without the column and a posting without the metadata.
UNTRACKED_FILES = "SELECT source_file FROM tx GROUP BY source_file HAVING count(receipt) = 0"
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
# The columns of an expense row, and its subject: the row's own values (never as_of), numbered among identical
# rows of its file, so a finding keeps its id when other rows are added or the file is re-sorted.
ROW_COLUMNS = f"""entity, date, account, amount, description, {PAYEE_SHOWN} AS shown, source_file, source_line,
    row_number() OVER (PARTITION BY source_file, date, account, {PAYEE}, amount ORDER BY source_line) AS nth"""


def row_subject(file: str | None, date: dt.date, account: str, payee: str, amount: Decimal, *, nth: int) -> str:
    """A ledger row named by what it says: ``data/ledger.csv|2026-07-25|Expenses:Uncategorized|card|-80|1``."""
    text = format(amount.normalize(), "f")
    return f"{file or ''}|{date.isoformat()}|{account}|{payee.strip().lower()}|{text}|{nth}"


def source_order(reference: str) -> tuple[str, int]:
    """Sort key of a provenance reference ``file:12-40,44``: by file, then first line."""
    file, _, lines = reference.rpartition(":")
    first = lines.split("-", 1)[0].split(",", 1)[0]
    return (file, int(first)) if file and first.isdigit() else (reference, 0)


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpenseRow:
    """An expense row as a worklist shows it."""

    entity: str
    date: dt.date
    account: str
    payee: str
    description: str
    amount: Decimal  # paid: -amount of the row, positive
    file: str | None
    line: int | None

    @property
    def source(self) -> str:
        """``file:line`` of the row."""
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)


@dataclass(frozen=True)
class ExpenseItem(ExpenseRow):
    """One expense row of a worklist (missing receipts, uncategorized, capital candidates) and its finding."""

    finding: Finding


@dataclass(frozen=True)
class UntrackedSource:
    """A ledger file none of whose rows has a receipt value: receipts are not tracked there."""

    file: str
    entities: tuple[str, ...]
    rows: int  # expense rows dated <= as_of
    amount: Decimal  # -sum(amount) of those rows
    finding: Finding


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

    # no-ledger | uncategorized | missing-receipts | receipts-untracked | capital-candidates | deferred-revenue
    kind: str
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
    ("expense-records", ("uncategorized", "missing-receipts", "receipts-untracked")),
    ("fixed-assets", ("capital-candidates",)),
    ("accrual", ("deferred-revenue",)),
)


@dataclass
class AccountingResults(Results):
    """Figures and findings, plus the tables the accounting report lays out."""

    ledgered: list[str] = field(default_factory=list)
    recurring: list[Recurring] = field(default_factory=list)  # recurring expense series (analysis.recurring)
    worklists: dict[str, list[ExpenseItem]] = field(default_factory=dict)  # missing-receipt, uncategorized-...
    untracked: list[UntrackedSource] = field(default_factory=list)
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
        # read once per context: deferred_revenue() builds a second _Accounting of the same context
        present = ctx.memo("accounting.entities", lambda: {e for (e,) in ctx.query("SELECT DISTINCT entity FROM tx")})
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
        lean = self.ctx.lean  # an earlier date's context: only what comparisons read (see Context.lean)
        if self.res.ledgered:
            self.audit()
            if not lean:
                self.classify()
            self.deferred()
            if not lean:
                self.chart()
        if not lean:
            self.roadmap()
        return self.res

    # --- expense audit ---------------------------------------------------------------------
    def audit(self) -> None:
        """Receipts (per file: tracked or not) and uncategorized expenses: findings, worklists, ``audit.*``."""
        untracked = {row[0] for row in self.ctx.query(UNTRACKED_FILES)}
        self.not_tracked(untracked)
        rows = self.ctx.query(
            f"""SELECT * FROM (SELECT {ROW_COLUMNS}, {NO_RECEIPT} AS no_receipt, {UNCATEGORIZED} AS uncategorized
                               FROM tx WHERE {EXPENSE})
                WHERE no_receipt OR uncategorized ORDER BY entity, date, source_file, source_line"""
        )
        found: dict[str, dict[str, list[tuple[Decimal, str | None, int | None]]]] = {
            "missing_receipts": defaultdict(list), "uncategorized": defaultdict(list)}  # fmt: skip
        for entity, date, account, amount, description, payee, file, line, nth, no_receipt, uncategorized in rows:
            paid = -amount
            where = f"{file}:{line}" if line is not None else str(file)
            detail = (f"{where}: {account}, payee {payee or 'none'}, description {description or 'none'}",)
            subject = row_subject(file, date, account, payee, amount, nth=nth)
            item = ExpenseRow(entity, date, account, payee or "", description or "", paid, file, line)
            if no_receipt and file not in untracked:
                found["missing_receipts"][entity].append((paid, file, line))
                self.worklist(item, Finding(
                    "missing-receipt", "low",
                    f"No receipt for {money(paid, self.cur)} paid to {payee or 'an unnamed payee'} on "
                    f"{date.isoformat()}", entity, detail, paid, file, line,
                    recommendation="Attach the receipt (or the invoice) and record its reference in `receipt`.",
                    subject=subject,
                ))  # fmt: skip
            if uncategorized:
                found["uncategorized"][entity].append((paid, file, line))
                self.worklist(item, Finding(
                    "uncategorized-expense", "medium",
                    f"Uncategorized expense of {money(paid, self.cur)} paid to {payee or 'an unnamed payee'} "
                    f"on {date.isoformat()}", entity, detail, paid, file, line,
                    recommendation="Move it to the expense account that says what was bought.", subject=subject,
                ))  # fmt: skip
        tests = {"missing_receipts": f"an empty receipt ({NO_RECEIPT}), in ledger files that track receipts",
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

    def worklist(self, item: ExpenseRow, finding: Finding) -> None:
        """Record a per-row finding and its row in the worklist of its kind."""
        self.res.find(finding)
        self.res.worklists.setdefault(finding.kind, []).append(ExpenseItem(**vars(item), finding=finding))

    def not_tracked(self, untracked: set[str]) -> None:
        """One ``receipts-not-tracked`` finding per ledger file with expense rows and no receipt values at all."""
        per_entity: dict[str, tuple[int, Decimal, list[str]]] = {}
        for file, entities, count, amount, first, last in self.ctx.query(
            f"""SELECT source_file, list(DISTINCT entity ORDER BY entity), count(*), -sum(amount), min(date), max(date)
                FROM tx WHERE {EXPENSE} AND source_file IN (SELECT unnest(?::VARCHAR[]))
                GROUP BY source_file ORDER BY source_file""",
            [sorted(untracked)],
        ):
            beancount = file.endswith((".beancount", ".bean"))
            how = ("no transaction or posting carries `receipt:` metadata" if beancount
                   else "the file has no `receipt` column")  # fmt: skip
            finding = self.res.find(Finding(
                "receipts-not-tracked", "medium",
                f"{file} does not track receipts: {count:,} expenses ({money(amount, self.cur)}) have no receipt "
                "reference", entities[0] if len(entities) == 1 else None,
                (f"{file}: {how}", f"{count:,} expense rows dated {first.isoformat()} to {last.isoformat()}, "
                 f"entities {', '.join(entities)}"), amount, file,
                recommendation=("Record each expense's receipt reference: "
                                + ("`receipt:` metadata on the transaction." if beancount
                                   else "add a `receipt` column and fill it in.")),
                subject=file,
            ))  # fmt: skip
            self.res.untracked.append(UntrackedSource(file, tuple(entities), count, amount, finding))
        for entity, count, amount, files in self.ctx.query(
            f"""SELECT entity, count(*), -sum(amount), list(DISTINCT source_file ORDER BY source_file) FROM tx
                WHERE {EXPENSE} AND source_file IN (SELECT unnest(?::VARCHAR[])) GROUP BY entity""",
            [sorted(untracked)],
        ):
            per_entity[entity] = (count, amount, files)
        if not self.res.untracked:
            return
        base = (f"expense rows (Expenses account, amount < 0, dated <= {self.as_of}) in ledger files none of whose "
                "rows has a receipt value (no receipt column, no receipt metadata)")  # fmt: skip
        for entity in [*self.res.ledgered, None]:
            if entity is None:
                count = sum(v[0] for v in per_entity.values())
                amount = sum((v[1] for v in per_entity.values()), ZERO)
                files = sorted({f for v in per_entity.values() for f in v[2]})
            else:
                count, amount, files = per_entity.get(entity, (0, ZERO, []))
            suffix, of = (f".{entity}", f" of {entity}") if entity else ("", "")
            title = f"Expenses in files that do not track receipts, {self.name(entity) if entity else 'portfolio'}"
            self.add(f"audit.receipts_untracked.count{suffix}", count, "count", f"number of {base}{of}",
                     tuple(files), name=f"{title} (count)", entity=entity)  # fmt: skip
            self.add(f"audit.receipts_untracked.amount{suffix}", amount, self.cur, f"-sum(amount) of {base}{of}",
                     tuple(files), name=f"{title} (amount)", entity=entity)  # fmt: skip

    # --- classification --------------------------------------------------------------------
    def _classified_sql(self) -> tuple[str, list[Any]]:
        """Expense rows of the 12-month window with their class flags (``recurring``, ``capital``, ``cogs``)."""
        threshold = self.res.capitalize_above
        capital = "(-t.amount > ?)" if threshold is not None else "FALSE"
        series = self.res.recurring
        sql = f"""SELECT t.entity, t.amount, t.source_file, t.source_line, k.k_cadence IS NOT NULL AS recurring,
                         {capital} AS capital, {COGS} AS cogs
            FROM (SELECT *, {PAYEE} AS payee FROM tx WHERE {EXPENSE} AND date > ?) AS t
            LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS k_entity, unnest(?::VARCHAR[]) AS k_account,
                              unnest(?::VARCHAR[]) AS k_payee, unnest(?::VARCHAR[]) AS k_cadence) AS k
                   ON t.entity = k.k_entity AND t.account = k.k_account AND t.payee = k.k_payee"""
        keys = [[r.entity for r in series], [r.account for r in series], [r.payee for r in series],
                [r.cadence for r in series]]  # fmt: skip
        params: list[Any] = [threshold] if threshold is not None else []
        return sql, [*params, self.start, *keys]

    def classify(self) -> None:
        """``classification.<class>.count|amount[.<e>]`` over the window's expense rows; capital-candidate findings."""
        self.res.recurring = recurring(self.ctx)
        self.recurring_figures()
        sql, params = self._classified_sql()
        pairs = [p for p in CLASS_PAIRS if p[0] != "capital_candidate" or self.res.capitalize_above is not None]
        totals: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for entity, recurs, capital, cogs, count, amount in self.ctx.query(
            f"SELECT entity, recurring, capital, cogs, count(*), sum(-amount) FROM ({sql}) GROUP BY ALL", params
        ):
            for (yes, no), flag in zip(CLASS_PAIRS, (recurs, capital, cogs), strict=True):
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
            "recurring": f"whose series (same entity, payee and account) recurs over all expense rows dated <= "
                         f"{self.as_of}: weekly, twice-monthly, monthly, quarterly, twice-yearly or yearly, or a "
                         "per-job cost (Expenses:COGS paid on 2 or more days); payee = counterparty, or description "
                         "when the counterparty is empty; rules in docs/reports/accounting.md",
            "one_time": "whose series does not recur (see classification.recurring)",
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
        if self.res.capitalize_above is not None:
            self.capital_candidates()

    def recurring_figures(self) -> None:
        """``recurring.expenses.monthly[.<e>]``: what the active calendar series cost in an average month."""
        formula = (f"-sum of the monthly equivalents of the recurring expense series that are active at {self.as_of} "
                   "and have a calendar cadence (typical amount x occurrences a year / 12: weekly 52, twice-monthly "
                   "24, monthly 12, quarterly 4, twice-yearly 2; yearly: the sum of the last 12 months' instalments "
                   "/ 12); per-job costs left out")  # fmt: skip
        for entity in [*self.res.ledgered, None]:
            mine = [r for r in self.res.recurring if r.active and r.monthly is not None
                    and (entity is None or r.entity == entity)]  # fmt: skip
            suffix, of = (f".{entity}", f", entity {entity}") if entity else ("", ", every entity")
            total = -sum((r.monthly or ZERO for r in mine), ZERO)
            self.add(f"recurring.expenses.monthly{suffix}", total, self.cur, formula + of,
                     tuple(sorted({s for r in mine for s in r.sources}, key=source_order)),
                     name=f"Recurring expenses per month, {self.name(entity) if entity else 'portfolio'}",
                     entity=entity)  # fmt: skip

    def capital_candidates(self) -> None:
        """One ``capital-candidate`` finding per window expense row above ``policies.capitalize_above``."""
        threshold = self.res.capitalize_above
        if threshold is None:
            return
        key = self.ctx.manifest_key("policies.capitalize_above")
        for entity, date, account, amount, description, payee, file, line, nth in self.ctx.query(
            f"""SELECT {ROW_COLUMNS} FROM tx WHERE {EXPENSE} AND date > ? AND -amount > ?
                ORDER BY entity, date, source_file, source_line""",
            [self.start, threshold],
        ):
            paid = -amount
            where = f"{file}:{line}" if line is not None else str(file)
            row = ExpenseRow(entity, date, account, payee or "", description or "", paid, file, line)
            self.worklist(row, Finding(
                "capital-candidate", "info",
                f"{money(paid, self.cur)} expensed on {date.isoformat()} ({description or payee or account}) is "
                f"above the capitalisation threshold", entity,
                (f"{where}: {date.isoformat()} {account} {money(amount, self.cur)}, payee {payee or 'none'}",
                 f"policies.capitalize_above = {money(threshold, self.cur)} ({key})"),
                paid, file, line,
                recommendation="Decide whether it is a fixed asset; if so record it in a fixed-asset register and "
                               "depreciate it instead of expensing it at once.",
                subject=row_subject(file, date, account, payee, amount, nth=nth),
            ))  # fmt: skip

    # --- deferred revenue ------------------------------------------------------------------
    def deferred(self) -> None:
        """``deferred_revenue.<e>`` / ``.portfolio``, one ``deferred-revenue`` finding per entity, the schedule."""
        rows = self.ctx.memo("accounting.deferred_rows", lambda: self.ctx.query(  # shared with deferred_revenue()
            """SELECT entity, date, service_date, account, amount, source_file, source_line FROM tx
               WHERE split_part(account, ':', 1) = 'Income' AND service_date > ?
               ORDER BY entity, service_date, date, source_file, source_line""",
            [self.ctx.as_of],
        ))  # fmt: skip
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
            f"{money(amount, self.cur)}"
            for _, date, service, account, amount, file, line in items[:EVIDENCE_ROWS]
        ]
        if len(items) > EVIDENCE_ROWS:
            evidence.append(f"... and {len(items) - EVIDENCE_ROWS} more rows")
        self.res.find(Finding(
            "deferred-revenue", "medium" if total > 0 else "info",
            f"{self.name(entity)}: {money(total, self.cur)} received for services after {self.as_of} is "
            f"deferred revenue, not yet earned", entity, tuple(evidence), total,
            recommendation="Record it as a deferred-revenue liability and recognise it as income on each service "
                           "date (ASC 606).", subject="income received before its service date",
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
        if self.res.untracked:
            entities = tuple(sorted({e for u in self.res.untracked for e in u.entities},
                                    key=lambda e: rank.get(e, len(rank))))  # fmt: skip
            found["receipts-untracked"] = Gap("receipts-untracked", sum(u.rows for u in self.res.untracked),
                                              sum((u.amount for u in self.res.untracked), ZERO), entities)  # fmt: skip
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
        for fid in ("audit.missing_receipts.count", "audit.receipts_untracked.count", "audit.uncategorized.count",
                    "classification.capital_candidate.count", "deferred_revenue.portfolio"):  # fmt: skip
            if fid in self.res.figures:
                sources += self.res.figures[fid].sources
        if "no-ledger" in gaps:
            sources += [self.ctx.entity_key(e) for e in gaps["no-ledger"].entities]
        self.res.add(Figure(
            "roadmap.milestones", [m.to_json() for m in self.res.roadmap], "list",
            "one milestone per group of gaps that exist, in this order: books (active entities with no ledger rows), "
            "expense-records (uncategorized expenses, missing receipts, ledger files that track no receipts), "
            "fixed-assets (capital candidates), accrual "
            "(deferred revenue > 0); the k-th milestone is due on the last day of the k-th month after the month of "
            "as_of", tuple(dict.fromkeys(sources)), "Accounting roadmap",
        ))  # fmt: skip


def deferred_revenue(ctx: Context) -> dict[str, Figure]:
    """The ``deferred_revenue.<e>`` and ``.portfolio`` figures alone, exactly as :func:`analyze` makes them, without
    the expense audit and classification (the working capital shows them: a CFO report needs no more of this
    analysis, and the audit of every expense row was most of a large ledger's CFO report)."""

    def compute() -> dict[str, Figure]:
        partial = _Accounting(ctx)
        if partial.res.ledgered:
            partial.deferred()
        return {fid: f for fid, f in partial.res.figures.items() if fid.startswith("deferred_revenue.")}

    return ctx.memo("accounting.deferred_revenue", compute)


def analyze(ctx: Context) -> AccountingResults:
    """Expense audit, classification, deferred revenue, chart of accounts and roadmap of a portfolio."""
    return _Accounting(ctx).run()
