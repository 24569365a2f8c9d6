"""The accounting report: expense audit, expense classification, deferred revenue, chart of accounts, roadmap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from execintel.analysis import accounting
from execintel.analysis.accounting import CLASS_NAMES, CLASS_PAIRS, AccountingResults, ExpenseItem, Gap
from execintel.analysis.context import Context
from execintel.analysis.model import Figure
from execintel.formatting import money, show_figure
from execintel.reports.document import Document, DocumentBuilder

TITLE = "Accounting report"
# Worklists: one table row per item, largest first, columns named for a CSV (stable: people's tools read them).
# At most 6 columns: a mail client 600 px wide shows a wider table as one card per row, which a list of a
# hundred items cannot afford.
WORKLIST_COLUMNS = (("Date", "date"), ("Entity", ""), ("Expense account", ""), ("Paid to", ""), ("Amount", "money"),
                    ("Source", ""))  # fmt: skip
CADENCE_ORDER = ("weekly", "twice-monthly", "monthly", "quarterly", "twice-yearly", "yearly", "per-job")
STATEMENT_ORDER = ("Balance sheet", "Income statement", "Other")
SECTION_ORDER = ("Assets", "Liabilities", "Equity", "Revenue", "Cost of revenue", "Operating expenses",
                 "Other income and expense", "Income taxes", "Other")  # fmt: skip
COLUMN_NAMES = {
    "recurring": "Recurring",
    "one_time": "One-time",
    "capital_candidate": "Capital candidates",
    "expensed": "Expensed",
    "revenue_producing": "COGS",
    "administrative": "Administrative",
}
CLASS_NOTES = {
    "recurring": "Recurring: the expense's series (same payee, same account) repeats weekly, twice a month, monthly, "
                 "quarterly, twice a year or yearly, or is a per-job cost (Expenses:COGS paid on 2 or more days); the "
                 "series are listed under 'Recurring expenses'.",
    "capital_candidate": "Capital candidate: a single expense above policies.capitalize_above.",
    "revenue_producing": "COGS: Expenses:COGS and the accounts under it; administrative: every other expense.",
}  # fmt: skip
MILESTONE_TITLES = {
    "books": "Complete the books",
    "expense-records": "Clean up the expense records",
    "fixed-assets": "Start a fixed-asset register",
    "accrual": "Adopt accrual revenue recognition (ASC 606)",
}


def paid_to(payee: str, description: str) -> str:
    """The payee, with the description when it says more (``Sail loft: New mainsail``)."""
    if not payee:
        return description
    if not description or description.strip().lower() == payee.strip().lower():
        return payee
    return f"{payee}: {description}"


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def _verb(count: Figure | None, one: str, many: str) -> str:
    """``one`` when the figure is 1, else ``many`` (words of a narrative sentence, never its numbers)."""
    return one if count is not None and count.value == 1 else many


class _Accounting:
    """Lays out the accounting results."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        memo = ctx.results("accounting")  # shared with any other report that reads the accounting analysis
        self.res: AccountingResults = memo if isinstance(memo, AccountingResults) else accounting.analyze(ctx)
        self.fig = self.res.figures
        self.cur = ctx.currency
        self.b = DocumentBuilder(ctx, "accounting", TITLE)
        self.b.figures_from(self.res)
        self.names = {e: (ctx.entities[e].name if e in ctx.entities else e) for e in self.res.ledgered}

    def text(self, fid: str) -> str:
        """A figure as report text (``n/a`` when absent)."""
        return show_figure(self.fig.get(fid), self.cur)

    def value(self, fid: str) -> Any:
        """A figure's value (None when absent)."""
        found = self.fig.get(fid)
        return None if found is None else found.value

    def build(self) -> Document:
        """The whole report."""
        without = [e for e in self.ctx.manifest.entities if e.id not in self.res.ledgered]
        for entity in without:
            self.b.missing(f"ledger of {entity.name} ({entity.id})",
                           "its expense audit, classification, deferred revenue and chart of accounts")  # fmt: skip
        if self.res.ledgered and self.res.capitalize_above is None:
            self.b.missing("policies.capitalize_above", "the capital-candidate / expensed classification")
        self.summary()
        if self.res.ledgered:
            self.audit()
            self.classification()
            self.deferred()
            self.chart()
        self.roadmap()
        return self.b.build()

    # --- summary ---------------------------------------------------------------------------
    def summary(self) -> None:
        """Summary first: the narrative and the headline figures with their comparisons, each from a figure."""
        b, fig = self.b, self.fig
        b.headline([fig.get(i) for i in (
            "audit.missing_receipts.count", "audit.missing_receipts.amount", "audit.uncategorized.count",
            "audit.uncategorized.amount", "deferred_revenue.portfolio", "classification.capital_candidate.amount",
        )])  # fmt: skip
        if not self.res.ledgered:
            b.narrative("No ledger data: there are no expenses to audit and no revenue to recognise.")
            return
        missing, uncategorized = fig.get("audit.missing_receipts.count"), fig.get("audit.uncategorized.count")
        b.narrative("{count} " + _verb(missing, "expense has", "expenses have") + " no receipt, {amount} in all.",
                    count=missing, amount=fig.get("audit.missing_receipts.amount"))  # fmt: skip
        if self.res.untracked:  # their expenses are not counted as missing: say why
            untracked = fig.get("audit.receipts_untracked.count")
            b.narrative("Receipts are not tracked in {files}: {count} " + _verb(untracked, "expense", "expenses")
                        + " ({amount}) have no receipt reference at all.",
                        files=", ".join(u.file for u in self.res.untracked), count=untracked,
                        amount=fig.get("audit.receipts_untracked.amount"))  # fmt: skip
        b.narrative("{count} " + _verb(uncategorized, "expense is", "expenses are") + " uncategorized, {amount} in "
                    "all.", count=uncategorized, amount=fig.get("audit.uncategorized.amount"))  # fmt: skip
        b.narrative("Deferred revenue stands at {deferred}: received for services not yet delivered.",
                    deferred=fig.get("deferred_revenue.portfolio"))  # fmt: skip
        capital = fig.get("classification.capital_candidate.count")
        b.narrative("{count} " + _verb(capital, "expense", "expenses") + " of the last twelve months, {amount} in "
                    "all, " + _verb(capital, "is", "are") + " above the capitalisation threshold and may be fixed "
                    "assets.", count=capital, amount=fig.get("classification.capital_candidate.amount"))  # fmt: skip

    def _entities_rows(self, ids: Sequence[str]) -> list[list[Any]]:
        rows: list[list[Any]] = [[self.names[e], *(self.value(f"{i}.{e}") for i in ids)] for e in self.res.ledgered]
        rows.append(["Portfolio", *(self.value(i) for i in ids)])
        return rows

    def worklist(self, sid: str, title: str, kind: str, note: str) -> None:
        """A worklist table: one row per finding of ``kind`` (largest first); every finding is in the JSON too."""
        items = sorted(self.res.worklists.get(kind, []), key=lambda i: (-i.amount, i.date, i.source))
        for item in self.res.worklists.get(kind, []):
            self.b.finding(item.finding)
        columns = [(t, self.cur if u == "money" else u) for t, u in WORKLIST_COLUMNS]
        # the report shows the first rows; the CSV beside it (and attached to the email) holds every row
        self.b.worklist(sid, title, columns, [self._row(i) for i in items], note=note if items else f"None. {note}")

    def _row(self, item: ExpenseItem) -> list[Any]:
        # every worklist row is on an Expenses account: the column leaves out that first segment (a narrow column)
        return [item.date.isoformat(), self.names.get(item.entity, item.entity), item.account.removeprefix("Expenses:"),
                paid_to(item.payee, item.description), item.amount, item.source]  # fmt: skip

    # --- sections --------------------------------------------------------------------------
    def audit(self) -> None:
        """Receipts and uncategorized expenses by entity, files that track no receipts, then the worklists."""
        as_of = self.ctx.as_of.isoformat()
        ids: tuple[str, ...] = ("audit.missing_receipts.count", "audit.missing_receipts.amount",
                                "audit.uncategorized.count", "audit.uncategorized.amount")  # fmt: skip
        columns = [("Entity", ""), ("No receipt (rows)", "count"), ("No receipt", self.cur),
                   ("Uncategorized (rows)", "count"), ("Uncategorized", self.cur)]  # fmt: skip
        self.b.table("audit", f"Expense audit: every expense up to {as_of}", columns, self._entities_rows(ids),
                     note="An expense row is a row on an Expenses account with a negative amount. 'No receipt' "
                          "counts only ledger files that track receipts.")  # fmt: skip
        if self.res.untracked:
            for source in self.res.untracked:
                self.b.finding(source.finding)
            self.b.table("receipts-untracked", f"Ledger files that track no receipts (expenses up to {as_of})",
                         [("Source", ""), ("Entities", ""), ("Expenses (rows)", "count"), ("Amount", self.cur),
                          ("Finding", "")],
                         [[u.file, ", ".join(self.names.get(e, e) for e in u.entities), u.rows, u.amount,
                           u.finding.id] for u in self.res.untracked],
                         note="A ledger file tracks receipts when one of its rows has a receipt value at all (a CSV "
                              "`receipt` column, beancount `receipt:` metadata). These files have none, so their "
                              "expenses are counted here, not one by one as missing receipts.")  # fmt: skip
        self.worklist("uncategorized", f"Uncategorized expenses (up to {as_of})", "uncategorized-expense",
                      "Expenses on an account whose last segment is Uncategorized: move each to the account that "
                      "says what was bought.")  # fmt: skip
        self.worklist("missing-receipts", f"Expenses without a receipt (up to {as_of})", "missing-receipt",
                      "Expense rows with an empty receipt in ledger files that track receipts: attach each receipt "
                      "and record its reference.")  # fmt: skip

    def classification(self) -> None:
        """The three classifications over the last 12 months, the recurring series, the capital candidates."""
        first = (self.ctx.window_start + dt.timedelta(days=1)).isoformat()
        window = f"{first} to {self.ctx.as_of.isoformat()}"
        for yes, no in CLASS_PAIRS:
            ids = [f"classification.{c}.{m}" for c in (yes, no) for m in ("count", "amount")]
            if ids[0] not in self.fig:
                continue
            self.b.table(f"class-{yes}", f"{CLASS_NAMES[yes]} vs {CLASS_NAMES[no].lower()}, {window}",
                         [("Entity", ""), *((t, u) for c in (yes, no) for t, u in
                                            ((f"{COLUMN_NAMES[c]} (rows)", "count"), (COLUMN_NAMES[c], self.cur)))],
                         self._entities_rows(ids), note=CLASS_NOTES.get(yes))  # fmt: skip
        self.recurring()
        if "classification.capital_candidate.count" in self.fig:
            threshold = money(self.res.capitalize_above or 0, self.cur)
            self.worklist("capital-candidates", f"Capital candidates, {window}", "capital-candidate",
                          f"Single expenses above policies.capitalize_above ({threshold}): decide which are fixed "
                          "assets to record and depreciate.")  # fmt: skip

    def recurring(self) -> None:
        """Every recurring expense series at as_of: cadence, typical payment, monthly equivalent, next date."""
        as_of = self.ctx.as_of.isoformat()
        series = sorted(self.res.recurring, key=lambda r: (self.res.ledgered.index(r.entity)
                                                           if r.entity in self.res.ledgered else 0,
                                                           not r.active, CADENCE_ORDER.index(r.cadence),
                                                           r.amount, r.payee))  # fmt: skip
        self.b.table(
            "recurring", f"Recurring expenses at {as_of} (detected from every expense up to {as_of})",
            [("Entity", ""), ("Paid to (account)", ""), ("Cadence", ""), ("Typical payment", self.cur),
             ("Per month", self.cur), ("Next expected", "date")],
            [[self.names.get(r.entity, r.entity), f"{r.counterparty} ({r.account.removeprefix('Expenses:')})",
              r.cadence if r.active else f"{r.cadence}, stopped (last paid {r.last_date.isoformat()})", -r.amount,
              None if r.monthly is None or not r.active else -r.monthly,
              r.next_date.isoformat() if r.next_date else None] for r in series],
            note=(f"Recurring expenses per month: {self.text('recurring.expenses.monthly')} (active series with a "
                  "calendar cadence). A series is one payee on one account; the typical payment is the mean of its "
                  "last 3 payment days; per-job costs are Expenses:COGS series with no calendar rhythm; a series "
                  "has stopped when its last payment is more than 1.5 intervals old. The rules are in "
                  "docs/reports/accounting.md."),
        )  # fmt: skip

    def deferred(self) -> None:
        """Deferred revenue by entity and its recognition schedule (the findings are in the JSON)."""
        as_of = self.ctx.as_of.isoformat()
        findings = {f.entity: f for f in self.res.findings if f.kind == "deferred-revenue"}
        for finding in findings.values():
            self.b.finding(finding)
        self.b.table("deferred", f"Deferred revenue at {as_of}",
                     [("Entity", ""), ("Deferred", self.cur), ("Rows", "count")],
                     [[self.names[e], self.value(f"deferred_revenue.{e}"),
                       sum(s.rows for s in self.res.schedule if s.entity == e)] for e in self.res.ledgered]
                     + [["Portfolio", self.value("deferred_revenue.portfolio"),
                         sum(s.rows for s in self.res.schedule)]],
                     note=f"Income received on or before {as_of} for a service_date after it: a liability until "
                          "the service is delivered.")  # fmt: skip
        self.b.table("recognition", f"Recognition schedule of the deferred revenue at {as_of}",
                     [("Entity", ""), ("Service month", ""), ("To recognise", self.cur), ("Rows", "count")],
                     [[self.names.get(s.entity, s.entity), s.month, s.amount, s.rows] for s in self.res.schedule],
                     note="Each amount becomes revenue in the month of its service_date.")  # fmt: skip

    def chart(self) -> None:
        """Every ledger account with its proposed GAAP statement line."""

        def order(item: accounting.ChartAccount) -> tuple[int, int, str, str]:
            g = item.gaap
            return (STATEMENT_ORDER.index(g.statement), SECTION_ORDER.index(g.section), g.line, item.account)

        everyone = len(self.res.ledgered) > 1

        def users(entities: tuple[str, ...]) -> str:
            if everyone and set(entities) >= set(self.res.ledgered):
                return f"all {len(entities)}"
            return ", ".join(self.names.get(e, e) for e in entities)

        rows = [[c.gaap.section, c.gaap.line, c.account, users(c.entities), c.rows_ttm, c.amount_ttm]
                for c in sorted(self.res.chart, key=order)]  # fmt: skip
        first = (self.ctx.window_start + dt.timedelta(days=1)).isoformat()
        self.b.table("chart", f"Proposed chart of accounts (GAAP statement lines), activity {first} to "
                              f"{self.ctx.as_of.isoformat()}",
                     [("Section", ""), ("Line", ""), ("Ledger account", ""), ("Entities", ""), ("Rows", "count"),
                      ("Net", self.cur)], rows,
                     note="Assets, Liabilities and Equity lines go on the balance sheet, the others on the income "
                          "statement. Rows and net amounts over the window, in the ledger's cash convention "
                          "(negative = money out); the mapping rules are in docs/reports/accounting.md.")  # fmt: skip

    def _gap_text(self, gap: Gap) -> str:
        names = ", ".join(self.ctx.entities[e].name if e in self.ctx.entities else e for e in gap.entities)
        amount = money(gap.amount, self.cur) if gap.amount is not None else ""
        if gap.kind == "no-ledger":
            return f"start a ledger for {names}"
        if gap.kind == "uncategorized":
            return f"recategorise {_plural(gap.count, 'uncategorized expense')} ({amount})"
        if gap.kind == "receipts-untracked":
            return (
                f"record receipts in the ledgers of {names}, which track none ({_plural(gap.count, 'expense')}, "
                f"{amount})"
            )
        if gap.kind == "missing-receipts":
            return f"collect receipts for {_plural(gap.count, 'expense')} ({amount}; {names})"
        if gap.kind == "capital-candidates":
            return (f"review {_plural(gap.count, 'capital candidate')} ({amount}; {names}) and record the fixed "
                    "assets with their depreciation")  # fmt: skip
        return f"defer {amount} received before its service date ({names}) and recognise it on the service dates"

    def roadmap(self) -> None:
        """The milestones, in order, each with its due date and the gaps it closes."""
        items = [
            f"{i}. {MILESTONE_TITLES[m.key]}, by {m.due.isoformat()}: "
            + "; ".join(self._gap_text(g) for g in m.gaps) + "."
            for i, m in enumerate(self.res.roadmap, 1)
        ]  # fmt: skip
        self.b.bullets("roadmap", "Milestone roadmap", items or ["No gap found: nothing to add to the roadmap."],
                       note="One milestone per kind of gap that exists, in this order; the k-th is due at the end of "
                            "the k-th month after the month of the report.")  # fmt: skip


def build(ctx: Context) -> Document:
    """The accounting report document."""
    return _Accounting(ctx).build()
