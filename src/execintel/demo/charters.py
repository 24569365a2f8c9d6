"""Queen of San Diego (qosd): yacht charters below break-even, with deposits, an equipment loan and a capital purchase.

One plan of charters drives both the ledger (deposits, balances, crew and
fuel) and the events (bookings, completions, NPS), so the two agree. The
operating costs of August-October 2026 average about $6,150 a month, which
at $1,800 - $650 per charter makes break-even exactly 6 charters a month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from execintel.demo.common import (
    AS_OF,
    START,
    Book,
    Event,
    EventLog,
    last_day,
    money,
    months,
    next_month,
    number,
    pick_days,
    random_days,
    rng,
)

PRICE = Decimal(1800)
CREW = Decimal(450)
# Charters sailed per month, December 2024 to November 2026 (1-15 only): a summer season,
# a quiet winter, and an autumn 2026 slump well below break-even.
MONTHLY_CHARTERS = (2, 1, 1, 2, 3, 4, 5, 6, 5, 3, 3, 2, 2, 1, 2, 2, 3, 4, 5, 5, 3, 2, 2, 1)
# Booked and paid before as_of, sailed after it: deferred revenue on as_of.
FUTURE = (
    (dt.date(2026, 11, 21), "wedding", False),
    (dt.date(2026, 12, 5), "corporate", True),
    (dt.date(2026, 12, 19), "celebration", False),
)
CANCELLED_IN = {(2025, 3), (2025, 8), (2026, 2), (2026, 6)}
SEGMENTS = ("corporate", "wedding", "tourist", "local", "celebration")
SEGMENT_WEIGHTS = (3, 2, 4, 2, 3)
CHANNELS = ("direct", "email", "referral", "website")
CHANNEL_WEIGHTS = (3, 2, 2, 4)
CREW_IDS = ("crew-1", "crew-2", "crew-3", "crew-4")
LOAN_PRINCIPAL = Decimal(25000)
LOAN_RATE = Decimal("0.085") / 12
LOAN_MONTHS = 60


class _Charters:
    """Builds the qosd ledger and events together."""

    def __init__(self) -> None:
        self.rand = rng("qosd")
        self.book = Book("QOSD", rng("qosd-receipts"), missing_receipts=0.1)
        self.log = EventLog("qosd", rng("qosd-events"))
        self.fees: dict[dt.date, Decimal] = {}  # card processing per month
        self.customers = 1000

    def customer(self) -> str:
        self.customers += 1
        return f"c-{self.customers}"

    def pay(self, day: dt.date, amount: Decimal, what: str, customer: str, sailing: dt.date) -> None:
        self.book.income(day, "Income:Charters", amount, what, customer, service_date=sailing)
        first = day.replace(day=1)
        self.fees[first] = self.fees.get(first, Decimal(0)) + amount * Decimal("0.029") + Decimal("0.30")

    def charter(
        self, sailing: dt.date, *, segment: str | None = None, prepaid: bool | None = None, cancelled: bool = False
    ) -> None:
        rand = self.rand
        who = self.customer()
        segment = segment or rand.choices(SEGMENTS, SEGMENT_WEIGHTS)[0]
        channel = rand.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        booked = max(START, sailing - dt.timedelta(days=rand.randint(10, 55)))
        booked = min(booked, AS_OF - dt.timedelta(days=2))  # charters after as_of were booked before it
        booking = f"b-{sailing:%y%m%d}-{who[2:]}"
        self.log.add(
            booked,
            "booking",
            customer=who,
            amount=number(PRICE),
            units=1,
            channel=channel,
            segment=segment,
            booking=booking,
            charter_date=sailing.isoformat(),
        )
        full = prepaid if prepaid is not None else rand.random() < 0.3
        if cancelled:
            self.pay(booked, PRICE / 2, f"Charter deposit {sailing} (non-refundable)", who, sailing)
            self.log.add(
                sailing - dt.timedelta(days=rand.randint(3, 9)),
                "cancellation",
                customer=who,
                segment=segment,
                booking=booking,
                reason=rand.choice(("weather", "plans changed")),
            )
            return
        if full:
            self.pay(booked, PRICE, f"Charter {sailing} paid in full", who, sailing)
        else:
            self.pay(booked, PRICE / 2, f"Charter deposit {sailing}", who, sailing)
            self.pay(
                sailing - dt.timedelta(days=rand.randint(0, 3)), PRICE / 2, f"Charter balance {sailing}", who, sailing
            )
        if sailing > AS_OF:
            return
        self.book.expense(
            sailing,
            "Expenses:COGS:Crew",
            CREW,
            f"Captain and deckhand, charter {sailing}",
            "crew payroll",
            receipt=True,
        )
        self.book.expense(
            sailing, "Expenses:COGS:Fuel", rand.uniform(150, 215), f"Fuel, charter {sailing}", "fuel dock"
        )
        self.log.add(sailing, "completion", customer=who, units=1, segment=segment, booking=booking)
        if rand.random() < 0.7:
            score = rand.choices(range(11), (1, 0, 0, 1, 0, 1, 2, 4, 8, 14, 20))[0]
            self.log.add(
                sailing + dt.timedelta(days=rand.randint(1, 4)), "nps", customer=who, score=score, segment=segment
            )

    def operating_costs(self, first: dt.date) -> None:
        """Fixed monthly costs and the occasional one-off."""
        rand, book = self.rand, self.book
        day = first.replace
        book.expense(
            day(day=1),
            "Expenses:Slip-Rent",
            1420 if first.year < 2026 else 1480,
            "Slip rent, B-dock",
            "marina",
            receipt=True,
        )
        book.expense(day(day=5), "Expenses:Insurance", 845, "Hull and liability insurance", "marine insurer")
        book.expense(
            day(day=15), "Expenses:Contractors:Operations", 1500, "Operations partner stipend", "Operations partner"
        )
        book.expense(day(day=8), "Expenses:Maintenance", 180, "Hull cleaning (diver)", "dive service")
        for repair in pick_days(rand, first, rand.choice((1, 2, 2)), lo=2):
            book.expense(repair, "Expenses:Maintenance", rand.uniform(220, 760), "Repairs and parts", "boatyard")
        book.expense(day(day=10), "Expenses:Marketing", rand.uniform(450, 700), "Search ads", "ads platform")
        if rand.random() < 0.3:
            book.expense(
                day(day=20), "Expenses:Marketing", rand.uniform(150, 350), "Photography and print", "local photographer"
            )
        book.expense(day(day=2), "Expenses:Software", 79, "Booking calendar subscription", "booking software")
        book.expense(day(day=2), "Expenses:Software", 36, "Email and documents (2 seats)", "office suite")
        book.expense(day(day=12), "Expenses:Professional-Fees", 200, "Tax preparer retainer", "tax preparer")
        book.expense(day(day=18), "Expenses:Utilities", rand.uniform(70, 110), "Shore power", "marina")
        if rand.random() < 0.4:
            book.expense(
                day(day=min(25, last_day(first))),
                "Expenses:Uncategorized",
                rand.uniform(40, 220),
                "Card purchase",
                "",
                receipt=False,
            )
        if first.month == 2:
            book.expense(day(day=14), "Expenses:Licenses", 650, "Charter vessel permit renewal", "port district")

    def loan(self) -> None:
        """The unapproved equipment loan that paid for a replacement engine, and its repayments."""
        book = self.book
        book.transfer(
            dt.date(2025, 9, 10),
            "Liabilities:Loans:Equipment",
            LOAN_PRINCIPAL,
            "Equipment loan proceeds",
            "community bank",
        )
        book.transfer(
            dt.date(2025, 9, 18), "Assets:Equipment", -24400, "Replacement diesel engine, installed", "boatyard"
        )
        payment = LOAN_PRINCIPAL * LOAN_RATE / (1 - (1 + LOAN_RATE) ** -LOAN_MONTHS)
        balance = LOAN_PRINCIPAL
        for first in months(dt.date(2025, 10, 1)):
            interest = money(balance * LOAN_RATE)
            principal = money(payment) - interest
            balance -= principal
            book.expense(
                first.replace(day=10),
                "Expenses:Interest",
                interest,
                "Equipment loan interest",
                "community bank",
                receipt=True,
            )
            book.transfer(
                first.replace(day=10),
                "Liabilities:Loans:Equipment",
                -principal,
                "Equipment loan principal",
                "community bank",
            )

    def activity(self, first: dt.date) -> None:
        """Leads and crew log-ins for one month."""
        rand, log = self.rand, self.log
        for day in random_days(rand, first, rand.randint(14, 32)):
            segment = rand.choices(SEGMENTS, SEGMENT_WEIGHTS)[0]
            channel = rand.choice(("website", "email", "social", "referral"))
            log.add(day, "lead", customer=f"l-{rand.randint(10000, 99999)}", segment=segment, channel=channel)
        for day in random_days(rand, first, rand.randint(12, 28)):
            log.add(day, "login", customer=rand.choice(CREW_IDS), app="shipcaptaincrew")


def build_qosd(aws_bills: dict[dt.date, Decimal]) -> tuple[Book, list[Event]]:
    """The qosd ledger (without opening balance and owner funding) and its events.

    ``aws_bills`` maps the first day of a month to the AWS bill for it; qosd's
    card pays the whole portfolio's bill on the 3rd of the next month.
    """
    build = _Charters()
    for first, count in zip(months(), MONTHLY_CHARTERS, strict=True):
        for sailing in pick_days(build.rand, first, count):
            build.charter(sailing)
        if (first.year, first.month) in CANCELLED_IN:
            build.charter(first.replace(day=build.rand.randint(5, 25)), cancelled=True)
        build.operating_costs(first)
        build.activity(first)
    for sailing, segment, prepaid in FUTURE:
        build.charter(sailing, segment=segment, prepaid=prepaid)
    build.book.expense(
        dt.date(2026, 6, 12), "Expenses:Maintenance", 4850, "New mainsail, cut and fitted", "sail loft", receipt=True
    )
    build.loan()
    for first, amount in sorted(build.fees.items()):
        end = min(AS_OF, first.replace(day=last_day(first)))
        build.book.expense(
            end, "Expenses:COGS:Payment-Processing", amount, "Card processing fees", "card processor", receipt=True
        )
    for month, amount in sorted(aws_bills.items()):
        paid = next_month(month).replace(day=3)
        build.book.expense(
            paid, "Expenses:Cloud:AWS", amount, f"AWS bill {month:%Y-%m} (all entities)", "aws", receipt=True
        )
    return build.book, build.log.sorted()
