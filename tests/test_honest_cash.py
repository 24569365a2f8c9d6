"""Honest cash (CONTRACT section 8): contributions, burn and runway with debt service, self-funded runway, the
lowest month-end runway, and cash split into cash and bank accounts versus other assets; hand-computed ledgers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.analysis.honestcash import is_cash_account
from execintel.analysis.model import Results
from helpers import context

# as_of 2026-11-15: the 12-month window is 2025-11-15 < date <= 2026-11-15; the last 3 complete months are
# 2026-08, 2026-09 and 2026-10, so "recent" contributions are those dated 2026-08-01 .. 2026-11-15.
LEDGER = """date,account,amount,description
2025-01-01,Equity:Opening-Balances,20000,opening balance: not a contribution
2025-11-15,Equity:Owner-Contributions,100,on window_start: outside the 12 months
2025-11-16,Equity:Owner-Contributions,200,first day of the 12 months
2026-03-01,Equity:Opening-Balances:Bank2,700,a sub-account of the opening balances: not a contribution
2026-03-02,Equity:Opening-Balances-2025,50,not a sub-account (no colon): a contribution
2026-07-31,Equity:Owner-Contributions,400,the day before the recent window
2026-08-01,Equity:Owner-Contributions,1000,first day of the recent window
2026-08-10,Equity:Owner-Draws,-300,a draw is negative: not a contribution
2026-08-15,Expenses:Rent,-2000,rent
2026-09-01,Liabilities:Loan,6000,loan drawdown
2026-09-15,Expenses:Rent,-2000,rent
2026-09-20,Income:Sales,500,sale
2026-10-01,Liabilities:Loan,-1000,loan repayment
2026-10-15,Expenses:Rent,-2000,rent
2026-11-15,Equity:Owner-Contributions,800,on as_of: inside both windows
2026-11-16,Equity:Owner-Contributions,9999,after as_of: ignored
"""
# contributions.ttm    = 200 + 50 + 400 + 1000 + 800 = 2450
# contributions.recent = 1000 + 800 = 1800
# cash = 20000 + 100 + 200 + 700 + 50 + 400 + 1000 - 300 - 2000 + 6000 - 2000 + 500 - 1000 - 2000 + 800 = 22450
# burn (no Equity, no Liabilities): Aug 2000, Sep 2000 - 500 = 1500, Oct 2000; sum 5500 -> 1833.33.. a month
#   runway = floor(22450 * 90 / 5500) = floor(367.36) = 367
# burn with debt (no Equity only): Aug 2000, Sep -6000 + 2000 - 500 < 0 -> 0, Oct 1000 + 2000 = 3000; sum 5000
#   runway with debt = floor(22450 * 90 / 5000) = floor(404.1) = 404
# self-funded = max(0, floor((22450 - 1800) * 90 / 5500)) = floor(337.9) = 337


def _ctx(write_portfolio: WritePortfolio, ledger: str = LEDGER, policies: dict[str, Any] | None = None) -> Context:
    entity = {"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}
    manifest = base_manifest(entities=[entity], policies=policies or {})
    return context(write_portfolio(manifest, {"data/ledger.csv": ledger}), as_of="2026-11-15")


def _figures(ctx: Context) -> dict[str, Any]:
    return {fid: fig.value for fid, fig in ctx.results("finance").figures.items()}


def _results(ctx: Context) -> Results:
    return ctx.results("finance")


def test_contributions_count_positive_equity_except_opening_balances(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio)
    values = _figures(ctx)
    assert values["contributions.ttm.portfolio"] == Decimal(2450)
    assert values["contributions.recent.portfolio"] == Decimal(1800)
    assert values["contributions.ttm.qosd"] == Decimal(2450)
    assert values["contributions.recent.qosd"] == Decimal(1800)
    figures = _results(ctx).figures
    # lines 4 (200), 6 (Opening-Balances-2025), 7, 8, 16: not 2 (opening), 3 (window_start), 5 (sub-account), 17
    assert figures["contributions.ttm.portfolio"].sources == ("data/ledger.csv:4,6-8,16",)
    assert figures["contributions.recent.portfolio"].sources == ("data/ledger.csv:8,16",)
    assert figures["contributions.ttm.portfolio"].unit == "USD"


def test_burn_with_debt_counts_loans_and_both_runways_round_down(write_portfolio: WritePortfolio) -> None:
    values = _figures(_ctx(write_portfolio))
    assert values["cash.portfolio"] == Decimal(22450)
    assert values["burn.monthly.portfolio"] == Decimal(5500) / 3
    assert values["runway.days.portfolio"] == 367
    assert [values[f"burn.month.with_debt.{m}.portfolio"] for m in ("2026-08", "2026-09", "2026-10")] == [
        Decimal(2000), Decimal(0), Decimal(3000)]  # fmt: skip
    assert values["burn.monthly.with_debt.portfolio"] == Decimal(5000) / 3
    assert values["runway.days.with_debt.portfolio"] == 404
    assert values["runway.days.self_funded.portfolio"] == 337


def test_runway_that_holds_only_thanks_to_owner_money_is_a_finding(write_portfolio: WritePortfolio) -> None:
    # runway 367 >= 340 but self-funded 337 < 340: the policy holds only with the 1800 of recent contributions
    [finding] = [f for f in _results(_ctx(write_portfolio, policies={"min_runway_days": 340})).findings
                 if f.kind == "runway-relies-on-owner-money"]  # fmt: skip
    assert finding.amount == Decimal(1800) and finding.severity == "medium"
    assert finding.subject
    assert not [f for f in _results(_ctx(write_portfolio, policies={"min_runway_days": 337})).findings
                if f.kind == "runway-relies-on-owner-money"]  # fmt: skip


def test_no_contributions_are_zero_citing_the_ledger(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-01-01,Equity:Opening-Balances,5000\n2026-09-02,Expenses:Rent,-900\n"
    ctx = _ctx(write_portfolio, ledger)
    values = _figures(ctx)
    assert values["contributions.ttm.portfolio"] == 0
    assert values["contributions.recent.portfolio"] == 0
    assert _results(ctx).figures["contributions.recent.portfolio"].sources == ("portfolio.yaml:entities[0].ledger",)
    # burn 900 / 3 = 300; cash 4100: runway = floor(4100 * 90 / 900) = 410 = self-funded (nothing to take away)
    assert values["runway.days.portfolio"] == 410
    assert values["runway.days.self_funded.portfolio"] == 410
    assert values["runway.days.with_debt.portfolio"] == 410


def test_no_burn_means_no_runways(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-01-01,Equity:Owner-Contributions,5000\n2026-09-02,Income:Sales,900\n"
    values = _figures(_ctx(write_portfolio, ledger))
    assert values["burn.monthly.with_debt.portfolio"] == 0
    for fid in ("runway.days.portfolio", "runway.days.with_debt.portfolio", "runway.days.self_funded.portfolio"):
        assert fid not in values
    assert values["contributions.ttm.portfolio"] == Decimal(5000)
    assert values["contributions.recent.portfolio"] == 0


def test_a_loan_drawdown_can_hide_the_burn_with_debt(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-08-01,Liabilities:Loan,5000\n2026-08-02,Expenses:Rent,-300\n"
    values = _figures(_ctx(write_portfolio, ledger))
    # burn 300 / 3 = 100: runway floor(4700 * 90 / 300) = 1410; with debt Aug +4700: no burn, no runway
    assert values["runway.days.portfolio"] == 1410
    assert values["burn.monthly.with_debt.portfolio"] == 0
    assert "runway.days.with_debt.portfolio" not in values


def test_self_funded_runway_is_never_negative(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-09-01,Equity:Owner-Contributions,3000\n2026-09-02,Expenses:Rent,-2000\n"
    values = _figures(_ctx(write_portfolio, ledger))
    # cash 1000 - recent 3000 < 0 -> 0; runway = floor(1000 * 90 / 2000) = 45
    assert values["runway.days.portfolio"] == 45
    assert values["runway.days.self_funded.portfolio"] == 0


def test_lowest_month_end_runway_of_the_last_6_months(write_portfolio: WritePortfolio) -> None:
    values = _figures(_ctx(write_portfolio))
    # end of Oct: cash 22450 - 800 (Nov) = 21650, burns Aug..Oct 5500: floor(21650 * 90 / 5500) = 354
    # end of Sep: 21650 + 3000 (Oct out) = 24650, burns Jul..Sep 0 + 2000 + 1500: floor(24650 * 90 / 3500) = 633
    # end of Aug: 24650 - 4500 (Sep in) = 20150, burns Jun..Aug 2000: floor(20150 * 90 / 2000) = 906
    # May..Jul: no burn, no runway. The lowest is Oct's.
    assert values["runway.days.month_end.2026-10.portfolio"] == 354
    assert values["runway.days.month_end.2026-09.portfolio"] == 633
    assert values["runway.days.month_end.2026-08.portfolio"] == 906
    assert values["runway.days.month_end.min.portfolio"] == 354


def test_csv_ledger_cash_is_all_cash_and_bank(write_portfolio: WritePortfolio) -> None:
    values = _figures(_ctx(write_portfolio))
    assert values["cash.bank.qosd"] == Decimal(22450)
    assert values["cash.other.qosd"] == 0
    assert values["cash.bank.portfolio"] == Decimal(22450)


BEANCOUNT = """option "operating_currency" "USD"
2025-01-01 open Assets:Bank:Checking
2025-01-01 open Assets:Brokerage:Cash
2025-01-01 open Assets:Brokerage:VTI
2025-01-01 open Assets:Retirement:Savings
2025-01-01 open Equity:Opening-Balances
2025-01-01 open Expenses:Rent

