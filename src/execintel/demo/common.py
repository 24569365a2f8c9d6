"""Shared pieces of the demo generator: the fixed calendar, seeded randomness, ledger rows, events, writers."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SEED = 20261115
AS_OF = dt.date(2026, 11, 15)
START = dt.date(2024, 12, 1)
CENT = Decimal("0.01")
# The three calendar months before the month of AS_OF: the contract's "last 3 complete months".
LAST_COMPLETE_MONTHS = (dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1))
LEDGER_HEADER = ("date", "account", "amount", "description", "counterparty", "service_date", "receipt")

Event = dict[str, Any]


def rng(name: str) -> random.Random:
    """A random generator seeded by name, so each part of the demo draws its own stable sequence."""
    return random.Random(f"execintel-demo:{SEED}:{name}")


def money(value: float | int | str | Decimal) -> Decimal:
    """An amount rounded to cents."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def months(start: dt.date = START, end: dt.date = AS_OF) -> list[dt.date]:
    """The first day of every month from ``start`` to ``end`` inclusive."""
    out = []
    current = start.replace(day=1)
    while current <= end:
        out.append(current)
        current = next_month(current)
    return out


def next_month(first: dt.date) -> dt.date:
    """The first day of the month after ``first``."""
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_end(first: dt.date) -> dt.date:
    """The last day of ``first``'s month."""
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def last_day(first: dt.date) -> int:
    """The last day of the month that may hold data (AS_OF's day in AS_OF's month)."""
    end = month_end(first)
    return min(end, AS_OF).day if first <= AS_OF else end.day


def pick_days(rand: random.Random, first: dt.date, count: int, *, lo: int = 1) -> list[dt.date]:
    """``count`` distinct sorted days of ``first``'s month, no later than AS_OF."""
    top = last_day(first)
    count = min(count, top - lo + 1)
    return [first.replace(day=d) for d in sorted(rand.sample(range(lo, top + 1), count))]


def random_days(rand: random.Random, first: dt.date, per_month: int) -> list[dt.date]:
    """About ``per_month`` sorted days of ``first``'s month (fewer in the partial month of AS_OF), repeats allowed."""
    top = last_day(first)
    count = per_month * top // month_end(first).day
    return sorted(first.replace(day=rand.randint(1, top)) for _ in range(count))


def timestamp(day: dt.date, rand: random.Random) -> str:
    """An ISO UTC timestamp on ``day`` during Pacific business hours."""
    return f"{day.isoformat()}T{rand.randint(15, 23):02d}:{rand.randint(0, 59):02d}:{rand.randint(0, 59):02d}Z"


def alnum(rand: random.Random, length: int, alphabet: str = "") -> str:
    """A random string of letters and digits (or of ``alphabet``)."""
    chars = alphabet or "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rand.choice(chars) for _ in range(length))


@dataclass(frozen=True)
class Row:
    """One cash movement in the ledger convention: positive = cash in."""

    date: dt.date
    account: str
    amount: Decimal
    description: str = ""
    counterparty: str = ""
    service_date: dt.date | None = None
    receipt: str = ""

    def cells(self) -> list[str]:
        """The row as ledger CSV cells in :data:`LEDGER_HEADER` order."""
        service = self.service_date.isoformat() if self.service_date else ""
        return [
            self.date.isoformat(),
            self.account,
            f"{self.amount:.2f}",
            self.description,
            self.counterparty,
            service,
            self.receipt,
        ]


@dataclass
class Book:
    """The ledger of one entity under construction; rows dated after AS_OF are dropped."""

    prefix: str  # receipt reference prefix, e.g. "QOSD"
    rand: random.Random
    missing_receipts: float = 0.08  # share of expenses booked without a receipt
    rows: list[Row] = field(default_factory=list)
    _receipt_no: int = 0

    def add(self, row: Row) -> None:
        """Keep ``row`` when it is dated on or before AS_OF."""
        if row.date <= AS_OF:
            self.rows.append(row)

    def income(
        self,
        day: dt.date,
        account: str,
        amount: Decimal | float,
        description: str,
        counterparty: str = "",
        *,
        service_date: dt.date | None = None,
    ) -> None:
        """Cash received."""
        self.add(Row(day, account, money(amount), description, counterparty, service_date))

    def expense(
        self,
        day: dt.date,
        account: str,
        amount: Decimal | float,
        description: str,
        counterparty: str = "",
        *,
        receipt: bool | None = None,
    ) -> None:
        """Cash paid (``amount`` is positive); ``receipt`` None means kept unless randomly missing."""
        if day > AS_OF:
            return
        keep = receipt if receipt is not None else self.rand.random() >= self.missing_receipts
        reference = ""
        if keep:
            self._receipt_no += 1
            reference = f"{self.prefix}-R{self._receipt_no:04d}"
        self.add(Row(day, account, -money(amount), description, counterparty, None, reference))

    def transfer(
        self, day: dt.date, account: str, amount: Decimal | float, description: str, counterparty: str = ""
    ) -> None:
        """A balance-sheet movement (equity, loans, assets); signed like every row."""
        self.add(Row(day, account, money(amount), description, counterparty))


@dataclass
class EventLog:
    """The events of one entity under construction; events after AS_OF are dropped."""

    entity: str
    rand: random.Random
    events: list[Event] = field(default_factory=list)

    def add(self, day: dt.date, kind: str, **fields: Any) -> None:
        """Record one event on ``day`` (at a random business hour) with the given fields."""
        if day > AS_OF:
            return
        item: Event = {"ts": timestamp(day, self.rand), "entity": self.entity, "type": kind}
        item.update({k: v for k, v in fields.items() if v is not None})
        self.events.append(item)

    def sorted(self) -> list[Event]:
        """The events in time order (stable for equal times)."""
        return sorted(self.events, key=lambda e: str(e["ts"]))


def number(value: Decimal | float | int) -> int | float:
    """A JSON number: whole amounts as integers, others with cents."""
    amount = money(value)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with Unix newlines, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV file with a header row and Unix newlines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_jsonl(path: Path, events: Iterable[Event]) -> None:
    """Write one JSON object per line."""
    write_text(path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))


def write_ledger_csv(path: Path, rows: Iterable[Row]) -> None:
    """Write a ledger CSV (CONTRACT.md section 2) sorted by date."""
    ordered = sorted(rows, key=lambda r: r.date)
    write_csv(path, LEDGER_HEADER, (r.cells() for r in ordered))
