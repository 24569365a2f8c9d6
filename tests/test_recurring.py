"""Recurring payments and receipts (analysis/recurring.py): cadences, per-job costs, projections, hand-computed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.accounting import AccountingResults
from execintel.analysis.context import Context
from execintel.analysis.recurring import Recurring, instalments, recurring
from helpers import context

HEADER = "date,account,amount,description,counterparty,service_date,receipt\n"
D = dt.date


def _ctx(write_portfolio: WritePortfolio, rows: str, as_of: str = "2026-11-15") -> Context:
    manifest = base_manifest(entities=[{"id": "qosd", "name": "Queen", "ledger": "data/ledger.csv"}])
    return context(write_portfolio(manifest, {"data/ledger.csv": HEADER + rows}), as_of=as_of)


def _rows(days: tuple[str, ...], account: str = "Expenses:Software", amount: str = "-10", payee: str = "Vendor") -> str:
    return "".join(f"{d},{account},{amount},Seat,{payee},,R{i}\n" for i, d in enumerate(days))


def _one(ctx: Context, side: Any = "expenses") -> Recurring | None:
    found = recurring(ctx, side)
    assert len(found) <= 1, found
    return found[0] if found else None


# Each case: the payment days of one payee on one account, and the cadence the rule must give (None: not
# recurring). Gap ranges (both ends included): weekly 5-9 (3 gaps needed), twice-monthly 12-18 (3), monthly
# 25-35 (2), quarterly 80-100 (2), twice-yearly 165-200 (2), yearly 350-380 (1); more than half of all gaps in range.
@pytest.mark.parametrize(
    ("days", "cadence"),
    [
        (("2026-10-01", "2026-10-08", "2026-10-15", "2026-10-22"), "weekly"),  # gaps 7, 7, 7
        (("2026-10-01", "2026-10-08", "2026-10-15"), None),  # gaps 7, 7: 2 weekly gaps of the 3 needed
        (("2026-08-01", "2026-08-15", "2026-09-01", "2026-09-15"), "twice-monthly"),  # gaps 14, 17, 14
        (("2026-01-05", "2026-02-04", "2026-03-06"), "monthly"),  # gaps 30, 30
        (("2026-01-01", "2026-02-05", "2026-03-12"), "monthly"),  # gaps 35, 35: the upper edge
        (("2026-01-01", "2026-01-26", "2026-02-20"), "monthly"),  # gaps 25, 25: the lower edge
        (("2026-01-01", "2026-02-06", "2026-03-14"), None),  # gaps 36, 36
        (("2026-01-05", "2026-02-04", "2026-03-06", "2026-05-06"), "monthly"),  # gaps 30, 30, 61: 2 of 3 in range
        (("2026-01-05", "2026-02-04", "2026-04-06", "2026-06-06"), None),  # gaps 30, 61, 61: 1 of 3
        (("2026-01-05", "2026-01-05", "2026-02-04"), None),  # two rows on one day are one payment day: 1 gap
        (("2026-01-10", "2026-04-10", "2026-07-10"), "quarterly"),  # gaps 90, 91
        (("2025-05-01", "2025-11-01", "2026-05-01"), "twice-yearly"),  # gaps 184, 181
        (("2025-03-20", "2026-03-20"), "yearly"),  # gap 365
        (("2025-03-20", "2026-04-20"), None),  # gap 396
        (("2026-03-10", "2026-04-10", "2026-08-10"), None),  # gaps 31, 122 on an operating account: one-time
    ],
)
def test_cadence(write_portfolio: WritePortfolio, days: tuple[str, ...], cadence: str | None) -> None:
    found = _one(_ctx(write_portfolio, _rows(days)))
    assert (found.cadence if found else None) == cadence


def test_yearly_in_instalments(write_portfolio: WritePortfolio) -> None:
    # Property tax in two instalments a year: gaps 121, 244, 243 fit no calendar cadence, but 2025-12-08 has a
    # payment 365 days before it and so has 2026-04-08 -> yearly, the last 12 months' instalments repeat a year on.
    rows = (
        "2024-12-08,Expenses:Property-Tax,-2380,Tax,County,,R1\n2025-04-08,Expenses:Property-Tax,-2380,Tax,County,,R2\n"
        "2025-12-08,Expenses:Property-Tax,-2430,Tax,County,,R3\n2026-04-08,Expenses:Property-Tax,-2440,Tax,County,,R4\n"
    )
    found = _one(_ctx(write_portfolio, rows))
    assert found is not None and found.cadence == "yearly" and found.active
    assert found.next_date == D(2026, 12, 8)
    # the instalments of the 12 months ending at the last payment, each a year later with its own amount
    assert found.projected(D(2027, 12, 31)) == [
        (D(2026, 12, 8), Decimal(-2430)), (D(2027, 4, 8), Decimal(-2440)), (D(2027, 12, 8), Decimal(-2430))]  # fmt: skip
    assert found.amount == Decimal(-2435)  # (2430 + 2440) / 2
    assert found.monthly == Decimal(-4870) / 12  # one year's instalments / 12


def test_instalments_rule() -> None:
    assert instalments([D(2025, 1, 1)]) is None  # one payment
    assert instalments([D(2025, 1, 1), D(2025, 7, 1)]) is None  # nothing a year apart
    # 2026-02-15 has no payment 350-380 days before it although it has a year of history: not yearly
    assert instalments([D(2025, 1, 1), D(2025, 2, 15), D(2026, 1, 1), D(2026, 2, 15), D(2027, 3, 20)]) is None
    # five payment days in the 12 months ending at the last one: too many instalments to be yearly
    days = [D(2025, m, 1) for m in (1, 3, 5, 7, 9)] + [D(2026, m, 1) for m in (1, 3, 5, 7, 9)]
    assert instalments(days) is None


def test_per_job_costs_are_cogs_without_a_calendar_rhythm(write_portfolio: WritePortfolio) -> None:
    # Fuel bought for each charter: gaps 31, 122 fit no cadence, but Expenses:COGS is a variable cost (CONTRACT
    # section 2) paid on 3 days -> per-job; no projection, the typical amount is the mean of the last 3 days.
    rows = _rows(("2026-03-10", "2026-04-10", "2026-08-10"), "Expenses:COGS:Fuel", "-300", "Dock")
    rows += "2026-08-10,Expenses:COGS:Fuel,-60,Top-up,Dock,,R9\n"  # same day: that day's total is 360
    found = _one(_ctx(write_portfolio, rows))
    assert found is not None
    assert (found.cadence, found.payments, found.amount, found.next_date) == ("per-job", 3, Decimal(-320), None)
    assert found.active  # paid in the 12 months ending at as_of
    assert found.projected(D(2027, 12, 31)) == [] and found.monthly is None
    # one COGS payment is one-time
    assert _one(_ctx(write_portfolio, _rows(("2026-03-10",), "Expenses:COGS:Fuel", "-300", "Dock"))) is None


def test_calendar_rhythm_wins_over_per_job(write_portfolio: WritePortfolio) -> None:
    rows = _rows(("2026-08-01", "2026-08-15", "2026-09-01", "2026-09-15"), "Expenses:COGS:Subcontractors", "-900")
    found = _one(_ctx(write_portfolio, rows))
    assert found is not None and found.cadence == "twice-monthly"


def test_monthly_projection_amount_and_sources(write_portfolio: WritePortfolio) -> None:
    # Payment days 08-31, 09-30, 10-31 (gaps 30, 31); typical amount = (100 + 110 + 120) / 3 = 110 (the last 3 days)
    rows = (
        "2026-07-31,Expenses:Software,-90,Seat,Acme,,R0\n2026-08-31,Expenses:Software,-100,Seat,Acme,,R1\n"
        "2026-09-30,Expenses:Software,-110,Seat,acme ,,R2\n2026-10-31,Expenses:Software,-120,Seat,Acme,,R3\n"
        "2026-11-30,Expenses:Software,-130,Seat,Acme,,R4\n"
    )  # line 6 is after as_of: unknown on 2026-11-15
    found = _one(_ctx(write_portfolio, rows))
    assert found is not None
    assert (found.cadence, found.amount, found.payments, found.last_date) == ("monthly", Decimal(-110), 4,
                                                                               D(2026, 10, 31))  # fmt: skip
    assert found.counterparty == "Acme" and found.account == "Expenses:Software"
    # one month after the last payment, the day clamped to the month's end: 11-30, 12-31, 01-31
    assert found.next_date == D(2026, 11, 30)
    assert found.projected(D(2027, 2, 14)) == [(D(2026, 11, 30), Decimal(-110)), (D(2026, 12, 31), Decimal(-110)),
                                              (D(2027, 1, 31), Decimal(-110))]  # fmt: skip
    assert found.monthly == Decimal(-110)
    assert found.sources == ("data/ledger.csv:2-5",)


def test_twice_monthly_and_weekly_projections(write_portfolio: WritePortfolio) -> None:
    rows = _rows(("2026-10-01", "2026-10-15", "2026-11-01", "2026-11-15"), amount="-500", payee="Developer")
    rows += _rows(("2026-10-22", "2026-10-29", "2026-11-05", "2026-11-12"), amount="-40", payee="Cleaner")
    found = {r.payee: r for r in recurring(_ctx(write_portfolio, rows))}
    # twice a month: on the days of month of the last two payments (the 1st and the 15th)
    assert found["developer"].projected(D(2027, 1, 1)) == [
        (D(2026, 12, 1), Decimal(-500)), (D(2026, 12, 15), Decimal(-500)), (D(2027, 1, 1), Decimal(-500))]  # fmt: skip
    assert found["developer"].monthly == Decimal(-1000)  # 500 x 24 / 12
    # weekly: every 7 days after the last payment (2026-11-12)
    assert [d for d, _ in found["cleaner"].projected(D(2026, 12, 3))] == [D(2026, 11, 19), D(2026, 11, 26),
                                                                          D(2026, 12, 3)]  # fmt: skip
    assert found["cleaner"].monthly == Decimal(-40) * 52 / 12


def test_a_series_that_stopped_is_not_projected(write_portfolio: WritePortfolio) -> None:
    # Monthly to 2026-09-20; on 2026-11-15 that is 56 days ago, more than 1.5 x 30 = 45: inactive.
    found = _one(_ctx(write_portfolio, _rows(("2026-07-20", "2026-08-20", "2026-09-20"))))
    assert found is not None and found.cadence == "monthly"
    assert not found.active and found.next_date is None and found.projected(D(2027, 12, 31)) == []
    # 45 days after the last payment it is still active (2026-11-04 + 45 days = 2026-12-19)
    found = _one(_ctx(write_portfolio, _rows(("2026-09-04", "2026-10-04", "2026-11-04")), as_of="2026-12-19"))
    assert found is not None and found.active and found.next_date == D(2027, 1, 4)


def test_one_payee_on_two_accounts_is_two_series(write_portfolio: WritePortfolio) -> None:
    # The marina bills slip rent on the 1st and utilities on the 18th: by payee alone the gaps would be 17, 14, ...
    rows = _rows(("2026-07-01", "2026-08-01", "2026-09-01"), "Expenses:Slip-Rent", "-1480", "Marina")
    rows += _rows(("2026-07-18", "2026-08-18", "2026-09-18"), "Expenses:Utilities", "-84", "Marina")
    found = recurring(_ctx(write_portfolio, rows, as_of="2026-09-30"))
    assert [(r.account, r.cadence) for r in found] == [("Expenses:Slip-Rent", "monthly"),
                                                        ("Expenses:Utilities", "monthly")]  # fmt: skip


def test_recurring_receipts(write_portfolio: WritePortfolio) -> None:
    rows = (
        "2026-09-02,Income:Rent,2450,Rent,t-a01,,\n2026-10-02,Income:Rent,2450,Rent,t-a01,,\n"
        "2026-11-02,Income:Rent,2450,Rent,t-a01,,\n2026-11-03,Expenses:Software,-10,Seat,Acme,,R\n"
    )
    ctx = _ctx(write_portfolio, rows)
    found = _one(ctx, "income")
    assert found is not None
    assert (found.cadence, found.amount, found.next_date) == ("monthly", Decimal(2450), D(2026, 12, 2))
    assert _one(ctx, "expenses") is None  # one payment to Acme


def test_monthly_equivalent_figure(write_portfolio: WritePortfolio) -> None:
    # weekly 10 (x 52 / 12), monthly 50, yearly 120 (/ 12) and a per-job cost (left out): the portfolio figure is
    # 520/12 + 50 + 10 = 103.33...; the sources are the rows of the three calendar series.
    rows = _rows(("2026-10-22", "2026-10-29", "2026-11-05", "2026-11-12"), amount="-10", payee="Cleaner")  # 2-5
    rows += _rows(("2026-09-10", "2026-10-10", "2026-11-10"), amount="-50", payee="Acme")  # 6-8
    rows += _rows(("2025-03-20", "2026-03-20"), amount="-120", payee="Registrar")  # 9-10
    rows += _rows(("2026-05-10", "2026-09-10"), "Expenses:COGS:Fuel", "-300", "Dock")  # 11-12
    found = context_results(_ctx(write_portfolio, rows))
    figure = found.figures["recurring.expenses.monthly.qosd"]
    assert figure.value == Decimal(520) / 12 + 50 + Decimal(120) / 12
    assert found.figures["recurring.expenses.monthly"].value == figure.value
    assert figure.sources == ("data/ledger.csv:2-10",)  # the three series' rows, one reference
    assert {r.cadence for r in found.recurring} == {"weekly", "monthly", "yearly", "per-job"}


def context_results(ctx: Context) -> AccountingResults:
    """The accounting results of a context."""
    found = ctx.results("accounting")
    assert isinstance(found, AccountingResults)
    return found
