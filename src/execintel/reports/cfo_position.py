"""The CFO report's position sections: honest cash, the 13-week forecast, working capital, the balance sheet and
expenses by P&L line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execintel.analysis.expenselines import ORDER, TITLES
from execintel.analysis.forecast import CASES, LINES, ForecastResults, as_rows
from execintel.analysis.workingcapital import AGING, BALANCE_LINES, WorkingCapitalResults
from execintel.formatting import show

if TYPE_CHECKING:
    from execintel.reports.cfo import _Cfo

CASH_BASIS = ("Cash basis: every amount counts on the date the money moved (the ledger's date), not when it was "
              "earned or billed.")  # fmt: skip


def honest_cash(cfo: _Cfo) -> None:
    """What cash and runway are made of: bank versus other assets, owner money, debt service."""
    if "cash.portfolio" not in cfo.fig:
        return
    b, ctx = cfo.b, cfo.ctx
    months = ctx.complete_months(3)
    recent = f"{months[0]}-01"
    ids = ["cash.portfolio", "cash.bank.portfolio", "cash.other.portfolio", "contributions.ttm.portfolio",
           "contributions.recent.portfolio", "burn.monthly.portfolio", "burn.monthly.with_debt.portfolio",
           "runway.days.portfolio", "runway.days.with_debt.portfolio", "runway.days.self_funded.portfolio",
           "runway.days.month_end.min.portfolio"]  # fmt: skip
    other = cfo.get("cash.other.portfolio") or 0
    uses = (f"All three runways divide cash on hand ({cfo.text('cash.portfolio')}), which includes "
            f"{cfo.text('cash.other.portfolio')} held in investment, retirement or other non-bank accounts at cost: "
            f"on cash and bank accounts alone ({cfo.text('cash.bank.portfolio')}) runway is shorter."
            if other else "All three runways divide cash on hand, which is all in cash and bank accounts.")  # fmt: skip
    note = (f"Runway uses the operating burn (Equity and Liabilities rows left out); runway with debt service counts "
            f"loan drawdowns and repayments in the burn; self-funded runway first takes away the owner contributions "
            f"since {recent}. {uses}")  # fmt: skip
    policy = ctx.manifest.policies.min_runway_days
    low = cfo.get("runway.days.month_end.min.portfolio")
    if policy is not None and low is not None:
        verdict = "below" if low < policy else "within"
        note += f" The lowest month-end runway of the last 6 complete months is {verdict} the {show(policy)}-day "
        note += "policy."
    b.figures_section("honest-cash", "Honest cash: what runway rests on", ids, note=note)
    rows: list[list[Any]] = [[e.name, cfo.get(f"cash.bank.{e.id}"), cfo.get(f"cash.other.{e.id}"),
                              cfo.get(f"contributions.ttm.{e.id}"), cfo.get(f"contributions.recent.{e.id}")]
                             for e in cfo.ledgered]  # fmt: skip
    rows.append(["Portfolio", *(cfo.get(f"{k}.portfolio") for k in ("cash.bank", "cash.other", "contributions.ttm",
                                                                   "contributions.recent"))])  # fmt: skip
    b.table("owner-money", "Cash by kind of account and owner contributions, by entity",
            [("Entity", ""), ("Cash and bank", cfo.cur), ("Other assets", cfo.cur),
             ("Contributed, 12 months", cfo.cur), (f"Contributed since {recent}", cfo.cur)], rows,
            note="Contributions are positive amounts on Equity accounts other than Equity:Opening-Balances (and its "
                 "sub-accounts); 12 months = the 12 months ending at the report date.")  # fmt: skip


def working_capital(cfo: _Cfo) -> None:
    """Receivables ageing, loans, deferred revenue by entity; the liabilities accounts."""
    res = cfo.ctx.results("workingcapital")
    if not isinstance(res, WorkingCapitalResults):
        return
    b, cur = cfo.b, cfo.cur
    b.figures_from(res)
    billing = cfo.ctx.results("billing").figures
    names = {e.id: e.name for e in cfo.ctx.manifest.entities}
    if res.receivable_entities:
        rows: list[list[Any]] = []
        for e in res.receivable_entities:
            cells = [billing[f"billing.{e}.{suffix}"] for _, suffix, _ in AGING]
            total = billing[f"billing.{e}.receivables.outstanding"]
            for fig in (*cells, total):
                b.figure(fig)
            rows.append([names.get(e, e), *(f.value for f in cells), total.value])
        rows.append(["Portfolio", *(cfo_value(res, f"receivables.{k}.portfolio") for k, _, _ in AGING),
                     cfo_value(res, "receivables.outstanding.portfolio")])  # fmt: skip
        b.table("receivables", f"Receivables ageing at {cfo.ctx.as_of.isoformat()}",
                [("Entity", ""), *((title, cur) for _, _, title in AGING), ("Outstanding", cur)], rows,
                note="From invoice and payment events (the billing audit's data); days overdue = days past the "
                     "due date at the report date.")  # fmt: skip
    else:
        b.text(
            "receivables",
            "Receivables ageing",
            [],
            note="No entity has invoice events (type invoice, with due dates): receivables are not tracked.",
        )
    if res.ledgered:
        rows = [[names.get(e, e), cfo_value(res, f"balance.assets.cash_bank.{e}"),
                 _billing_value(billing, f"billing.{e}.receivables.outstanding"),
                 cfo_value(res, f"deferred_revenue.{e}"), cfo_value(res, f"loans.balance.{e}"),
                 cfo_value(res, f"loans.declared.{e}")] for e in res.ledgered]  # fmt: skip
        rows.append(["Portfolio", *(cfo_value(res, f"{k}.portfolio") for k in (
            "balance.assets.cash_bank", "receivables.outstanding", "deferred_revenue", "loans.balance",
            "loans.declared"))])  # fmt: skip
        b.table("working-capital", "Working capital by entity",
                [("Entity", ""), ("Cash and bank", cur), ("Receivables", cur), ("Deferred revenue", cur),
                 ("Loans (ledger)", cur), ("Debt declared", cur)], rows,
                note="Deferred revenue = money received for services after the report date (owed as service, "
                     "accrual view). Loans (ledger) = drawdowns less repayments on Liabilities loan accounts; debt "
                     "declared = principal in the manifest. A blank cell: no such data.")  # fmt: skip
    if res.liabilities:
        b.table("liabilities", "Liabilities by account (ledger)",
                [("Entity", ""), ("Account", ""), ("Line", ""), ("Drawn", cur), ("Repaid", cur), ("Balance", cur)],
                [[names.get(a.entity, a.entity), a.account, a.line, a.drawdowns, a.repayments, a.balance]
                 for a in res.liabilities],
                note="A negative balance means the ledger repays a loan whose balance it never recorded.")  # fmt: skip
    balance_sheet(cfo, res)


def balance_sheet(cfo: _Cfo, res: WorkingCapitalResults) -> None:
    """Assets, liabilities and equity of each entity, from its ledger."""
    if not res.ledgered:
        return
    names = {e.id: e.name for e in cfo.ctx.manifest.entities}
    keys = [k for k, _ in BALANCE_LINES]
    columns = [("Entity", ""), *((title.split(" (")[0], cfo.cur) for _, title in BALANCE_LINES)]
    every = [*res.ledgered, "portfolio"]
    rows = [[names.get(e, e), *(cfo_value(res, f"balance.{k}.{e}") for k in keys)] for e in every]
    rows[-1][0] = "Portfolio"
    cfo.b.table("balance-sheet", f"Balance sheet by entity at {cfo.ctx.as_of.isoformat()}", columns, rows,
                note=f"{CASH_BASIS} Total assets = liabilities + total equity. Other assets are investment and "
                     "retirement accounts and non-cash assets bought (at cost); owner equity = opening balances and "
                     "contributions less draws; retained earnings = all income less all expenses to date. "
                     "Receivables and deferred revenue are not on this cash-basis sheet (see working "
                     "capital).")  # fmt: skip


def expense_lines(cfo: _Cfo) -> None:
    """Expenses by P&L line, trailing 12 months and a month lately, with their basis."""
    if "expenses.ttm.portfolio" not in cfo.fig:
        return
    rows: list[list[Any]] = []
    for key in ORDER:
        if f"expenses.line.{key}.ttm.portfolio" in cfo.fig:
            rows.append([TITLES[key], cfo.get(f"expenses.line.{key}.ttm.portfolio"),
                         cfo.get(f"expenses.line.{key}.monthly.portfolio")])  # fmt: skip
    rows.append(["Total", cfo.get("expenses.ttm.portfolio"), None])
    months = cfo.ctx.complete_months(3)
    note = (f"{CASH_BASIS} Lines come from the ledger's Expenses account names (COGS included). A month = average "
            f"of {months[0]} to {months[-1]}.")  # fmt: skip
    cloud = cfo.ctx.results("cloud").figures.get("cloud.spend.monthly")
    if cloud is not None and "expenses.line.cloud.monthly.portfolio" in cfo.fig:
        cfo.b.figure(cloud)
        note += (f" The CTO report's cloud spend ({show(cloud.value, cloud.unit, cfo.cur)} a month) comes from the "
                 f"provider's cost export by billing month, so it can differ from the ledger's cloud line "
                 f"({cfo.text('expenses.line.cloud.monthly.portfolio')} a month): payments lag bills, and some "
                 "cloud costs may be paid through other accounts.")  # fmt: skip
    cfo.b.table("expense-lines", "Expenses by P&L line, portfolio",
                [("Line", ""), ("Trailing 12 months", cfo.cur), ("A month, last 3 months", cfo.cur)], rows,
                note=note)  # fmt: skip


def cfo_value(res: WorkingCapitalResults, fid: str) -> Any:
    """A working-capital figure's value, or None when absent."""
    found = res.figures.get(fid)
    return None if found is None else found.value


