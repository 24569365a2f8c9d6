"""Trailing revenue and expenses of a ledger written by beancount's ``bean-example`` equal what beanquery computes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import beanquery
import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.model import add_months
from helpers import bean_example, context


@pytest.fixture(scope="module")
def example_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A realistic 18-month personal ledger, the same on every run (fixed seed and dates)."""
    return bean_example(tmp_path_factory.mktemp("bean") / "example.beancount", seed=11, begin="2024-01-01",
                        end="2025-06-30")  # fmt: skip


def _beanquery_one(path: Path, sql: str) -> Decimal:
    rows = beanquery.connect(f"beancount:{path}").execute(sql).fetchall()
    return Decimal(rows[0][0] or 0)


@pytest.mark.parametrize("as_of", ["2025-06-30", "2025-03-15"])
def test_ttm_revenue_and_expenses_match_beanquery(
    example_ledger: Path, write_portfolio: WritePortfolio, as_of: str
) -> None:
    entity = {"id": "me", "name": "Me", "ledger": "example.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"example.beancount": example_ledger.read_text()})
    ctx = context(path, as_of=as_of)
    figures = ctx.results("finance").figures
    end = dt.date.fromisoformat(as_of)
    window = f"date > {add_months(end, -12).isoformat()} AND date <= {end.isoformat()}"
    # The connector keeps USD postings (and converts others only through a USD cost or price): check that no
    # Income/Expenses posting of this file needs converting, so "currency = 'USD'" is exactly what it reads.
    converted = (
        beanquery.connect(f"beancount:{example_ledger}")
        .execute(
            "SELECT account, currency FROM postings WHERE (account ~ '^Income:' OR account ~ '^Expenses:') "
            "AND currency != 'USD' AND (cost_currency = 'USD' OR price IS NOT NULL)"
        )
        .fetchall()
    )
    assert converted == []
    # Beancount books income as negative numbers; the cash convention flips the sign, so positive Income amounts
    # are Income postings with number < 0, and -sum(Expenses amounts) is sum(number) of Expenses postings.
    revenue = -_beanquery_one(
        example_ledger,
        f"SELECT sum(number) FROM postings WHERE account ~ '^Income:' AND currency = 'USD' AND number < 0 AND {window}",
    )
    expenses = _beanquery_one(
        example_ledger,
        f"SELECT sum(number) FROM postings WHERE account ~ '^Expenses:' AND currency = 'USD' AND {window}",
    )
    assert revenue > 10_000 and expenses > 10_000  # a realistic year of salary and spending, not an empty window
    assert figures["revenue.ttm.me"].value == revenue
    assert figures["expenses.ttm.me"].value == expenses
    assert figures["revenue.ttm.portfolio"].value == revenue
    assert all(ref.startswith("example.beancount:") for ref in figures["revenue.ttm.me"].sources)


def test_cash_is_the_net_change_of_usd_assets(example_ledger: Path, write_portfolio: WritePortfolio) -> None:
    entity = {"id": "me", "name": "Me", "ledger": "example.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"example.beancount": example_ledger.read_text()})
    ctx = context(path, as_of="2025-06-30")
    # Every Income/Expenses/Equity/Liabilities row in USD flipped to the cash convention sums to what the other
    # side of those transactions did: the change of the Assets accounts, as beanquery sees the same postings.
    expected = -_beanquery_one(
        example_ledger,
        "SELECT sum(number) FROM postings WHERE currency = 'USD' AND date <= 2025-06-30 "
        "AND (account ~ '^Income:' OR account ~ '^Expenses:' OR account ~ '^Equity:' OR account ~ '^Liabilities:')",
    )
    assert ctx.results("finance").figures["cash.me"].value == expected


def test_cash_and_bank_is_the_checking_account_beanquery_sees(
    example_ledger: Path, write_portfolio: WritePortfolio
) -> None:
    entity = {"id": "me", "name": "Me", "ledger": "example.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"example.beancount": example_ledger.read_text()})
    figures = context(path, as_of="2025-06-30").results("finance").figures
    # bean-example's only bank account is Assets:US:BofA:Checking; the brokerage (ETrade), the 401(k) (Vanguard,
    # whose Cash sits beside funds held at cost) and the other Assets accounts are not runway.
    checking = _beanquery_one(
        example_ledger,
        "SELECT sum(number) FROM postings WHERE account = 'Assets:US:BofA:Checking' AND date <= 2025-06-30",
    )
    assert checking > 0
    assert figures["cash.bank.me"].value == checking
    assert figures["cash.other.me"].value == figures["cash.me"].value - checking
    assert figures["cash.other.me"].value > 0  # investments at cost: read as cash on hand, not as runway
