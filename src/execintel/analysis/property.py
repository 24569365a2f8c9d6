"""Property: rent roll, occupancy, vacancy loss, rent collected, expenses and net operating income of rentals.

Covers entities with ``revenue_model: rental`` and entities with ``lease``
events. Leases come from events (a contract extension, documented in
``docs/reports/property.md``)::

    {"type": "lease", "unit": "A", "tenant": "t-a01", "monthly_rent": 2450,
     "start": "2026-06-01", "end": "2027-05-31"}
    {"type": "move_out", "unit": "B", "tenant": "t-b01"}      # the event's day is the last day occupied
    {"type": "unit", "unit": "C"}                            # a unit with no lease yet

Money figures read the ``tx`` view (ledger rows dated on or before ``as_of``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, compress_lines
from execintel.formatting import money

ZERO = Decimal(0)
EXPIRY_DAYS = 90  # a lease ending within this many days of as_of, with no renewal, is expiring
URGENT_DAYS = 30  # ... and within this many days the finding is high
LEASE_TYPES = ("lease", "move_out", "unit")
# Expense rows left out of net operating income: debt service (interest) and non-cash charges.
NON_OPERATING = ("interest", "depreciation", "amortization", "amortisation")
DEBT_ACCOUNTS = ("mortgage", "loan", "note")  # Liabilities accounts whose repayments are debt service
DSCR_MINIMUM = Decimal("1.25")  # the debt service coverage lenders usually require; below it: low-dscr
Ref = tuple[str | None, int | None]


@dataclass(frozen=True)
class Lease:
    """One lease of one unit, as signed, and the day it really ends (``until``) after move-outs and successors."""

    unit: str
    tenant: str
    rent: Decimal
    start: dt.date
    end: dt.date | None  # None: open-ended (month to month)
    signed: dt.date
    ref: Ref
    until: dt.date | None = None  # last day occupied; None: open-ended
    moved_out: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        """Whether the unit is occupied under this lease on ``day``."""
        return self.start <= day and (self.until is None or day <= self.until)


@dataclass
class Rental:
    """The leases of one entity's units, built from its lease events."""

    entity: str
    units: list[str] = field(default_factory=list)
    leases: list[Lease] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _by_unit: dict[str, list[Lease]] | None = field(default=None, repr=False)

    def of(self, unit: str) -> list[Lease]:
        """The leases of ``unit``, by start."""
        if self._by_unit is None:
            self._by_unit = defaultdict(list)
            for lease in self.leases:
                self._by_unit[lease.unit].append(lease)
        return self._by_unit.get(unit, [])

    def current(self, unit: str, day: dt.date) -> Lease | None:
        """The lease occupying ``unit`` on ``day``."""
        return next((x for x in self.of(unit) if x.covers(day)), None)

    def following(self, unit: str, day: dt.date) -> Lease | None:
        """The first lease of ``unit`` starting after ``day``."""
        return next((x for x in self.of(unit) if x.start > day), None)

    def preceding(self, unit: str, day: dt.date) -> Lease | None:
        """The last lease of ``unit`` starting on or before ``day``."""
        found = [x for x in self.of(unit) if x.start <= day]
        return found[-1] if found else None


@dataclass(frozen=True)
class RentRollLine:
    """One unit at ``as_of``."""

    unit: str
    status: str  # occupied | vacant
    tenant: str | None
    rent: Decimal | None
    start: dt.date | None
    end: dt.date | None
    days_to_end: int | None
    next_start: dt.date | None  # a signed lease starting after as_of


@dataclass
class PropertyResults(Results):
    """Figures and findings, plus the tables the property report lays out, per covered entity."""

    covered: list[str] = field(default_factory=list)
    rentals: dict[str, Rental] = field(default_factory=dict)
    rent_roll: dict[str, list[RentRollLine]] = field(default_factory=dict)
    # (account, rows, amount, role in NOI) per entity
    expenses: dict[str, list[tuple[str, int, Decimal, str]]] = field(default_factory=dict)
    has_ledger: dict[str, bool] = field(default_factory=dict)


