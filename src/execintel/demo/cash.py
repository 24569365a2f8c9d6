"""Opening balances, owner funding, the burn the demo is tuned to, and the ledger writers (CSV and beancount).

Operating rows come from each business's module. This module adds the
``Equity`` rows that keep every entity's bank balance above a floor (owner
contributions into the loss makers, owner draws out of the earners), then
one last draw or contribution on 1 November 2026 so that portfolio cash on
``as_of`` gives a runway of :data:`TARGET_RUNWAY_DAYS` at the burn of the
last three complete months. Equity rows never change the burn.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

from execintel.demo.common import (
    AS_OF,
    LAST_COMPLETE_MONTHS,
    START,
    Book,
    Row,
    money,
    month_end,
    months,
    next_month,
    write_text,
)

TARGET_RUNWAY_DAYS = 128
FLOOR = Decimal(1000)  # no bank balance dips below this
OPENING = {
    "qosd": 9000,
    "jada": 3000,
    "quickdumpnow": 1500,
    "rental-3028": 8000,
    "yacht-delivery": 4000,
    "dc-clients": 2500,
}
KEEP = {"rental-3028": Decimal(5000), "yacht-delivery": Decimal(3000), "dc-clients": Decimal(2000)}
OWNER = "Founder & CEO"
CASH_NEUTRAL_ROOTS = ("Equity", "Liabilities")


def monthly_burn(books: dict[str, Book]) -> Decimal:
    """The contract's burn: mean over the last 3 complete months of max(0, -net cash flow), Equity/Liabilities out."""
    burns = []
    for first in LAST_COMPLETE_MONTHS:
        end = month_end(first)
        net = sum(
            (
                r.amount
                for b in books.values()
                for r in b.rows
                if first <= r.date <= end and r.account.split(":")[0] not in CASH_NEUTRAL_ROOTS
            ),
            Decimal(0),
        )
        burns.append(max(Decimal(0), -net))
    return sum(burns, Decimal(0)) / len(burns)


def _balance(rows: list[Row], until: dt.date = AS_OF) -> Decimal:
    return sum((r.amount for r in rows if r.date <= until), Decimal(0))


def _fund_entity(entity: str, book: Book) -> None:
    """Opening balance, contributions when the month would dip below FLOOR, draws above KEEP at month end."""
    operating = sorted(book.rows, key=lambda r: r.date)
    added = [Row(START, "Equity:Opening-Balances", money(OPENING[entity]), "Opening balance", OWNER)]
    balance = Decimal(OPENING[entity])
    for first in months():
        end = min(month_end(first), AS_OF)
        running, lowest = balance, balance
        for row in (r for r in operating if first <= r.date <= end):
            running += row.amount
            lowest = min(lowest, running)
        if lowest < FLOOR:
            amount = Decimal(math.ceil((FLOOR - lowest) / 500) * 500)
            added.append(Row(first, "Equity:Owner-Contributions", amount, "Owner contribution", OWNER))
            running += amount
        keep = KEEP.get(entity)
        if keep is not None and end < AS_OF and running - keep >= 500:
            amount = Decimal(math.floor((running - keep) / 100) * 100)
            added.append(Row(end, "Equity:Owner-Draws", -amount, "Owner draw", OWNER))
            running -= amount
        balance = running
    book.rows.extend(added)


def fund(books: dict[str, Book]) -> Decimal:
    """Add every entity's equity rows and return the burn the runway is tuned to."""
    burn = monthly_burn(books)
    if burn <= 0:
        raise RuntimeError("the demo data has no burn over the last 3 complete months; the runway cannot be tuned")
    for entity, book in books.items():
        _fund_entity(entity, book)
    # Whole hundreds, rounded so cash lands at or just above the target (at most a day of runway more).
    difference = sum((_balance(b.rows) for b in books.values()), Decimal(0)) - burn * TARGET_RUNWAY_DAYS / 30
    adjust_day = next_month(LAST_COMPLETE_MONTHS[-1])
    if difference < 0:
        amount = Decimal(math.ceil(-difference / 100) * 100)
        books["qosd"].rows.append(Row(adjust_day, "Equity:Owner-Contributions", amount, "Owner contribution", OWNER))
    elif difference >= 100:
        amount = Decimal(math.floor(difference / 100) * 100)
        richest = max(books, key=lambda e: _balance(books[e].rows))
        rows = books[richest].rows
        headroom = min(_balance(rows, d) for d in (adjust_day + dt.timedelta(days=n) for n in range(15))) - FLOOR
        if amount > headroom:
            raise RuntimeError(f"cannot draw {amount} from {richest}: only {headroom} above the floor")
        rows.append(Row(adjust_day, "Equity:Owner-Draws", -amount, "Owner draw", OWNER))
    return burn


def write_beancount(path: Path, book: Book, title: str) -> None:
    """Write ``book`` as a beancount ledger: every row is a transaction against the bank account."""
    rows = sorted(book.rows, key=lambda r: r.date)
    accounts = sorted({r.account for r in rows})
    lines = [
        f'option "title" "{title}"',
        'option "operating_currency" "USD"',
        "",
        f"{START.isoformat()} open Assets:Bank:Checking USD",
    ]
    lines += [f"{START.isoformat()} open {account} USD" for account in accounts]
    for row in rows:
        payee = f'"{row.counterparty}" ' if row.counterparty else ""
        lines += ["", f'{row.date.isoformat()} * {payee}"{row.description}"']
        if row.service_date:
            lines.append(f"  service_date: {row.service_date.isoformat()}")
        if row.receipt:
            lines.append(f'  receipt: "{row.receipt}"')
        lines.append(f"  {row.account:<40} {-row.amount:>10.2f} USD")
        lines.append(f"  {'Assets:Bank:Checking':<40} {row.amount:>10.2f} USD")
    write_text(path, "\n".join(lines) + "\n")
