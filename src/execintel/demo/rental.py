"""3028 51st St Rental (rental-3028): two units, one vacant month, a mortgage, property tax and a water heater."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from execintel.demo.common import START, Book, Event, EventLog, money, months, number, pick_days, rng


class Lease(NamedTuple):
    """One lease of one unit."""

    unit: str
    tenant: str
    rent: int
    start: dt.date
    end: dt.date
    signed: dt.date  # leases signed before the demo's data starts are recorded as on file at START


LEASES = (
    Lease("A", "t-a01", 2300, dt.date(2024, 6, 1), dt.date(2025, 5, 31), START),
    Lease("B", "t-b01", 2150, dt.date(2024, 9, 1), dt.date(2026, 8, 31), START),
    Lease("A", "t-a01", 2375, dt.date(2025, 6, 1), dt.date(2026, 5, 31), dt.date(2025, 4, 22)),
    Lease("A", "t-a01", 2450, dt.date(2026, 6, 1), dt.date(2027, 5, 31), dt.date(2026, 4, 20)),
    Lease("B", "t-b02", 2295, dt.date(2026, 10, 1), dt.date(2027, 9, 30), dt.date(2026, 9, 18)),
)
PROPERTY_TAX = {
    dt.date(2024, 12, 8): 2380,
    dt.date(2025, 4, 8): 2380,
    dt.date(2025, 12, 8): 2430,
    dt.date(2026, 4, 8): 2430,
}
MORTGAGE_BALANCE = Decimal("439603.62")  # on START
MORTGAGE_RATE = Decimal("0.065") / 12
MORTGAGE_PAYMENT = Decimal("2844.31")  # 30-year loan of 450,000 at 6.5%, two years in


def _lease_on(unit: str, day: dt.date) -> Lease | None:
    for lease in LEASES:
        if lease.unit == unit and lease.start <= day <= lease.end:
            return lease
    return None


def build_rental() -> tuple[Book, list[Event]]:
    """The rental's ledger and its lease events."""
    rand = rng("rental-3028")
    book = Book("R3028", rng("rental-3028-receipts"), missing_receipts=0.06)
    log = EventLog("rental-3028", rng("rental-3028-events"))
    for lease in LEASES:
        log.add(
            lease.signed,
            "lease",
            customer=lease.tenant,
            amount=number(lease.rent),
            unit=lease.unit,
            tenant=lease.tenant,
            monthly_rent=lease.rent,
            start=lease.start.isoformat(),
            end=lease.end.isoformat(),
        )
    log.add(dt.date(2026, 8, 31), "move_out", customer="t-b01", unit="B", tenant="t-b01")
    balance = MORTGAGE_BALANCE
    for first in months():
        for unit in ("A", "B"):
            current = _lease_on(unit, first)
            if current is None:
                continue  # Unit B stands empty in September 2026
            late = current.tenant == "t-b01" and rand.random() < 0.25
            paid = first.replace(day=rand.randint(8, 12) if late else rand.randint(1, 4))
            book.income(
                paid,
                f"Income:Rent:Unit-{unit}",
                current.rent,
                f"Rent {first:%Y-%m}, unit {unit}",
                current.tenant,
                service_date=first,
            )
        interest = money(balance * MORTGAGE_RATE)
        balance -= MORTGAGE_PAYMENT - interest
        book.expense(
            first, "Expenses:Mortgage-Interest", interest, "Mortgage interest", "mortgage lender", receipt=True
        )
        book.transfer(
            first, "Liabilities:Mortgage", -(MORTGAGE_PAYMENT - interest), "Mortgage principal", "mortgage lender"
        )
        book.expense(first.replace(day=12), "Expenses:Insurance", 168, "Landlord policy", "insurer")
        book.expense(
            first.replace(day=20),
            "Expenses:Utilities",
            rand.uniform(110, 170),
            "Water, sewer and trash",
            "city utilities",
        )
        for day in pick_days(rand, first, rand.choice((0, 1, 1, 2)), lo=3):
            book.expense(day, "Expenses:Repairs", rand.uniform(75, 480), "Repairs", "handyman")
    for day, amount in PROPERTY_TAX.items():
        book.expense(
            day, "Expenses:Property-Tax", amount, "Property tax installment", "county tax collector", receipt=True
        )
    book.expense(dt.date(2026, 9, 5), "Expenses:Advertising", 45, "Listing for unit B", "listing site")
    book.transfer(dt.date(2026, 9, 10), "Liabilities:Security-Deposits", -2150, "Deposit returned, unit B", "t-b01")
    book.transfer(dt.date(2026, 9, 18), "Liabilities:Security-Deposits", 2295, "Deposit received, unit B", "t-b02")
    book.expense(
        dt.date(2026, 10, 14), "Expenses:Repairs", 2980, "Water heater replacement, unit A", "plumber", receipt=True
    )
    return book, log.sorted()
