"""The DangerousCentaur client portfolio (dc-clients) and DangerousCentaur's own contact-form activity.

The client events are written for a billing audit to find three things:

- dc-102's retainer rose to $2,000 in March 2026 but invoices stayed at $1,600;
- dc-104 works 14-18 hours a month on a 10-hour retainer and the overage is
  never invoiced, and dc-105 gets work with no contract and no invoice;
- dc-103 stopped paying in August 2026: three invoices overdue on as_of.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from execintel.demo.common import START, Book, Event, EventLog, months, number, pick_days, random_days, rng


class Contract(NamedTuple):
    """A monthly retainer agreement with one client."""

    client: str
    retainer: int
    start: dt.date
    end: dt.date | None
    included_hours: int
    signed: dt.date


CONTRACTS = (
    Contract("dc-100", 800, dt.date(2024, 6, 1), dt.date(2025, 6, 30), 6, START),
    Contract("dc-101", 1500, dt.date(2025, 1, 1), None, 12, dt.date(2024, 12, 16)),
    Contract("dc-102", 1600, dt.date(2025, 4, 1), dt.date(2026, 2, 28), 12, dt.date(2025, 3, 20)),
    Contract("dc-102", 2000, dt.date(2026, 3, 1), None, 15, dt.date(2026, 2, 24)),
    Contract("dc-103", 900, dt.date(2025, 7, 1), None, 6, dt.date(2025, 6, 18)),
    Contract("dc-104", 1200, dt.date(2025, 10, 1), None, 10, dt.date(2025, 9, 22)),
)
INVOICED_AMOUNT = {"dc-102": 1600}  # the amendment never reached the invoices
PAYMENT_DELAY = {"dc-100": (5, 12), "dc-101": (8, 18), "dc-102": (10, 25), "dc-103": (20, 40), "dc-104": (5, 15)}
STOPPED_PAYING = ("dc-103", dt.date(2026, 8, 1))
HOURS = {
    "dc-100": (5, 7),
    "dc-101": (10, 13),
    "dc-102": (12, 16),
    "dc-103": (5, 7),
    "dc-104": (14, 18),
    "dc-105": (4, 9),
}
UNCONTRACTED = ("dc-105", dt.date(2026, 5, 1))
TASKS = ("form automation", "sheet sync", "report fixes", "site updates", "integration support", "meeting")


def _active(first: dt.date) -> list[Contract]:
    return [c for c in CONTRACTS if c.start <= first and (c.end is None or first <= c.end)]


def build_clients() -> tuple[Book, list[Event]]:
    """The client portfolio's ledger and its contract, invoice, payment and work events."""
    rand = rng("dc-clients")
    book = Book("DCC", rng("dc-clients-receipts"), missing_receipts=0.05)
    log = EventLog("dc-clients", rng("dc-clients-events"))
    for contract in CONTRACTS:
        log.add(
            contract.signed,
            "contract",
            customer=contract.client,
            amount=number(contract.retainer),
            client=contract.client,
            monthly_retainer=contract.retainer,
            start=contract.start.isoformat(),
            end=contract.end.isoformat() if contract.end else None,
            included_hours=contract.included_hours,
        )
    invoice_no = 0
    for first in months():
        working = [c.client for c in _active(first)]
        if first >= UNCONTRACTED[1]:
            working.append(UNCONTRACTED[0])
        for client in working:
            low, high = HOURS[client]
            total = rand.randint(low, high)
            days = pick_days(rand, first, rand.randint(2, 4), lo=2)
            for i, day in enumerate(days):
                hours = total // len(days) + (1 if i < total % len(days) else 0)
                log.add(day, "work", customer=client, client=client, hours=hours, task=rand.choice(TASKS))
        for contract in _active(first):
            client = contract.client
            invoice_no += 1
            invoice = f"INV-{first:%Y}-{invoice_no:03d}"
            amount = INVOICED_AMOUNT.get(client, contract.retainer)
            due = first + dt.timedelta(days=15)
            log.add(
                first,
                "invoice",
                customer=client,
                amount=number(amount),
                client=client,
                invoice=invoice,
                due=due.isoformat(),
                period=f"{first:%Y-%m}",
            )
            if client == STOPPED_PAYING[0] and first >= STOPPED_PAYING[1]:
                continue
            paid = first + dt.timedelta(days=rand.randint(*PAYMENT_DELAY[client]))
            log.add(paid, "payment", customer=client, amount=number(amount), client=client, invoice=invoice)
            book.income(paid, "Income:Retainers", amount, f"Payment {invoice}", client, service_date=first)
        for pay_day in (10, 25):  # the freelancer invoices twice a month
            book.expense(
                first.replace(day=pay_day),
                "Expenses:COGS:Subcontractors",
                rand.uniform(1150, 1450),
                "Freelance developer",
                "freelance developer",
            )
        book.expense(first.replace(day=3), "Expenses:Software", 28, "Email and documents", "office suite")
        book.expense(first.replace(day=3), "Expenses:Software", 15, "Design tool", "design tool")
        book.expense(first.replace(day=3), "Expenses:Software", 10, "Time tracking", "time tracker")
        book.expense(first.replace(day=28), "Expenses:Bank-Fees", 15, "Account fee", "bank")
    return book, log.sorted()


def build_dangerouscentaur() -> list[Event]:
    """DangerousCentaur's own events: contact-form leads and newsletter sign-ups through the GAS microservice."""
    rand = rng("dangerouscentaur")
    log = EventLog("dangerouscentaur", rng("dangerouscentaur-events"))
    for first in months():
        for day in random_days(rand, first, rand.randint(4, 10)):
            log.add(
                day,
                "lead",
                customer=f"d-{rand.randint(1000, 9999)}",
                channel=rand.choice(("website", "referral")),
                form="contact",
                via="gas-microservice",
            )
        for day in random_days(rand, first, rand.randint(2, 6)):
            log.add(day, "signup", customer=f"d-{rand.randint(1000, 9999)}", channel="website", list="newsletter")
    return log.sorted()