def _text(attrs: dict[str, Any], key: str) -> str | None:
    value = attrs.get(key)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _date(attrs: dict[str, Any], key: str) -> dt.date | None:
    value = _text(attrs, key)
    return None if value is None else dt.date.fromisoformat(value[:10])


def read_rental(entity: str, events: Iterable[tuple[Any, ...]]) -> Rental:
    """Leases, move-outs and units from ``(ts, type, customer, amount, attrs, file, line)`` event rows, in order.

    Leases of a unit are ordered by start; a lease ends at the earliest of its ``end``, a move-out of its tenant
    from its unit on or after its start, and the day before the unit's next lease starts. Two leases of a unit with
    the same start: the one signed last (later event) replaces the other. Bad events are reported, not used.
    """
    rental = Rental(entity)
    units: dict[str, None] = {}
    by_start: dict[tuple[str, dt.date], Lease] = {}
    moves: list[tuple[str, str | None, dt.date, Ref]] = []
    for ts, kind, customer, amount, attrs_text, file, line in events:
        ref: Ref = (file, line)
        where = f"{file}:{line}"
        try:
            attrs = json.loads(attrs_text) if attrs_text else {}
            unit = _text(attrs, "unit")
            if unit is None:
                raise ValueError("it names no unit")
            tenant = _text(attrs, "tenant") or (str(customer) if customer else None)
            if kind == "lease":
                rent_value = attrs.get("monthly_rent", amount)
                if rent_value is None:
                    raise ValueError("it has no monthly_rent")
                rent = Decimal(str(rent_value))
                start, end = _date(attrs, "start"), _date(attrs, "end")
                if start is None:
                    raise ValueError("it has no start date")
                if end is not None and end < start:
                    raise ValueError(f"its end {end} is before its start {start}")
                lease = Lease(unit, tenant or "unnamed tenant", rent, start, end, ts.date(), ref)
                by_start[(unit, start)] = lease
            elif kind == "move_out":
                moves.append((unit, tenant, _date(attrs, "date") or ts.date(), ref))
        except (ValueError, TypeError, InvalidOperation) as exc:
            rental.problems.append(f"{where}: {kind} event not used because {exc}")
            continue
        units.setdefault(unit, None)
        rental.refs.append(ref)
    leases = sorted(by_start.values(), key=lambda x: (x.unit, x.start))
    for i, lease in enumerate(leases):
        following = leases[i + 1] if i + 1 < len(leases) and leases[i + 1].unit == lease.unit else None
        until = lease.end
        if following is not None:
            cap = following.start - dt.timedelta(days=1)
            until = cap if until is None or cap < until else until
        leases[i] = replace(lease, until=until)
    for unit, tenant, day, ref in moves:
        match = [i for i, x in enumerate(leases) if x.unit == unit and x.start <= day and tenant in (None, x.tenant)]
        if not match:
            rental.problems.append(f"{ref[0]}:{ref[1]}: move_out of {tenant or 'a tenant'} from unit {unit} on {day} "
                                   "matches no lease")  # fmt: skip
            continue
        lease = leases[match[-1]]
        until = day if lease.until is None or day < lease.until else lease.until
        leases[match[-1]] = replace(lease, until=until, moved_out=day)
    rental.units = sorted(units)
    rental.leases = leases
    return rental


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def occupancy_days(rental: Rental, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(occupied unit-days, unit-days) from ``first`` to ``last`` inclusive, over every unit."""
    span = (last - first).days + 1
    occupied = 0
    for lease in rental.leases:
        a = max(lease.start, first)
        b = last if lease.until is None else min(lease.until, last)
        occupied += max(0, (b - a).days + 1)
    return occupied, span * len(rental.units)


def vacancy_loss(rental: Rental, first: dt.date, last: dt.date) -> tuple[Decimal, list[str]]:
    """Rent lost to vacant unit-days from ``first`` to ``last``, and the units with no rent to price them.

    A vacant day is priced at the monthly rent of the unit's next lease (the one starting after it), else of its
    last lease before it, divided by the number of days of that calendar month.
    """
    per_month: dict[tuple[Decimal, int, int], int] = defaultdict(int)  # (rent, year, month) -> vacant days
    unpriced: list[str] = []
    for unit in rental.units:
        for day in _days(first, last):
            if rental.current(unit, day) is not None:
                continue
            reference = rental.following(unit, day) or rental.preceding(unit, day)
            if reference is None:
                if unit not in unpriced:
                    unpriced.append(unit)
                continue
            per_month[(reference.rent, day.year, day.month)] += 1
    total = ZERO
    for (rent, year, month), days in sorted(per_month.items()):
        total += rent * days / calendar.monthrange(year, month)[1]
    return total, unpriced


def rent_roll(rental: Rental, as_of: dt.date) -> list[RentRollLine]:
    """Every unit at ``as_of``: its lease in force (or vacant) and the next signed lease."""
    lines: list[RentRollLine] = []
    for unit in rental.units:
        lease = rental.current(unit, as_of)
        upcoming = rental.following(unit, as_of)
        next_start = upcoming.start if upcoming is not None else None
        if lease is None:
            lines.append(RentRollLine(unit, "vacant", None, None, None, None, None, next_start))
            continue
        end = lease.until
        lines.append(RentRollLine(unit, "occupied", lease.tenant, lease.rent, lease.start, end,
                                  None if end is None else (end - as_of).days, next_start))  # fmt: skip
    return lines


class _Property:
    """Builds the property results for one context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cur = ctx.currency
        self.as_of = ctx.as_of
        self.first = ctx.window_start + dt.timedelta(days=1)  # first day of the 12 months ending at as_of
        self.res = PropertyResults()
        events: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in ctx.query(
            "SELECT entity, ts, type, customer, amount, attrs, source_file, source_line FROM ev WHERE type IN "
            "('lease', 'move_out', 'unit') ORDER BY entity, ts, source_file, source_line"
        ):
            events[row[0]].append(row[1:])
        self.events = events
        self.res.covered = [e.id for e in ctx.manifest.entities if e.revenue_model == "rental" or e.id in events]
        ledgered = {r[0] for r in ctx.query("SELECT DISTINCT entity FROM tx")}
        self.res.has_ledger = {e: e in ledgered for e in self.res.covered}

    def add(self, entity: str, key: str, value: Any, unit: str, formula: str, *, src: Sequence[str],
            name: str) -> Figure:  # fmt: skip
        """Record ``property.<e>.<key>``."""
        title = f"{name}, {self.ctx.entities[entity].name}"
        return self.res.add(Figure(f"property.{entity}.{key}", value, unit, formula, tuple(src), title, entity))

    def run(self) -> PropertyResults:
        """Every covered entity's figures and findings."""
        for entity in self.res.covered:
            if self.events.get(entity):
                rental = read_rental(entity, self.events[entity])
                self.res.rentals[entity] = rental
                if rental.units:
                    self.leases(entity, rental)
            if self.res.has_ledger[entity]:
                self.ledger(entity)
        return self.res

    # --- leases ----------------------------------------------------------------------------
    def leases(self, e: str, rental: Rental) -> None:
        """Rent roll, occupancy, vacancy and the lease findings."""
        src = compress_lines(rental.refs)
        roll = rent_roll(rental, self.as_of)
        self.res.rent_roll[e] = roll
        occupied = [r for r in roll if r.status == "occupied"]
        as_of = self.as_of.isoformat()
        in_force = ("a lease is in force on day d when start <= d <= its last day (the earliest of its end, a "
                    "move-out of its tenant, the day before the unit's next lease starts)")  # fmt: skip
        self.add(e, "units", len(rental.units), "count", "number of distinct units named by lease, move_out and unit "
                 "events dated <= as_of", src=src, name="Units")  # fmt: skip
        self.add(e, "units.occupied", len(occupied), "count", f"number of units with a lease in force on {as_of}; "
                 + in_force, src=src, name="Units occupied")  # fmt: skip
        self.add(e, "occupancy", Decimal(len(occupied)) / len(rental.units), "ratio",
                 f"property.{e}.units.occupied / property.{e}.units (on {as_of})", src=src,
                 name="Occupancy")  # fmt: skip
        self.add(e, "rent_roll.monthly", sum((r.rent or ZERO for r in occupied), ZERO), self.cur,
                 f"sum of monthly_rent of the leases in force on {as_of}", src=src,
                 name="Rent roll (monthly)")  # fmt: skip
        days, capacity = occupancy_days(rental, self.first, self.as_of)
        window = f"the days {self.first.isoformat()} to {as_of}"
        self.add(e, "occupancy.ttm", Decimal(days) / capacity, "ratio",
                 f"occupied unit-days / (units x days) over {window}; " + in_force, src=src,
                 name="Occupancy, last 12 months (unit-days)")  # fmt: skip
        self.add(e, "vacancy.days.ttm", capacity - days, "days", f"units x days - occupied unit-days over {window}",
                 src=src, name="Vacant unit-days, last 12 months")  # fmt: skip
        loss, unpriced = vacancy_loss(rental, self.first, self.as_of)
        for unit in unpriced:
            rental.problems.append(f"unit {unit} has no lease to price its vacant days: left out of the vacancy loss")
        self.add(e, "vacancy_loss.ttm", loss, self.cur,
                 f"sum over vacant unit-days of {window} of (monthly_rent of the unit's next lease, else of its last "
                 "lease) / days in that calendar month", src=src, name="Vacancy loss, last 12 months")  # fmt: skip
        expiring = [r for r in occupied if r.days_to_end is not None and r.days_to_end <= EXPIRY_DAYS
                    and r.next_start is None]  # fmt: skip
        self.add(e, "leases.expiring", len(expiring), "count",
                 f"number of leases in force on {as_of} whose last day is within {EXPIRY_DAYS} days and whose unit "
                 "has no later lease signed", src=src, name=f"Leases expiring within {EXPIRY_DAYS} days")  # fmt: skip
        for line in expiring:
            self.expiring_finding(e, rental, line)
        for line in roll:
            if line.status == "vacant":
                self.vacant_finding(e, rental, line)

    def expiring_finding(self, e: str, rental: Rental, line: RentRollLine) -> None:
        """``lease-expiring``: high within URGENT_DAYS, else medium."""
        lease = rental.current(line.unit, self.as_of)
        if lease is None or line.end is None or line.days_to_end is None:
            return
        self.res.find(Finding(
            "lease-expiring", "high" if line.days_to_end <= URGENT_DAYS else "medium",
            f"Unit {line.unit}: lease of {line.tenant} ends {line.end.isoformat()}, in {line.days_to_end} days, with "
            "no renewal signed", e,
            (f"{lease.ref[0]}:{lease.ref[1]}: lease from {lease.start.isoformat()} at "
             f"{money(lease.rent, self.cur)} a month", f"no later lease of unit {line.unit} by {self.as_of}"),
            lease.rent, lease.ref[0], lease.ref[1],
            recommendation="Offer a renewal or start marketing the unit before the lease ends.",
            subject=f"unit {line.unit}, lease from {lease.start.isoformat()}",
        ))  # fmt: skip

    def vacant_finding(self, e: str, rental: Rental, line: RentRollLine) -> None:
        """``unit-vacant``: high when no lease is signed, low when a signed lease starts later."""
        last = rental.preceding(line.unit, self.as_of)
        upcoming = rental.following(line.unit, self.as_of)
        evidence: list[str] = []
        since = None
        if last is not None and last.until is not None:
            since = last.until + dt.timedelta(days=1)
            evidence.append(f"{last.ref[0]}:{last.ref[1]}: last lease ({last.tenant}) ended {last.until.isoformat()}")
        if upcoming is not None:
            evidence.append(f"{upcoming.ref[0]}:{upcoming.ref[1]}: next lease ({upcoming.tenant}) starts "
                            f"{upcoming.start.isoformat()}")  # fmt: skip
        reference = upcoming or last
        title = f"Unit {line.unit} is vacant" + (f" since {since.isoformat()}" if since else "")
        title += f"; next lease starts {upcoming.start.isoformat()}" if upcoming else "; no lease signed"
        ref = reference.ref if reference else (None, None)
        self.res.find(Finding(
            "unit-vacant", "low" if upcoming else "high", title, e, tuple(evidence),
            reference.rent if reference else None, ref[0], ref[1],
            recommendation="" if upcoming else "List the unit and sign a lease.",
            subject=f"unit {line.unit} vacant " + (f"since {since.isoformat()}" if since else "from the start"),
        ))  # fmt: skip

    # --- ledger ----------------------------------------------------------------------------
    def ledger(self, e: str) -> None:
        """Rent collected, expenses by account, NOI, debt service and capital items over the 12 months."""
        threshold = self.ctx.manifest.policies.capitalize_above
        window = f"{self.ctx.window_start.isoformat()} < date <= {self.as_of.isoformat()}"
        base = "FROM tx WHERE entity = ? AND date > ?"
        params = [e, self.ctx.window_start]
        non_op = " OR ".join(f"contains(lower(account), '{w}')" for w in NON_OPERATING)
        capital = "-amount > ?" if threshold is not None else "FALSE"
        cap_params = [threshold] if threshold is not None else []
        role = (f"CASE WHEN {non_op} THEN 'debt service / non-cash' WHEN {capital} THEN 'capital item' "
                "ELSE 'operating' END")  # fmt: skip
        rows = self.ctx.query(
            f"""SELECT account, {role} AS role, count(*), -sum(amount) {base}
                AND split_part(account, ':', 1) = 'Expenses' GROUP BY account, role ORDER BY account, role""",
            [*cap_params, *params],
        )
        self.res.expenses[e] = [(account, n, amount, r) for account, r, n, amount in rows]

        def total(which: str | None) -> Decimal:
            return sum((a for _, r, _, a in rows if which is None or r == which), ZERO)

        def sources(where: str, extra: Sequence[Any] = ()) -> tuple[str, ...]:
            return self.ctx.provenance(f"{base} AND ({where})", [*params, *extra]) or (
                self.ctx.entity_key(e, "ledger") if self.ctx.entities[e].ledger else self.ctx.manifest_key("ledger"),
            )

        income_where = "split_part(account, ':', 1) = 'Income'"
        income = self.ctx.query(f"SELECT coalesce(sum(amount), 0) {base} AND {income_where}", params)[0][0]
        expense_where = "split_part(account, ':', 1) = 'Expenses'"
        opex_where = f"{expense_where} AND NOT ({non_op}) AND NOT ({capital})"
        self.add(e, "rent.collected.ttm", income, self.cur, f"sum(amount) of {e}'s Income rows with {window} "
                 "(refunds netted)", src=sources(income_where), name="Rent collected, last 12 months")  # fmt: skip
        self.add(e, "expenses.ttm", total(None), self.cur, f"-sum(amount) of {e}'s Expenses rows with {window}",
                 src=sources(expense_where), name="Expenses, last 12 months")  # fmt: skip
        cap_note = (f"single rows with -amount > policies.capitalize_above ({threshold})" if threshold is not None
                    else "none: policies.capitalize_above is not set")  # fmt: skip
        opex_formula = (
            f"-sum(amount) of {e}'s Expenses rows with {window}, except accounts containing "
            f"{', '.join(NON_OPERATING)} (debt service, non-cash) and capital items ({cap_note})"
        )
        opex = self.add(e, "opex.ttm", total("operating"), self.cur, opex_formula,
                        src=sources(opex_where, cap_params), name="Operating expenses, last 12 months")  # fmt: skip
        self.add(e, "noi.ttm", income - total("operating"), self.cur,
                 f"property.{e}.rent.collected.ttm - property.{e}.opex.ttm",
                 src=tuple(dict.fromkeys(self.res.figures[f"property.{e}.rent.collected.ttm"].sources
                                         + opex.sources)), name="Net operating income, last 12 months")  # fmt: skip
        if threshold is not None:
            self.add(e, "capex.ttm", total("capital item"), self.cur, f"-sum(amount) of {e}'s Expenses rows with "
                     f"{window} and -amount > policies.capitalize_above ({threshold})",
                     src=sources(f"{expense_where} AND {capital} AND NOT ({non_op})", cap_params),
                     name="Capital items expensed, last 12 months")  # fmt: skip
        debt = " OR ".join(f"contains(lower(account), '{w}')" for w in DEBT_ACCOUNTS)
        debt_where = (
            f"({expense_where} AND contains(lower(account), 'interest')) OR "
            f"(split_part(account, ':', 1) = 'Liabilities' AND ({debt}) AND amount < 0)"
        )
        service = self.ctx.query(f"SELECT coalesce(-sum(amount), 0) {base} AND ({debt_where})", params)[0][0]
        noi = self.res.figures[f"property.{e}.noi.ttm"]
        parts = list(noi.sources)
        if service:
            paid = self.add(e, "debt_service.ttm", service, self.cur, f"-sum(amount) of {e}'s rows with {window} on "
                            "Expenses accounts containing 'interest', and repayments (amount < 0) on Liabilities "
                            f"accounts containing {', '.join(DEBT_ACCOUNTS)}", src=sources(debt_where),
                            name="Debt service, last 12 months")  # fmt: skip
            parts += paid.sources
            self.coverage(e, income - total("operating"), service, tuple(dict.fromkeys(noi.sources + paid.sources)))
        capex = total("capital item")
        if threshold is not None:
            parts += self.res.figures[f"property.{e}.capex.ttm"].sources
        self.add(e, "cash_flow.after_debt.ttm", income - total("operating") - service - capex, self.cur,
                 f"property.{e}.noi.ttm - property.{e}.debt_service.ttm - property.{e}.capex.ttm (each 0 when "
                 "absent): what is left of the rent after operating expenses, debt service and capital repairs",
                 src=tuple(dict.fromkeys(parts)),
                 name="Cash flow after debt service and capital repairs, last 12 months")  # fmt: skip

    def coverage(self, e: str, noi: Decimal, service: Decimal, src: tuple[str, ...]) -> None:
        """``property.<e>.dscr.ttm`` (NOI / debt service) and a ``low-dscr`` finding under DSCR_MINIMUM."""
        ratio = noi / service
        self.add(e, "dscr.ttm", ratio, "x", f"property.{e}.noi.ttm / property.{e}.debt_service.ttm (debt service "
                 "coverage ratio: how many times net operating income covers principal and interest)",
                 src=src, name="Debt service coverage ratio, last 12 months")  # fmt: skip
        if ratio >= DSCR_MINIMUM:
            return
        needed = DSCR_MINIMUM * service - noi
        shown = ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        self.res.find(Finding(
            "low-dscr", "high" if ratio < 1 else "medium",
            f"{self.ctx.entities[e].name}: net operating income covers debt service {shown} times (lenders usually "
            f"ask for {DSCR_MINIMUM}); {money(needed, self.cur)} more a year would reach it", e,
            (f"net operating income {money(noi, self.cur)} over the last 12 months (property.{e}.noi.ttm)",
             f"debt service {money(service, self.cur)} (property.{e}.debt_service.ttm)",
             "below 1.0 the rent does not cover the loan payments" if ratio < 1 else
             f"between 1.0 and {DSCR_MINIMUM}: covered, with little margin"),
            needed,
            recommendation="Raise rents at renewal, cut operating costs, or refinance to lower the debt service.",
            subject="debt service coverage",
        ))  # fmt: skip


def analyze(ctx: Context) -> PropertyResults:
    """Rent roll, occupancy, vacancy, rent collected, expenses and NOI of every rental entity."""
    return _Property(ctx).run()
