"""The CFO report: cash, burn and runway (honest cash), break-even, monthly P&L, expenses by line, working capital,
the balance sheet, revenue targets and policy compliance."""

from __future__ import annotations

from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.finance import PNL_LINES, PORTFOLIO, REVIEW_GRACE_DAYS, target_months
from execintel.analysis.model import Results
from execintel.formatting import show, show_figure
from execintel.reports import cfo_position
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.summary import above, trend

TITLE = "CFO report"
MONEY_LINES = ("Revenue", "COGS", "Operating expenses", "Net income")


class _Cfo:
    """Lays out the finance results as the CFO report."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        finance = ctx.results("finance")
        # the finance figures, and the findings of every analysis the report shows (forecast, working capital)
        findings = [*finance.findings, *ctx.results("workingcapital").findings, *ctx.results("forecast").findings]
        self.res = Results(dict(finance.figures), findings)
        self.fig = self.res.figures
        self.cur = ctx.currency
        self.b = DocumentBuilder(ctx, "cfo", TITLE)
        self.b.figures_from(self.res)
        self.ledgered = [e for e in ctx.manifest.entities if f"cash.{e.id}" in self.fig]
        self.no_ledger = [e for e in ctx.manifest.entities if f"cash.{e.id}" not in self.fig]

    def get(self, fid: str) -> Any:
        """A figure's value, or None when the figure is absent."""
        found = self.fig.get(fid)
        return None if found is None else found.value

    def text(self, fid: str) -> str:
        """A figure as report text (``n/a`` when absent)."""
        return show_figure(self.fig.get(fid), self.cur)

    def build(self) -> Document:
        """The whole report."""
        for entity in self.no_ledger:
            self.b.missing(f"ledger of {entity.name} ({entity.id})",
                           "its cash, P&L, trailing revenue and expenses, break-even and revenue targets")  # fmt: skip
        self.summary()
        self.cash()
        self.ttm()
        self.burn()
        cfo_position.honest_cash(self)
        cfo_position.forecast(self)
        self.break_even()
        self.pnl()
        cfo_position.expense_lines(self)
        cfo_position.working_capital(self)
        self.targets()
        self.compliance()
        self.b.findings_section("findings", "Findings", self.res.findings)
        for section in self.b.doc.sections:  # one chart per entity belongs with the targets, not in the summary
            if section["id"].startswith("revenue-target-"):
                self.b.place(section, "detail")
        return self.b.build()

    def _no_ledger_note(self) -> str | None:
        if not self.no_ledger:
            return None
        names = ", ".join(f"{e.name} ({e.id})" for e in self.no_ledger)
        return f"No ledger, so not included: {names}."

    # --- sections ------------------------------------------------------------------------------
    def summary(self) -> None:
        """Summary first: the narrative and the headline figures with their comparisons; the email is the summary."""
        b, fig = self.b, self.fig
        b.email_summary()
        month = self.ctx.complete_months(1)[0]
        current = self.ctx.as_of.strftime("%Y-%m")
        below_target = [e.id for e in self.ledgered if f"target.revenue.{e.id}.{current}" in fig]
        b.headline([fig.get(i) for i in (
            "cash.portfolio", "runway.days.portfolio", "runway.days.self_funded.portfolio",
            "runway.days.with_debt.portfolio", "burn.monthly.portfolio", "contributions.ttm.portfolio",
            "revenue.ttm.portfolio", "expenses.ttm.portfolio", f"pnl.portfolio.{month}.revenue",
            f"pnl.portfolio.{month}.net", *(f"pnl.{e}.{month}.revenue" for e in below_target),
        )])  # fmt: skip
        cash, runway, burn = (
            fig.get("cash.portfolio"),
            fig.get("runway.days.portfolio"),
            fig.get("burn.monthly.portfolio"),
        )
        if cash is None:
            b.narrative("No ledger data: cash, burn, runway and the P&L cannot be computed.")
            return
        before = b.compared("cash.portfolio", "previous")
        b.narrative("Cash on hand is {cash}, " + trend(cash, before) + " {before} a month before.", cash=cash,
                    before=before) or b.narrative("Cash on hand is {cash}.", cash=cash)  # fmt: skip
        policy = b.compared("runway.days.portfolio", "target")
        if runway is None:
            b.narrative("No month of the last three complete months burned cash, so runway is not limited by burn.")
        else:
            b.narrative("At a burn of {burn} a month that is {runway} of runway, " + above(runway, policy)
                        + " the policy minimum of {policy}.", burn=burn, runway=runway, policy=policy) or b.narrative(
                "At a burn of {burn} a month that is {runway} of runway.", burn=burn, runway=runway)  # fmt: skip
        b.narrative("Without the owners' recent contributions runway would be {own}.",
                    own=fig.get("runway.days.self_funded.portfolio"))  # fmt: skip
        b.narrative("Revenue over the last twelve months is {revenue} against expenses of {expenses}.",
                    revenue=fig.get("revenue.ttm.portfolio"), expenses=fig.get("expenses.ttm.portfolio"))  # fmt: skip
        revenue = fig.get(f"pnl.portfolio.{month}.revenue")
        earlier = b.compared(f"pnl.portfolio.{month}.revenue", "previous")
        b.narrative("Revenue last month was {revenue}, " + trend(revenue, earlier) + " {earlier} the month before.",
                    revenue=revenue, earlier=earlier) or b.narrative("Revenue last month was {revenue}.",
                                                                     revenue=revenue)  # fmt: skip

    def _runway_line(self) -> str:
        policy = self.ctx.manifest.policies.min_runway_days
        days = self.get("runway.days.portfolio")
        if days is None:
            return "Runway: not computed, because the portfolio did not burn cash in the last 3 complete months."
        line = f"Runway: {self.text('runway.days.portfolio')}"
        if policy is None:
            return line + " (no minimum runway policy is set)."
        verdict = "within policy" if days >= policy else "BELOW policy"
        return line + f" against a {show(policy)}-day policy minimum: {verdict}."

    def cash(self) -> None:
        """Cash on hand by entity and in total."""
        rows: list[list[Any]] = [[e.name, self.get(f"cash.{e.id}")] for e in self.ledgered]
        if "cash.portfolio" in self.fig:
            rows.append(["Portfolio", self.get("cash.portfolio")])
        self.b.table("cash", f"Cash on hand at {self.ctx.as_of.isoformat()}", [("Entity", ""), ("Cash", self.cur)],
                     rows, note=self._no_ledger_note())  # fmt: skip
        series = sorted(fid for fid in self.fig if fid.startswith("cash.month_end.") and fid.endswith(".portfolio"))
        for fid in series:
            self.b.figure(self.fig[fid])
        runway = f" (runway {self.text('runway.days.portfolio')})" if "runway.days.portfolio" in self.fig else ""
        self.b.chart("cash-chart", f"Cash on hand at month end{runway}", "line", self.cur,
                     [fid.split(".")[2] for fid in series],
                     series=[("Cash on hand", [self.fig[fid].value for fid in series])])  # fmt: skip

    def ttm(self) -> None:
        """Trailing-twelve-month revenue and expenses by entity."""
        rows: list[list[Any]] = [
            [e.name, self.get(f"revenue.ttm.{e.id}"), self.get(f"expenses.ttm.{e.id}")] for e in self.ledgered
        ]
        if "revenue.ttm.portfolio" in self.fig:
            rows.append(["Portfolio", self.get("revenue.ttm.portfolio"), self.get("expenses.ttm.portfolio")])
        start = self.ctx.window_start.isoformat()
        self.b.table("ttm", "Revenue and expenses, trailing 12 months",
                     [("Entity", ""), ("Revenue", self.cur), ("Expenses", self.cur)], rows,
                     note=f"Rows dated after {start} up to {self.ctx.as_of.isoformat()}. Revenue counts positive "
                          "Income amounts only (refunds are not netted); expenses are all Expenses accounts, "
                          "COGS included.")  # fmt: skip

    def burn(self) -> None:
        """Monthly net cash flow and burn, the average burn, and runway."""
        months = self.ctx.complete_months(3)
        if "burn.monthly.portfolio" not in self.fig:
            self.b.text("burn", "Burn and runway", [], note="Needs a ledger.")
            return
        rows = [[m, self.get(f"cashflow.net.{m}.portfolio"), self.get(f"burn.month.{m}.portfolio")] for m in months]
        self.b.table("burn", "Burn, last 3 complete months",
                     [("Month", ""), ("Net cash flow", self.cur), ("Burn", self.cur)], rows,
                     note="Net cash flow leaves out Equity and Liabilities rows (owner money and loans); "
                          "burn is the cash a month lost, 0 for a month that gained.")  # fmt: skip
        paragraphs = [f"Average monthly burn is {self.text('burn.monthly.portfolio')}."]
        if "runway.days.portfolio" in self.fig:
            paragraphs.append(f"At that burn, cash on hand of {self.text('cash.portfolio')} lasts "
                              f"{self.text('runway.days.portfolio')}. {self._runway_line()}")  # fmt: skip
        else:
            paragraphs.append("No month burned cash, so runway is not limited by burn and is not computed.")
        self.b.text("runway", "Runway", paragraphs)
        history = [fid for fid in self.fig if fid.startswith("runway.days.month_end.")]
        if history:
            months = sorted(fid.split(".")[2] for fid in self.fig if fid.startswith("cash.month_end."))
            values = [self.get(f"runway.days.month_end.{m}.portfolio") for m in months]
            for fid in history:
                self.b.figure(self.fig[fid])
            series: list[tuple[str, list[Any]]] = [("Runway (days)", values)]
            policy = self.ctx.manifest.policies.min_runway_days
            if policy is not None:
                series.append(("Policy minimum", [policy] * len(months)))
            self.b.chart("runway-chart", "Runway at month end", "line", "days", months, series=series,
                         note="Month-end cash over the average burn of the 3 complete months up to that month; "
                              "a month without a point had no burn.")  # fmt: skip

    def break_even(self) -> None:
        """Unit economics and break-even volume for each entity that declares them."""
        month = self.ctx.complete_months(1)[0]
        rows: list[list[Any]] = []
        for entity in self.ctx.manifest.entities:
            econ = entity.unit_economics
            if econ is None:
                continue
            e = entity.id
            rows.append([entity.name, econ.unit, econ.price, econ.variable_cost, self.get(f"unit_economics.margin.{e}"),
                         self.get(f"opex.monthly.{e}"), self.get(f"break_even.units.{e}"), econ.capacity_per_month,
                         self.get(f"units.booked.{e}.{month}"),
                         self.get(f"units.completed.{e}.{month}")])  # fmt: skip
        columns = [("Entity", ""), ("Unit", ""), ("Price", self.cur), ("Variable cost", self.cur),
                   ("Margin", self.cur), ("Opex a month", self.cur), ("Break-even units", "count"),
                   ("Capacity", "count"), (f"Booked {month}", "count"), (f"Completed {month}", "count")]  # fmt: skip
        months = self.ctx.complete_months(3)
        note = (
            f"Break-even = ceil(operating expenses a month, averaged over {months[0]} to {months[-1]}, / margin); "
            "operating expenses are all Expenses accounts except Expenses:COGS. Blank cells: no data."
        )
        self.b.table("break-even", "Break-even", columns, rows,
                     note=note if rows else "No entity declares unit_economics (price, variable_cost).")  # fmt: skip

    def _pnl_rows(self, who: str) -> list[list[Any]]:
        rows = []
        for month in self._pnl_months():
            if f"pnl.{who}.{month}.net" in self.fig:
                rows.append([month, *(self.get(f"pnl.{who}.{month}.{line}") for line in PNL_LINES)])
        return rows

    def _pnl_months(self) -> list[str]:
        return sorted({fid.split(".")[2] for fid in self.fig if fid.startswith(f"pnl.{PORTFOLIO}.")})

    def pnl(self) -> None:
        """The monthly P&L of the portfolio, then of each entity."""
        columns = [("Month", ""), *((title, self.cur) for title in MONEY_LINES)]
        note = "COGS = Expenses:COGS and its sub-accounts; operating expenses = the other Expenses accounts."
        if not self._pnl_months():
            self.b.table("pnl", "Monthly P&L", columns, [], note="Needs a ledger.")
            return
        as_of_month = self._pnl_months()[-1]
        self.b.table("pnl", "Monthly P&L, portfolio", columns, self._pnl_rows(PORTFOLIO),
                     note=f"{note} {as_of_month} runs to {self.ctx.as_of.isoformat()} only.")  # fmt: skip
        for entity in self.ledgered:
            self.b.table(f"pnl-{entity.id}", f"Monthly P&L, {entity.name}", columns, self._pnl_rows(entity.id))

    def targets(self) -> None:
        """Monthly revenue targets reaching break-even by the end of the next calendar quarter."""
        months = target_months(self.ctx.as_of)
        rows: list[list[Any]] = []
        for entity in self.ledgered:
            e = entity.id
            if f"target.revenue.{e}.{months[-1]}" not in self.fig:
                continue
            rows.append([entity.name, self.get(f"revenue.monthly.{e}"),
                         *(self.get(f"target.revenue.{e}.{m}") for m in months),
                         self.get(f"break_even.revenue.{e}")])  # fmt: skip
        columns = [("Entity", ""), ("Revenue a month now", self.cur), *((m, self.cur) for m in months),
                   ("Break-even revenue", self.cur)]  # fmt: skip
        last3 = self.ctx.complete_months(3)
        note = (
            f"Now = average monthly revenue of {last3[0]} to {last3[-1]}. Month k of {len(months)}: now + "
            f"(break-even - now) * k / {len(months)}, reaching break-even in {months[-1]}. Break-even revenue is "
            "break-even units * price, or average monthly expenses for entities without unit economics. Only "
            "entities below break-even are listed."
        )
        self.b.table("targets", f"Revenue targets to break-even by {months[-1]}", columns, rows, note=note)
        past = self._pnl_months()
        for entity in self.ledgered:
            e = entity.id
            if f"target.revenue.{e}.{months[-1]}" not in self.fig:
                continue
            x = [*past, *(m for m in months if m not in past)]
            actual = [self.get(f"pnl.{e}.{m}.revenue") if m in past and m != past[-1] else None for m in x]
            target = [self.get(f"target.revenue.{e}.{m}") for m in x]
            self.b.chart(f"revenue-target-{e}", f"Revenue vs target, {entity.name}", "bar", self.cur, x,
                         series=[("Revenue", actual), ("Target", target)],
                         note=f"{past[-1]} is not complete on the report date: no actual bar.")  # fmt: skip

    def compliance(self) -> None:
        """Each financial policy: requirement, actual, status."""
        policies = self.ctx.manifest.policies
        rows: list[list[Any]] = []
        days = self.get("runway.days.portfolio")
        if policies.min_runway_days is None:
            rows.append(["Minimum runway", "not set", self.text("runway.days.portfolio"), "no policy"])
        else:
            actual = self.text("runway.days.portfolio") if days is not None else "not limited (no burn)"
            status = "not measured" if "cash.portfolio" not in self.fig else (
                "not met" if days is not None and days < policies.min_runway_days else "met")  # fmt: skip
            rows.append(["Minimum runway", f"at least {show(policies.min_runway_days, 'days')}", actual, status])
            low = self.get("runway.days.month_end.min.portfolio")
            if low is not None:
                month = self.fig["runway.days.month_end.min.portfolio"].name.rsplit("(", 1)[-1].rstrip(")")
                rows.append(["Minimum runway, every month end of the last 6 complete months",
                             f"at least {show(policies.min_runway_days, 'days')}", f"lowest {show(low, 'days')} "
                             f"({month})", "not met" if low < policies.min_runway_days else "met"])  # fmt: skip
        debts = [(e, d) for e in self.ctx.manifest.entities for d in e.debts]
        unapproved = [f for f in self.res.findings if f.kind == "unapproved-debt"]
        if not policies.debt_requires_board_approval:
            rows.append(["Debt approval", "not required", f"{len(debts)} debts declared", "no policy"])
        else:
            amount = sum((f.amount for f in unapproved if f.amount is not None), start=0)
            actual = (f"{len(unapproved)} of {len(debts)} debts not approved ({show(amount, self.cur, self.cur)})"
                      if unapproved else f"all {len(debts)} debts approved")  # fmt: skip
            rows.append(["Debt approval", "board approval for every debt", actual, "not met" if unapproved else "met"])
        overdue = [f for f in self.res.findings if f.kind == "cash-review-overdue"]
        if policies.cash_review is None:
            rows.append(["Cash review", "not set", "", "no policy"])
        elif not self.ledgered:
            rows.append(["Cash review", policies.cash_review, "no ledger to review", "not measured"])
        else:
            grace = REVIEW_GRACE_DAYS[policies.cash_review]
            who = ", ".join(f.entity or "" for f in overdue)
            actual = (f"{len(overdue)} of {len(self.ledgered)} ledgers older than that ({who})" if overdue
                      else f"all {len(self.ledgered)} ledgers current")  # fmt: skip
            rows.append(["Cash review", f"{policies.cash_review}: every ledger's newest row at most {grace} days old",
                         actual, "not met" if overdue else "met"])  # fmt: skip
        self.b.table("compliance", "Policy compliance",
                     [("Policy", ""), ("Requirement", ""), ("Actual", ""), ("Status", "")], rows)  # fmt: skip


def build(ctx: Context) -> Document:
    """The CFO report document."""
    return _Cfo(ctx).build()