def _billing_value(figures: dict[str, Any], fid: str) -> Any:
    found = figures.get(fid)
    return None if found is None else found.value


def forecast(cfo: _Cfo) -> None:
    """The 13-week cash forecast: chart, weekly table, what it is made of, the recurring series it projects."""
    res = cfo.ctx.results("forecast")
    if not isinstance(res, ForecastResults) or "forecast.opening.portfolio" not in res.figures:
        return
    b, cur = cfo.b, cfo.cur
    b.figures_from(res)
    weeks = [w.isoformat() for w in res.weeks]
    base, low = as_rows(res, "base"), as_rows(res, "low")
    series: list[tuple[str, list[Any]]] = [("Base case", [r[3] for r in base]), ("Low case", [r[3] for r in low])]
    minimum = res.figures.get("forecast.minimum.portfolio")
    if minimum is not None:
        series.append(("Policy minimum", [minimum.value] * len(weeks)))
    flagged = []
    for case in CASES:
        found = res.figures.get(f"forecast.{case}.first_week_below_minimum")
        if found is not None and isinstance(found.value, int):
            flagged.append(f"{case} case: week {found.value} (from {weeks[found.value - 1]})")
    limit = "the policy minimum" if minimum is not None else "zero"
    verdict = (f"First week below {limit}: {'; '.join(flagged)}." if flagged
               else f"No week falls below {limit} in either case.")  # fmt: skip
    b.chart("forecast-chart", f"Cash forecast, 13 weeks from {weeks[0]} (closing cash by week)", "line", cur,
            [w[5:] for w in weeks], series=series, note=verdict)  # fmt: skip
    opening = show(res.figures["forecast.opening.portfolio"].value, cur, cur)
    first = {case: res.figures.get(f"forecast.{case}.first_week_below_minimum") for case in CASES}
    rows: list[list[Any]] = []
    for week, (b0, l0) in enumerate(zip(base, low, strict=True), start=1):
        marks = [f"{case} case first below {limit}" for case, fig in first.items() if fig and fig.value == week]
        rows.append([b0[0] + (f" ({'; '.join(marks)})" if marks else ""), b0[1], b0[2], b0[3], l0[3]])
    b.table("forecast", "13-week cash forecast (direct method)",
            [("Week from", ""), ("Receipts", cur), ("Payments", cur), ("Closing cash", cur),
             ("Closing cash, low case", cur)], rows,
            note=f"Opens with the cash in cash and bank accounts ({opening}). "
                 f"{verdict} Base case: recurring receipts and payments at their detected cadence, loan "
                 "repayments and interest, open invoices on their due dates (overdue ones in week 1, none more "
                 "than 90 days overdue), and everything else at the run rate of the last 3 complete months. Low "
                 "case: recurring receipts -25%, other receipts -50%, invoices paid 4 weeks late and none more "
                 "than 60 days overdue; payments unchanged. No new owner money or loans.")  # fmt: skip
    made = [[title, res.figures[f"forecast.base.{key}.total"].value, res.figures[f"forecast.low.{key}.total"].value]
            for key, title, _ in LINES]  # fmt: skip
    b.table("forecast-lines", "What the forecast is made of (13 weeks)",
            [("Line", ""), ("Base case", cur), ("Low case", cur)], made,
            note="Cash convention: receipts positive, payments negative.")  # fmt: skip
    names = {e.id: e.name for e in cfo.ctx.manifest.entities}
    b.table("forecast-series", "Recurring receipts and payments projected",
            [("Entity", ""), ("Payee", ""), ("Account", ""), ("Cadence", ""), ("Amount", cur), ("Next", "")],
            [[names.get(s.entity, s.entity), s.counterparty, s.account, s.cadence, s.amount,
              s.next_date.isoformat() if s.next_date else None] for s in res.series],
            note="Amount = the typical occurrence (mean of the last 3), cash convention. The rules are the "
                 "accounting report's recurring-expense rules.")  # fmt: skip
