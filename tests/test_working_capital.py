"""Working capital, the balance sheet and expenses by P&L line in the CFO report, on hand-computed portfolios."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.analysis.expenselines import expense_line
from execintel.render.text import render_text
from execintel.reports import build_report
from helpers import context

# as_of 2026-11-15: 12 months = 2025-11-15 < date <= 2026-11-15; last 3 complete months = 2026-08 .. 2026-10
SHOP = """date,account,amount,description
2025-06-01,Equity:Opening-Balances,10000,opening
2025-07-01,Liabilities:Loans:Bank,20000,loan drawdown
2025-07-02,Assets:Equipment,-8000,van bought with cash
2025-10-01,Expenses:Cloud:AWS,-999,before the 12 months
2026-01-10,Liabilities:Loans:Bank,-1500,loan repayment
2026-03-01,Income:Sales,5000,sales
2026-03-05,Expenses:Cloud:AWS,-120,cloud
2026-04-05,Expenses:Cloud:AWS,-130,cloud
2026-09-05,Expenses:Cloud:AWS,-150,cloud
2026-09-06,Expenses:Email,-20,mailboxes
2026-09-07,Expenses:COGS:Payment-Processing,-45,card fees
2026-10-01,Expenses:Domains,-15,domain renewal
2026-10-02,Expenses:Payroll,-2000,wages
2026-10-03,Expenses:COGS:Parts,-400,parts
2026-10-04,Expenses:Office,-60,paper
2026-10-20,Equity:Owner-Draws,-500,draw
"""
# cash.shop = 10000 + 20000 - 8000 - 999 - 1500 + 5000 - 120 - 130 - 150 - 20 - 45 - 15 - 2000 - 400 - 60 - 500
#           = 21061 (all of it in the CSV ledger's implicit cash account)
# balance sheet: other assets = the van, 8000; total assets 29061; liabilities 20000 - 1500 = 18500;
#   owner equity 10000 - 500 = 9500; retained = 5000 - (999 + 120 + 130 + 150 + 20 + 45 + 15 + 2000 + 400 + 60)
#   = 5000 - 3939 = 1061; total equity 10561; 18500 + 10561 = 29061
RENTAL = "date,account,amount\n2026-01-01,Equity:Opening-Balances,3000\n2026-02-01,Liabilities:Mortgage,-700\n"
# cash.rental = 2300; the mortgage is only repaid: loan balance -700 and a loan-balance-not-recorded finding


def _invoice(day: str, number: str, amount: int, due: str) -> dict[str, Any]:
    return {"ts": f"{day}T12:00:00Z", "entity": "shop", "type": "invoice", "customer": "acme", "client": "acme",
            "amount": amount, "invoice": number, "due": due}  # fmt: skip


def _payment(day: str, number: str, amount: int) -> dict[str, Any]:
    return {"ts": f"{day}T12:00:00Z", "entity": "shop", "type": "payment", "customer": "acme", "client": "acme",
            "amount": amount, "invoice": number}  # fmt: skip


EVENTS = [
    _invoice("2026-11-01", "INV-1", 1000, "2026-11-20"),  # not yet due
    _invoice("2026-11-01", "INV-6", 100, "2026-11-15"),  # due on as_of: not yet overdue
    _invoice("2026-10-01", "INV-2", 500, "2026-11-01"),  # 14 days overdue
    _invoice("2026-08-01", "INV-3", 700, "2026-09-01"),  # 75 days overdue, 200 paid: 500 outstanding
    _invoice("2026-06-01", "INV-4", 300, "2026-07-01"),  # 137 days overdue
    _invoice("2026-09-01", "INV-5", 400, "2026-10-01"),  # paid in full
    _payment("2026-09-10", "INV-3", 200),
    _payment("2026-10-05", "INV-5", 400),
]
# ageing: current 1000 + 100 = 1100; 1-30: 500; 31-60: 0; 61-90: 500; over 90: 300; outstanding 2400


@pytest.fixture
def ctx(write_portfolio: WritePortfolio) -> Context:
    """The shop (ledger, invoices, a declared loan) and the rental (a mortgage the ledger only repays)."""
    entities = [
        {"id": "shop", "name": "Shop", "ledger": "shop.csv", "events": "events.jsonl",
         "debts": [{"lender": "Bank", "principal": 20000, "board_approved": True}]},
        {"id": "rental", "name": "Rental", "ledger": "rental.csv"},
    ]  # fmt: skip
    files = {"shop.csv": SHOP, "rental.csv": RENTAL, "events.jsonl": "\n".join(json.dumps(e) for e in EVENTS)}
    return context(write_portfolio(base_manifest(entities=entities), files), as_of="2026-11-15")


def _values(ctx: Context, analysis: str) -> dict[str, Any]:
    return {fid: fig.value for fid, fig in ctx.results(analysis).figures.items()}


def test_receivables_ageing_buckets_summed_from_the_billing_audit(ctx: Context) -> None:
    values = _values(ctx, "workingcapital")
    buckets = {k: values[f"receivables.{k}.portfolio"] for k in ("current", "1-30", "31-60", "61-90", "over-90")}
    assert buckets == {"current": 1100, "1-30": 500, "31-60": 0, "61-90": 500, "over-90": 300}
    assert values["receivables.outstanding.portfolio"] == Decimal(2400)


def test_balance_sheet_balances_on_the_cash_basis(ctx: Context) -> None:
    values = _values(ctx, "workingcapital")
    shop = {k: values[f"balance.{k}.shop"] for k in ("assets.cash_bank", "assets.other", "assets", "liabilities",
                                                      "equity.contributed", "equity.retained", "equity")}  # fmt: skip
    assert shop == {"assets.cash_bank": 21061, "assets.other": 8000, "assets": 29061, "liabilities": 18500,
                    "equity.contributed": 9500, "equity.retained": 1061, "equity": 10561}  # fmt: skip
    assert values["balance.assets.portfolio"] == Decimal(29061 + 2300)
    assert values["balance.assets.portfolio"] == values["balance.liabilities.portfolio"] + values[
        "balance.equity.portfolio"]  # fmt: skip


def test_loan_balances_and_a_loan_the_ledger_only_repays(ctx: Context) -> None:
    values = _values(ctx, "workingcapital")
    assert values["loans.balance.shop"] == Decimal(18500)
    assert values["loans.declared.shop"] == Decimal(20000)
    assert values["loans.balance.rental"] == Decimal(-700)
    assert values["loans.balance.portfolio"] == Decimal(17800)
    [finding] = ctx.results("workingcapital").findings
    assert (finding.kind, finding.entity, finding.subject) == ("loan-balance-not-recorded", "rental",
                                                               "Liabilities:Mortgage")  # fmt: skip


def test_expenses_by_pnl_line_add_up_to_the_expenses(ctx: Context) -> None:
    values = _values(ctx, "finance")
    lines = {fid.split(".")[2]: v for fid, v in values.items() if fid.startswith("expenses.line.") and
             fid.endswith(".ttm.shop")}  # fmt: skip
    # the 999 of 2025-10-01 is before the 12 months; Parts is COGS no line names; Office no line names
    assert lines == {"cloud": 400, "email": 20, "payment-processing": 45, "domains": 15, "payroll": 2000,
                     "cogs-other": 400, "other": 60}  # fmt: skip
    assert sum(lines.values()) == values["expenses.ttm.shop"] == Decimal(2940)
    assert values["expenses.line.cloud.monthly.portfolio"] == Decimal(50)  # 150 in Aug..Oct, / 3
    assert "cash basis" in ctx.results("finance").figures["expenses.line.cloud.ttm.portfolio"].formula


@pytest.mark.parametrize(
    ("account", "line"),
    [("Expenses:Cloud:AWS", "cloud"), ("Expenses:Hosting", "cloud"), ("Expenses:Email", "email"),
     ("Expenses:COGS:Payment-Processing", "payment-processing"), ("Expenses:Domains", "domains"),
     ("Expenses:Software", "software"), ("Expenses:Contractors:Development", "payroll"),
     ("Expenses:COGS:Crew", "payroll"), ("Expenses:Slip-Rent", "rent"), ("Expenses:Mortgage-Interest", "interest"),
     ("Expenses:COGS:Dump-Fees", "cogs-other"), ("Expenses:Bank-Fees", "bank-fees"), ("Expenses:Food", "other")],
)  # fmt: skip
def test_expense_lines_come_from_account_names(account: str, line: str) -> None:
    assert expense_line(account) == line


def test_cfo_report_shows_position_sections_with_their_basis(ctx: Context) -> None:
    document = build_report(ctx, "cfo")
    sections = {s["id"]: s for s in document.sections}
    for sid in ("honest-cash", "owner-money", "receivables", "working-capital", "liabilities", "balance-sheet",
                "expense-lines"):  # fmt: skip
        assert sid in sections, sid
    assert "Cash basis" in sections["balance-sheet"]["note"]
    assert "Cash basis" in sections["expense-lines"]["note"]
    text = render_text(document.to_json())
    assert "Receivables ageing at 2026-11-15" in text and "$2,400.00" in text
    # every figure a section names is in the document's figures
    for fid in sections["honest-cash"]["figures"]:
        assert fid in document.figures


def test_the_cfo_report_takes_deferred_revenue_without_the_expense_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The working capital shows the accounting analysis's deferred revenue; the expense audit (every expense row)
    # was most of a large ledger's CFO-only run. The figures are the full analysis's, exactly.
    from execintel.analysis import accounting
    from execintel.demo import demo_portfolio

    full = context(demo_portfolio()).results("accounting").figures
    expected = {fid: f for fid, f in full.items() if fid.startswith("deferred_revenue.")}
    assert len(expected) > 2 and any(f.value for f in expected.values())

    def no_audit(self: object) -> None:
        raise AssertionError("the CFO report ran the expense audit")

    monkeypatch.setattr(accounting._Accounting, "audit", no_audit)
    document = build_report(context(demo_portfolio()), "cfo")
    assert {fid: f for fid, f in document.figures.items() if fid.startswith("deferred_revenue.")} == expected
