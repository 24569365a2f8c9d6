"""Expert Yacht Delivery (yacht-delivery): jobs by route and distance; deposit up front, balance on arrival."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from execintel.demo.common import AS_OF, START, Book, Event, EventLog, months, number, pick_days, random_days, rng

ROUTES = (
    ("San Diego", "Ensenada", 65),
    ("Newport Beach", "San Diego", 70),
    ("Long Beach", "San Diego", 80),
    ("Marina del Rey", "San Diego", 95),
    ("Santa Barbara", "San Diego", 190),
    ("San Diego", "San Francisco", 450),
    ("San Diego", "Cabo San Lucas", 750),
    ("San Diego", "La Paz", 880),
    ("San Diego", "Puerto Vallarta", 1100),
    ("Seattle", "San Diego", 1150),
)
# Jobs departing per month; the autumn 2026 months are fixed so the portfolio's recent burn is known.
FIXED_JOBS = {dt.date(2026, 8, 1): 0, dt.date(2026, 9, 1): 1, dt.date(2026, 10, 1): 0, dt.date(2026, 11, 1): 0}
BOOKED_AHEAD = (dt.date(2026, 11, 28), ("San Diego", "Cabo San Lucas", 750))  # deposit paid before as_of
CREW_PER_DAY = 240
MILES_PER_DAY = 140


def quote(miles: int) -> int:
    """The price of a delivery: a distance rate with a minimum, rounded to $25."""
    return max(1400, round((5.5 * miles + 900) / 25) * 25)


def build_delivery() -> tuple[Book, list[Event]]:
    """The delivery business's ledger and its job events."""
    rand = rng("yacht-delivery")
    book = Book("EYD", rng("yacht-delivery-receipts"), missing_receipts=0.12)
    log = EventLog("yacht-delivery", rng("yacht-delivery-events"))
    job_no = 0

    def job(departure: dt.date, route: tuple[str, str, int]) -> None:
        nonlocal job_no
        job_no += 1
        origin, destination, miles = route
        price = quote(miles)
        job_id = f"YD-{departure:%Y}-{job_no:03d}"
        owner = f"o-{rand.randint(100, 999)}"
        booked = min(departure - dt.timedelta(days=rand.randint(10, 40)), AS_OF - dt.timedelta(days=3))
        booked = max(booked, START)
        days = math.ceil(miles / MILES_PER_DAY) + 1
        arrival = departure + dt.timedelta(days=days)
        channel = rand.choice(("referral", "broker", "website"))
        log.add(
            booked,
            "booking",
            customer=owner,
            amount=number(price),
            units=1,
            channel=channel,
            job=job_id,
            from_port=origin,
            to_port=destination,
            nautical_miles=miles,
            departure=departure.isoformat(),
        )
        book.income(booked, "Income:Deliveries", Decimal(price) / 2, f"Deposit {job_id}", owner, service_date=departure)
        if arrival > AS_OF:
            return
        book.income(
            arrival, "Income:Deliveries", Decimal(price) / 2, f"Balance {job_id}", owner, service_date=departure
        )
        book.expense(
            arrival,
            "Expenses:COGS:Crew",
            CREW_PER_DAY * days,
            f"Relief crew, {days} days, {job_id}",
            "relief crew",
            receipt=True,
        )
        book.expense(
            arrival,
            "Expenses:COGS:Travel",
            150 + 0.4 * miles + rand.uniform(0, 120),
            f"Return travel, {job_id}",
            "airline",
        )
        book.expense(departure, "Expenses:COGS:Provisions", 40 * days, f"Provisions, {job_id}", "grocer")
        log.add(arrival, "completion", customer=owner, units=1, job=job_id, nautical_miles=miles)

    for first in months():
        count = FIXED_JOBS.get(first, rand.choice((0, 1, 1, 1, 2)))
        for departure in pick_days(rand, first, count, lo=3):
            job(departure, rand.choice(ROUTES))
        for day in random_days(rand, first, rand.randint(2, 6)):
            log.add(
                day,
                "lead",
                customer=f"o-{rand.randint(100, 999)}",
                channel=rand.choice(("referral", "website")),
                form="delivery-quote",
            )
        book.expense(first.replace(day=3), "Expenses:Insurance", 210, "Professional liability", "marine insurer")
        book.expense(first.replace(day=7), "Expenses:Software", 25, "Charts and weather routing", "charts service")
        book.expense(first.replace(day=9), "Expenses:Marketing", 60, "Broker directory listing", "directory")
        book.expense(first.replace(day=14), "Expenses:Telephone", 45, "Satellite messenger plan", "satellite carrier")
        if first.month == 1:
            book.expense(
                first.replace(day=15), "Expenses:Licenses", 480, "Captain license and endorsements", "licensing agency"
            )
    job(*BOOKED_AHEAD)
    return book, log.sorted()