2025-01-02 * "Opening balances"
  Assets:Bank:Checking        10000 USD
  Assets:Brokerage:Cash        5000 USD
  Assets:Retirement:Savings    3000 USD
  Equity:Opening-Balances    -18000 USD

2026-08-05 * "Buy VTI"
  Assets:Brokerage:VTI           10 VTI {200 USD}
  Assets:Brokerage:Cash       -2000 USD

2026-08-10 * "landlord" "Rent"
  Expenses:Rent                1500 USD
  Assets:Bank:Checking        -1500 USD
"""
# cash.qosd (contract) = the net change of every Assets account = 18000 - 1500 = 16500
# cash and bank = Checking only: 10000 - 1500 = 8500. Brokerage:Cash sits beside a position at cost (VTI),
# Retirement:Savings is named as a retirement account: other = 3000 + 2000 (VTI at cost) + 3000 = 8000


def test_beancount_cash_is_split_into_bank_and_other_assets(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Queen", "ledger": "books.beancount"}
    ctx = context(write_portfolio(base_manifest(entities=[entity]), {"books.beancount": BEANCOUNT}), "2026-11-15")
    values = _figures(ctx)
    assert values["cash.qosd"] == Decimal(16500)  # the contract's definition is kept
    assert values["cash.bank.qosd"] == Decimal(8500)
    assert values["cash.other.qosd"] == Decimal(8000)
    assert values["cash.other.portfolio"] == Decimal(8000)
    # the other-assets postings are cited: the opening (lines 11-12), VTI and its cash (lines 16-17)
    assert ctx.results("finance").figures["cash.other.qosd"].sources == ("books.beancount:11-12,16-17",)


@pytest.mark.parametrize(
    ("account", "cash"),
    [("Assets:US:BofA:Checking", True), ("Assets:Bank:Mercury", True), ("Assets:Cash", True),
     ("Assets:Stripe", True), ("Assets:US:ETrade:Cash", False), ("Assets:US:Vanguard:Cash", False),
     ("Assets:Brokerage:Cash", False), ("Assets:Retirement:Savings", False), ("Assets:IRA:Cash", False),
     ("Assets:Equipment", False), ("Assets:Receivable", False), ("Assets:Investments:Savings", False)],
)  # fmt: skip
def test_which_assets_accounts_count_as_cash(account: str, cash: bool) -> None:
    # ETrade and Vanguard hold positions at cost beside their Cash account (as in bean-example)
    assert is_cash_account(account, {"Assets:US:ETrade", "Assets:US:Vanguard"}) is cash


def test_compliance_lists_the_lowest_month_end_runway(write_portfolio: WritePortfolio) -> None:
    from execintel.reports import build_report

    document = build_report(_ctx(write_portfolio, policies={"min_runway_days": 400}), "cfo")
    [compliance] = [s for s in document.sections if s["id"] == "compliance"]
    # the lowest month-end runway is 354 days (2026-10), under the 400-day policy
    row = next(r for r in compliance["rows"] if r[0].startswith("Minimum runway, every month end"))
    assert row[2:] == ["lowest 354 days (2026-10)", "not met"]
