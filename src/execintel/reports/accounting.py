"""The accounting report: expense audit, expense classification, deferred revenue, chart of accounts, roadmap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from execintel.analysis import accounting
from execintel.analysis.accounting import CLASS_NAMES, CLASS_PAIRS, AccountingResults, Gap
from execintel.analysis.context import Context
from execintel.analysis.model import Figure
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import money, show_figure

TITLE = "Accounting report"
LISTED = 25  # findings of one kind shown in a section (largest first); the JSON holds all of them
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
MILESTONE_TITLES = {
    "books": "Complete the books",
    "expense-records": "Clean up the expense records",
    "fixed-assets": "Start a fixed-asset register",
    "accrual": "Adopt accrual revenue recognition (ASC 606)",
}


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

    def _listed(self, sid: str, title: str, kind: str) -> None:
        found = [f for f in self.res.findings if f.kind == kind]
        for finding in found:
            self.b.finding(finding)  # every finding is in the JSON, even the ones the section leaves out
        shown = sorted(found, key=lambda f: -(f.amount or 0))[:LISTED]
        note = (f"The {LISTED} largest of {len(found):,} are listed; the report JSON lists every one."
                if len(found) > LISTED else None)  # fmt: skip
        self.b.findings_section(sid, title, shown, note=note)

    # --- sections --------------------------------------------------------------------------
    def audit(self) -> None:
        """Missing receipts and uncategorized expenses by entity, then the findings."""
        ids = ("audit.missing_receipts.count", "audit.missing_receipts.amount", "audit.uncategorized.count",
               "audit.uncategorized.amount")  # fmt: skip
        self.b.table("audit", "Expense audit (every expense row up to the report date)",
                     [("Entity", ""), ("No receipt (rows)", "count"), ("No receipt", self.cur),
                      ("Uncategorized (rows)", "count"), ("Uncategorized", self.cur)], self._entities_rows(ids),
                     note="An expense row is a row on an Expenses account with a negative amount.")  # fmt: skip
        self._listed("uncategorized", "Uncategorized expenses", "uncategorized-expense")
        self._listed("missing-receipts", "Expenses without a receipt", "missing-receipt")

    def classification(self) -> None:
        """The three classifications over the last 12 months, recurring payees, capital candidates."""
        window = f"{self.ctx.window_start.isoformat()} < date <= {self.ctx.as_of.isoformat()}"
        for yes, no in CLASS_PAIRS:
            ids = [f"classification.{c}.{m}" for c in (yes, no) for m in ("count", "amount")]
            if ids[0] not in self.fig:
                continue
            self.b.table(f"class-{yes}", f"{CLASS_NAMES[yes]} vs {CLASS_NAMES[no].lower()}, last 12 months",
                         [("Entity", ""), *((t, u) for c in (yes, no) for t, u in
                                            ((f"{COLUMN_NAMES[c]} (rows)", "count"), (COLUMN_NAMES[c], self.cur)))],
                         self._entities_rows(ids),
                         note=self.fig[ids[0]].formula if yes == "recurring" else None)  # fmt: skip
        self.b.table(
            "recurring-payees", "Recurring payees, last 12 months",
            [("Entity", ""), ("Payee", ""), ("Payments", "count"), ("Paid", self.cur), ("Monthly gaps", "count"),
             ("Months paid", "count")],
            [[self.names.get(p.entity, p.entity), p.payee, p.payments, p.amount, p.monthly_intervals, p.months]
             for p in self.res.recurring],
            note=f"Expense rows with {window}; 'Monthly gaps' and 'Months paid' count every payment up to the "
                 "report date.",
        )  # fmt: skip
        if "classification.capital_candidate.count" in self.fig:
            self._listed("capital-candidates", "Capital candidates (last 12 months)", "capital-candidate")

    def deferred(self) -> None:
        """Deferred revenue by entity, the findings and the recognition schedule."""
        as_of = self.ctx.as_of.isoformat()
        self.b.table("deferred", f"Deferred revenue at {as_of}", [("Entity", ""), ("Deferred", self.cur)],
                     [[self.names[e], self.value(f"deferred_revenue.{e}")] for e in self.res.ledgered]
                     + [["Portfolio", self.value("deferred_revenue.portfolio")]],
                     note=f"Income received on or before {as_of} for a service_date after it.")  # fmt: skip
        self.b.findings_section("deferred-findings", "Revenue received before it is earned",
                                [f for f in self.res.findings if f.kind == "deferred-revenue"])  # fmt: skip
        self.b.table("recognition", "Recognition schedule of the deferred revenue",
                     [("Entity", ""), ("Service month", ""), ("To recognise", self.cur), ("Rows", "count")],
                     [[self.names.get(s.entity, s.entity), s.month, s.amount, s.rows] for s in self.res.schedule],
                     note="Each amount becomes revenue in the month of its service_date.")  # fmt: skip

    def chart(self) -> None:
        """Every ledger account with its proposed GAAP statement line."""

        def order(item: accounting.ChartAccount) -> tuple[int, int, str, str]:
            g = item.gaap
            return (STATEMENT_ORDER.index(g.statement), SECTION_ORDER.index(g.section), g.line, item.account)

        rows = [[c.gaap.statement, c.gaap.section, c.gaap.line, c.account, ", ".join(c.entities), c.rows_ttm,
                 c.amount_ttm] for c in sorted(self.res.chart, key=order)]  # fmt: skip
        self.b.table("chart", "Proposed chart of accounts (GAAP statement lines)",
                     [("Statement", ""), ("Section", ""), ("Line", ""), ("Ledger account", ""), ("Entities", ""),
                      ("Rows, 12 months", "count"), ("Net, 12 months", self.cur)], rows,
                     note="Net amounts are in the ledger's cash convention (negative = money out); the mapping rules "
                          "are in docs/reports/accounting.md.")  # fmt: skip

    def _gap_text(self, gap: Gap) -> str:
        names = ", ".join(self.ctx.entities[e].name if e in self.ctx.entities else e for e in gap.entities)
        amount = money(gap.amount, self.cur) if gap.amount is not None else ""
        if gap.kind == "no-ledger":
            return f"start a ledger for {names}"
        if gap.kind == "uncategorized":
            return f"recategorise {_plural(gap.count, 'uncategorized expense')} ({amount})"
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
