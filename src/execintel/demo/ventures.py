"""JADA (a shrinking subscription app on a legacy backend) and QuickDumpNow (a junk-removal funnel that leaks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from execintel.demo.common import Book, Event, EventLog, months, number, pick_days, random_days, rng

JADA_PRICE = Decimal(49)
JADA_START_SUBSCRIBERS = 24
JADA_UPGRADE = (dt.date(2026, 8, 1), 1200)  # a one-off: the Node.js runtime reached end of life
# QuickDumpNow: plenty of leads every month, almost no bookings (the broken funnel).
QDN_JOBS = {
    dt.date(2025, 3, 1): 380,
    dt.date(2025, 6, 1): 540,
    dt.date(2025, 10, 1): 295,
    dt.date(2026, 4, 1): 620,
    dt.date(2026, 7, 1): 450,
}
QDN_CHANNELS = ("seo", "referral", "direct", "social")
QDN_CHANNEL_WEIGHTS = (6, 2, 2, 1)


def build_jada() -> tuple[Book, list[Event]]:
    """JADA's ledger and events: subscribers churn faster than they sign up; a contractor keeps the backend alive."""
    rand = rng("jada")
    book = Book("JADA", rng("jada-receipts"), missing_receipts=0.05)
    log = EventLog("jada", rng("jada-events"))
    active = [f"u-{n:03d}" for n in range(1, JADA_START_SUBSCRIBERS + 1)]
    next_user = JADA_START_SUBSCRIBERS + 1
    for first in months():
        for day in pick_days(rand, first, rand.choice((0, 0, 1, 1, 2))):
            user = f"u-{next_user:03d}"
            next_user += 1
            active.append(user)
            log.add(day, "signup", customer=user, channel=rand.choice(("direct", "email", "seo")), plan="standard")
        for day in pick_days(rand, first, rand.choice((0, 1, 1, 2))):
            if len(active) > 8:
                user = active.pop(rand.randrange(len(active)))
                log.add(day, "churn", customer=user, reason=rand.choice(("price", "missing features", "unknown")))
        for day in random_days(rand, first, len(active) * 5):
            log.add(day, "login", customer=rand.choice(active))
        gross = JADA_PRICE * len(active)
        book.income(
            first.replace(day=2),
            "Income:Subscriptions",
            gross,
            f"Card payouts, {len(active)} subscriptions",
            "card processor",
        )
        book.expense(
            first.replace(day=2),
            "Expenses:COGS:Payment-Processing",
            gross * Decimal("0.029") + Decimal("0.30") * len(active),
            "Card processing fees",
            "card processor",
            receipt=True,
        )
        if first == JADA_UPGRADE[0]:
            book.expense(
                first.replace(day=19),
                "Expenses:Contractors:Development",
                JADA_UPGRADE[1],
                "Emergency Node.js and dependency upgrade",
                "contract developer",
            )
        book.expense(
            first.replace(day=6),
            "Expenses:Contractors:Development",
            2200,
            "Backend maintenance retainer (Node.js)",
            "contract developer",
        )
        book.expense(first.replace(day=9), "Expenses:Software", 21, "Code hosting", "code host")
        book.expense(first.replace(day=9), "Expenses:Software", 26, "Error monitoring", "monitoring service")
        if first.month == 3:
            book.expense(first.replace(day=20), "Expenses:Software", 18, "Domain renewal", "registrar")
    return book, log.sorted()


def build_quickdumpnow() -> tuple[Book, list[Event]]:
    """QuickDumpNow's ledger and events: 30-60 leads a month, five jobs in two years."""
    rand = rng("quickdumpnow")
    book = Book("QDN", rng("quickdumpnow-receipts"), missing_receipts=0.15)
    log = EventLog("quickdumpnow", rng("quickdumpnow-events"))
    lead_no = 0
    for first in months():
        for day in random_days(rand, first, rand.randint(30, 60)):
            lead_no += 1
            log.add(
                day,
                "lead",
                customer=f"q-{lead_no:05d}",
                channel=rand.choices(QDN_CHANNELS, QDN_CHANNEL_WEIGHTS)[0],
                segment=rand.choice(("residential", "residential", "commercial")),
                form="quote-request",
            )
        price = QDN_JOBS.get(first)
        if price is not None:
            job_day = first.replace(day=rand.randint(5, 25))
            customer = f"q-{lead_no:05d}"
            log.add(
                job_day - dt.timedelta(days=3),
                "booking",
                customer=customer,
                amount=number(price),
                units=1,
                channel="referral",
                segment="residential",
            )
            log.add(job_day, "completion", customer=customer, units=1, segment="residential")
            book.income(job_day, "Income:Jobs", price, "Junk removal job", customer, service_date=job_day)
            book.expense(job_day, "Expenses:COGS:Dump-Fees", rand.uniform(60, 140), "Transfer station fee", "county")
            book.expense(
                job_day, "Expenses:COGS:Truck-Rental", rand.uniform(95, 140), "Truck rental (1 day)", "truck rental"
            )
            book.expense(job_day, "Expenses:COGS:Labor", rand.uniform(120, 200), "Day labor", "helper")
        book.expense(
            first.replace(day=4), "Expenses:Marketing", rand.uniform(170, 260), "Local search ads", "ads platform"
        )
        book.expense(first.replace(day=11), "Expenses:Insurance", 118, "General liability", "insurer")
        book.expense(first.replace(day=16), "Expenses:Software", 12, "Domain and mailbox", "registrar")
        book.expense(first.replace(day=21), "Expenses:Telephone", 25, "Business phone line", "phone carrier")
    return book, log.sorted()
