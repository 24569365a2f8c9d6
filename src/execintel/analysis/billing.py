"""Billing audit: retainer contracts against invoices, work hours and payments, per client and month.

The events extend CONTRACT section 3 (documented in ``docs/reports/billing-audit.md``):
``contract`` (client, monthly_retainer, start, end, included_hours), ``invoice`` (client,
invoice, amount, due, period ``YYYY-MM``), ``payment`` (client, invoice, amount) and
``work`` (client, hours, task). The audit months are the 12 calendar months whose first
day falls in the 12 months ending at ``as_of`` (for 2026-11-15: 2025-12 .. 2026-11).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from execintel.analysis.delivery import MENTIONS_ANY, cents, event_attrs, job_pattern, to_date, to_decimal
from execintel.analysis.model import Figure, Finding, Results, add_months, compress_lines, month_key

if TYPE_CHECKING:
    from execintel.analysis.context import Context

Ref = tuple[str | None, int | None]
ZERO = Decimal(0)
# (figure id suffix, name, lowest and highest days past due); an overdue invoice is at least 1 day past due
AGING = (
    ("0-30", "1-30 days", 0, 30),
    ("31-60", "31-60 days", 31, 60),
    ("61-90", "61-90 days", 61, 90),
    ("over-90", "more than 90 days", 91, None),
)
HIGH_AFTER_DAYS = 60  # an overdue receivable older than this is high severity
# Unbilled work is medium severity when the client has no contract or it reaches this share of what the contract
# brought in over the audit months; a few stray hours on a busy retainer are low.
UNBILLED_MEDIUM_SHARE = Decimal("0.1")


@dataclass(frozen=True)
class Contract:
    """A monthly retainer agreement."""

    client: str
    retainer: Decimal
    start: dt.date
    end: dt.date | None
    included_hours: Decimal | None
    signed: dt.date
    ref: Ref

    def covers(self, month: str) -> bool:
        """Whether the contract is in force on any day of ``month``."""
        first = dt.date.fromisoformat(month + "-01")
        last = add_months(first, 1) - dt.timedelta(days=1)
        return self.start <= last and (self.end is None or self.end >= first)

    @property
    def rate(self) -> Decimal | None:
        """The effective hourly rate: retainer / included hours (None without included hours)."""
        return self.retainer / self.included_hours if self.included_hours else None


@dataclass
class Invoice:
    """An invoice and what has been paid against it."""

    client: str
    invoice: str
    amount: Decimal
    issued: dt.date
    due: dt.date
    period: str
    ref: Ref
    paid: Decimal = ZERO
    payment_refs: list[Ref] = field(default_factory=list)

    @property
    def outstanding(self) -> Decimal:
        """Amount minus payments applied (never below 0)."""
        return max(ZERO, self.amount - self.paid)

    def days_overdue(self, as_of: dt.date) -> int:
        """Days past due at ``as_of`` (0 when not yet due)."""
        return max(0, (as_of - self.due).days)


@dataclass(frozen=True)
class Payment:
    """A payment event."""

    client: str
    invoice: str | None
    amount: Decimal
    date: dt.date
    ref: Ref


@dataclass(frozen=True)
class Work:
    """Hours of work logged for a client."""

    client: str
    date: dt.date
    hours: Decimal
    task: str | None
    ref: Ref


@dataclass
class ClientMonth:
    """One client in one audit month: what was contracted, invoiced and worked."""

    client: str
    month: str
    contract: Contract | None
    invoiced: Decimal
    hours: Decimal
    rate_basis: tuple[Decimal, Decimal] | None  # (retainers, included hours) whose quotient is the hourly rate
    invoice_refs: list[Ref]
    work_refs: list[Ref]

    @property
    def refs(self) -> list[Ref]:
        """Every row behind this client-month: contract, invoices, work."""
        return self.contract_refs + self.invoice_refs + self.work_refs

    @property
    def contract_refs(self) -> list[Ref]:
        """The applicable contract's row, if any."""
        return [self.contract.ref] if self.contract else []

    @property
    def rate(self) -> Decimal | None:
        """The hourly rate: the contract's retainer / included hours, else the entity's blended rate."""
        return self.rate_basis[0] / self.rate_basis[1] if self.rate_basis else None

    @property
    def contracted(self) -> Decimal:
        """The applicable contract's monthly retainer (0 without a contract)."""
        return self.contract.retainer if self.contract else ZERO

    @property
    def under_billed(self) -> Decimal:
        """Contracted minus invoiced, when positive and a contract applies."""
        return max(ZERO, self.contracted - self.invoiced) if self.contract else ZERO

    @property
    def billable_hours(self) -> Decimal | None:
        """Hours beyond the included hours (all hours without a contract); None when included hours are unknown."""
        if self.contract is None:
            return self.hours
        if self.contract.included_hours is None:
            return None
        return max(ZERO, self.hours - self.contract.included_hours)

    @property
    def unbilled(self) -> Decimal | None:
        """max(0, billable hours x rate - invoiced beyond the retainer); None when hours or rate are unknown."""
        hours, basis = self.billable_hours, self.rate_basis
        if hours is None or basis is None:
            return None
        # hours x retainer / included hours: multiplying first keeps 3 h at 1600/12 exactly 400
        return max(ZERO, hours * basis[0] / basis[1] - max(ZERO, self.invoiced - self.contracted))

    @property
    def unbilled_hours(self) -> Decimal | None:
        """Billable hours minus the hours that invoices beyond the retainer cover (never below 0)."""
        hours, basis = self.billable_hours, self.rate_basis
        if hours is None or basis is None:
            return hours
        return max(ZERO, hours - max(ZERO, self.invoiced - self.contracted) * basis[1] / basis[0])


@dataclass
class EntityBilling:
    """Everything the audit read and derived for one entity."""

    entity: str
    contracts: list[Contract]
    invoices: list[Invoice]
    payments: list[Payment]
    work: list[Work]
    months: list[str] = field(default_factory=list)
    grid: list[ClientMonth] = field(default_factory=list)
    blended: tuple[Decimal, Decimal] | None = None  # (sum of retainers, sum of included hours)
    unapplied: Decimal = ZERO
    reconciled: bool = False
    reconcile_note: str = ""

    def clients(self) -> list[str]:
        """Every client named by any event, sorted."""
        names = {c.client for c in self.contracts} | {i.client for i in self.invoices}
        names |= {p.client for p in self.payments} | {w.client for w in self.work}
        return sorted(names)

    def applicable(self, client: str, month: str) -> Contract | None:
        """The client's contract for ``month``: of those in force, the one that started last (amendments win)."""
        live = [c for c in self.contracts if c.client == client and c.covers(month)]
        return max(live, key=lambda c: (c.start, c.signed)) if live else None


@dataclass
class BillingResults(Results):
    """Figures and findings, plus the detail the report lays out (memoised with them by the context)."""

    entities: dict[str, EntityBilling] = field(default_factory=dict)
    uncovered: list[str] = field(default_factory=list)  # retainer entities without contract or invoice events


def hours_text(value: Decimal | None) -> str:
    """Hours for finding text, to two decimals at most."""
    if value is None:
        return "unknown"
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{rounded:f} h"


def audit_months(ctx: Context) -> list[str]:
    """The 12 calendar months whose first day is in the 12 months ending at ``as_of``, oldest first."""
    first = ctx.as_of.replace(day=1)
    firsts = [add_months(first, -i) for i in range(12)]
    return [month_key(d) for d in reversed(firsts) if d > ctx.window_start]


def billing_entities(ctx: Context) -> tuple[list[str], list[str]]:
    """(entities with contract or invoice events, retainer entities without them), in manifest order."""
    with_events = {r[0] for r in ctx.query("SELECT DISTINCT entity FROM ev WHERE type IN ('contract', 'invoice')")}
    covered = [e for e in ctx.entities if e in with_events]
    uncovered = [e.id for e in ctx.entities.values() if e.id not in with_events and e.revenue_model == "retainer"]
    return covered, uncovered


def load_billing(ctx: Context, entity: str) -> EntityBilling:
    """The entity's contracts, invoices, payments and work (events dated on or before ``as_of``)."""
    rows = ctx.query(
        "SELECT ts, type, customer, amount, attrs, source_file, source_line FROM ev "
        "WHERE entity = ? AND type IN ('contract', 'invoice', 'payment', 'work') ORDER BY ts, source_file, source_line",
        [entity],
    )
    detail = EntityBilling(entity, [], [], [], [])
    for ts, kind, customer, amount, raw, file, line in rows:
        attrs = event_attrs(raw)
        client = str(attrs.get("client") or customer or "")
        if not client:
            continue  # an event that names no client cannot be audited against a contract
        day, ref = ts.date(), (file, line)
        if kind == "contract":
            retainer = to_decimal(attrs.get("monthly_retainer"))
            retainer = retainer if retainer is not None else amount
            if retainer is None:
                continue
            start = to_date(attrs.get("start")) or day
            detail.contracts.append(
                Contract(
                    client,
                    retainer,
                    start,
                    to_date(attrs.get("end")),
                    to_decimal(attrs.get("included_hours")),
                    day,
                    ref,
                )
            )
        elif kind == "invoice":
            if amount is None:
                continue
            number = str(attrs.get("invoice") or f"{client}@{day.isoformat()}")
            period = str(attrs.get("period") or "").strip()
            period = period if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period) else month_key(day)
            due = to_date(attrs.get("due")) or day
            detail.invoices.append(Invoice(client, number, amount, day, due, period, ref))
        elif kind == "payment":
            if amount is None:
                continue
            invoice = attrs.get("invoice")
            detail.payments.append(Payment(client, str(invoice) if invoice else None, amount, day, ref))
        else:
            hours = to_decimal(attrs.get("hours"))
            if hours is None:
                continue
            task = attrs.get("task")
            detail.work.append(Work(client, day, hours, str(task) if task else None, ref))
    _apply_payments(detail)
    return detail


def _apply_payments(detail: EntityBilling) -> None:
    """Apply payments to invoices: by invoice id when it names a known one, else to the client's oldest open ones."""
    by_number = {i.invoice: i for i in detail.invoices}
    loose: list[Payment] = []
    for payment in detail.payments:
        invoice = by_number.get(payment.invoice or "")
        if invoice is None:
            loose.append(payment)
            continue
        invoice.paid += payment.amount
        invoice.payment_refs.append(payment.ref)
    for payment in loose:
        left = payment.amount
        open_invoices = sorted(
            (i for i in detail.invoices if i.client == payment.client and i.outstanding > 0),
            key=lambda i: (i.due, i.issued, i.invoice),
        )
        for invoice in open_invoices:
            if left <= 0:
                break
            take = min(left, invoice.outstanding)
            invoice.paid += take
            invoice.payment_refs.append(payment.ref)
            left -= take
        detail.unapplied += left
    for invoice in detail.invoices:
        if invoice.paid > invoice.amount:
            detail.unapplied += invoice.paid - invoice.amount


def _grid(ctx: Context, detail: EntityBilling) -> None:
    """Client x month rows for the audit months."""
    detail.months = audit_months(ctx)
    rated = [c for c in detail.contracts if c.included_hours]
    hours_total = sum((c.included_hours or ZERO for c in rated), ZERO)
    detail.blended = (sum((c.retainer for c in rated), ZERO), hours_total) if hours_total > 0 else None
    invoiced: dict[tuple[str, str], list[Invoice]] = defaultdict(list)
    for invoice in detail.invoices:
        invoiced[invoice.client, invoice.period].append(invoice)
    worked: dict[tuple[str, str], list[Work]] = defaultdict(list)
    for item in detail.work:
        worked[item.client, month_key(item.date)].append(item)
    for client in detail.clients():
        for month in detail.months:
            contract = detail.applicable(client, month)
            invoices, work = invoiced[client, month], worked[client, month]
            if contract is None and not invoices and not work:
                continue
            basis = detail.blended
            if contract is not None and contract.included_hours:
                basis = (contract.retainer, contract.included_hours)
            detail.grid.append(
                ClientMonth(
                    client,
                    month,
                    contract,
                    sum((i.amount for i in invoices), ZERO),
                    sum((w.hours for w in work), ZERO),
                    basis,
                    [i.ref for i in invoices],
                    [w.ref for w in work],
                )
            )


def _reconcile(ctx: Context, detail: EntityBilling, results: Results) -> None:
    """Payments in the window against ledger Income rows that name the invoice id (see the report's doc page)."""
    numbers = {i.invoice for i in detail.invoices}
    if not ctx.query("SELECT 1 FROM tx WHERE entity = ? LIMIT 1", [detail.entity]):
        detail.reconcile_note = f"{detail.entity} has no ledger: payments cannot be reconciled."
        return
    ledger = ctx.query(
        "SELECT t.amount, t.description, t.source_file, t.source_line FROM tx t WHERE t.entity = ? "
        f"AND split_part(t.account, ':', 1) = 'Income' AND {MENTIONS_ANY}",
        [detail.entity, sorted(numbers)],
    )
    pattern = job_pattern(numbers)  # the same whole-token rule as job ids in delivery descriptions
    booked: dict[str, Decimal] = defaultdict(lambda: ZERO)
    booked_refs: dict[str, list[Ref]] = defaultdict(list)
    for amount, description, file, line in ledger:
        for number in set(pattern.findall(description or "")) if pattern else ():
            booked[number] += amount
            booked_refs[number].append((file, line))
    if not booked:
        detail.reconcile_note = (
            "No ledger Income row names an invoice id, so payments were not reconciled with the ledger."
        )
        return
    detail.reconciled = True
    shortfall, checked = ZERO, list[Ref]()
    paid: dict[str, list[Payment]] = defaultdict(list)
    for payment in detail.payments:
        if payment.invoice in numbers:
            paid[payment.invoice or ""].append(payment)
    for number, payments in sorted(paid.items()):
        if not any(ctx.window_start < p.date <= ctx.as_of for p in payments):
            continue
        total = sum((p.amount for p in payments), ZERO)
        missing = total - booked.get(number, ZERO)
        checked += [p.ref for p in payments] + booked_refs[number]
        if missing > 0:
            shortfall += missing
            client = payments[0].client
            results.find(
                Finding(
                    "payment-not-in-ledger",
                    "low",
                    f"Payment of {cents(missing, ctx.currency)} on {number} ({client}) is not in the ledger",
                    detail.entity,
                    (
                        f"payment events for {number}: {cents(total, ctx.currency)}; ledger Income rows naming it: "
                        f"{cents(booked.get(number, ZERO), ctx.currency)}",
                        "rows " + ", ".join(compress_lines([p.ref for p in payments] + booked_refs[number])),
                    ),
                    amount=missing,
                    recommendation="Record the deposit in the ledger with the invoice id in its description.",
                    subject=f"invoice {number}",
                )
            )
    results.add(
        Figure(
            f"billing.{detail.entity}.payments.not_in_ledger",
            shortfall,
            ctx.currency,
            f"sum over invoice ids with a payment event dated {ctx.window_start.isoformat()} < date <= "
            f"{ctx.as_of.isoformat()} of max(0, payment events naming the invoice - ledger Income rows whose "
            "description names the invoice id)",
            compress_lines(checked),
            "Payments missing from the ledger, last 12 months",
            detail.entity,
        )
    )
    unmatched = [p for p in detail.payments if p.invoice not in numbers and ctx.window_start < p.date]
    if unmatched:
        detail.reconcile_note = f"{len(unmatched)} payment(s) name no known invoice and were not reconciled."


def study(ctx: Context) -> BillingResults:
    """Every billed entity's audit: figures, findings and detail."""
    covered, uncovered = billing_entities(ctx)
    results = BillingResults()
    entities: dict[str, EntityBilling] = {}
    for entity in covered:
        detail = load_billing(ctx, entity)
        _grid(ctx, detail)
        entities[entity] = detail
        _figures(ctx, detail, results)
        _findings(ctx, detail, results)
        _reconcile(ctx, detail, results)
    results.entities, results.uncovered = entities, uncovered
    return results


def analyze(ctx: Context) -> Results:
    """Figures and findings of every entity with contracts or invoices."""
    return study(ctx)


def _total(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def _refs(rows: Iterable[ClientMonth], kind: str = "refs") -> tuple[str, ...]:
    """Source references of client-months: ``refs`` (all), ``contract_refs``, ``invoice_refs`` or ``work_refs``."""
    return compress_lines([r for row in rows for r in getattr(row, kind)])


def _billing_refs(rows: Iterable[ClientMonth]) -> tuple[str, ...]:
    return compress_lines([r for row in rows for r in row.contract_refs + row.invoice_refs])


MONTHS_RULE = "the 12 calendar months whose first day is in the 12 months ending at as_of"
CONTRACT_RULE = (
    "contracted = monthly_retainer of the client's contract in force in that month (start <= month end and "
    "(no end or end >= month start); when several are, the one that started last)"
)
UNBILLED_RULE = (
    "per client and month: max(0, billable hours x rate - max(0, invoiced - contracted)); billable hours = work "
    "hours above the contract's included_hours, or all hours without a contract; rate = monthly_retainer / "
    "included_hours, or without a contract the blended rate (sum of retainers / sum of included_hours over every "
    "contract with included hours)"
)


def _figures(ctx: Context, detail: EntityBilling, results: Results) -> None:
    e, cur, as_of = detail.entity, ctx.currency, ctx.as_of
    span = f"{detail.months[0]} .. {detail.months[-1]}" if detail.months else "none"

    def add(key: str, value: Decimal | int, unit: str, formula: str, *, sources: Sequence[str], name: str) -> None:
        results.add(Figure(f"billing.{e}.{key}", value, unit, formula, tuple(sources), name, e))

    grid = detail.grid
    contracted = [g for g in grid if g.contract]
    add(
        "contracted.ttm",
        _total(g.contracted for g in contracted),
        cur,
        f"sum over clients and {MONTHS_RULE} ({span}) of the contracted retainer; {CONTRACT_RULE}",
        sources=_refs(contracted, "contract_refs"),
        name="Contracted, last 12 months",
    )
    billed = [g for g in grid if g.invoiced]
    add(
        "invoiced.ttm",
        _total(g.invoiced for g in billed),
        cur,
        f"sum of invoice amounts whose period is one of {MONTHS_RULE} ({span})",
        sources=_refs(billed, "invoice_refs"),
        name="Invoiced, last 12 months",
    )
    gaps = [g for g in grid if g.under_billed]
    add(
        "under_billed.ttm",
        _total(g.under_billed for g in gaps),
        cur,
        f"sum over clients and months ({span}) of max(0, contracted - invoiced) where a contract applies; "
        f"{CONTRACT_RULE}",
        sources=_billing_refs(gaps),
        name="Under-billed against contracts, last 12 months",
    )
    unbilled = [g for g in grid if g.unbilled]
    add(
        "unbilled.amount",
        _total(g.unbilled for g in unbilled),
        cur,
        f"sum over months ({span}) of {UNBILLED_RULE}",
        sources=_refs(unbilled),
        name="Unbilled work, last 12 months",
    )
    add(
        "unbilled.hours",
        _total(g.unbilled_hours for g in unbilled),
        "hours",
        f"sum over clients and months ({span}) of max(0, billable hours - max(0, invoiced - contracted) / rate) "
        "for client-months with unbilled work (hours no invoice covers)",
        sources=_refs(unbilled),
        name="Unbilled hours, last 12 months",
    )
    if detail.blended is not None:
        rated = [c.ref for c in detail.contracts if c.included_hours]
        add(
            "effective_rate",
            detail.blended[0] / detail.blended[1],
            cur,
            "sum of monthly_retainer / sum of included_hours over every contract with included hours (the rate "
            "for work done without a contract)",
            sources=compress_lines(rated),
            name="Blended hourly rate",
        )
    window_payments = [p for p in detail.payments if ctx.window_start < p.date <= as_of]
    add(
        "collected.ttm",
        _total(p.amount for p in window_payments),
        cur,
        f"sum of payment event amounts dated {ctx.window_start.isoformat()} < date <= {as_of.isoformat()}",
        sources=compress_lines(p.ref for p in window_payments),
        name="Collected, last 12 months",
    )
    open_invoices = [i for i in detail.invoices if i.outstanding > 0]
    overdue = [i for i in open_invoices if i.due < as_of]
    add(
        "receivables.outstanding",
        _total(i.outstanding for i in open_invoices),
        cur,
        "sum over invoices dated <= as_of of max(0, amount - payments applied); a payment naming an invoice id "
        "applies to it, any other payment to the client's oldest open invoices by due date",
        sources=_invoice_refs(open_invoices),
        name="Receivables outstanding",
    )
    add(
        "receivables.overdue.invoices",
        len(overdue),
        "count",
        f"number of invoices with an outstanding amount whose due date is before as_of ({as_of.isoformat()})",
        sources=_invoice_refs(overdue),
        name="Overdue invoices",
    )
    add(
        "receivables.overdue",
        _total(i.outstanding for i in overdue),
        cur,
        f"sum of outstanding amounts of invoices whose due date is before as_of ({as_of.isoformat()})",
        sources=_invoice_refs(overdue),
        name="Receivables overdue",
    )
    for label, title, low, high in AGING:
        bucket = [
            i for i in overdue if low <= i.days_overdue(as_of) and (high is None or i.days_overdue(as_of) <= high)
        ]
        span_days = f"{max(low, 1)}-{high}" if high is not None else f"more than {low - 1}"
        add(
            f"receivables.overdue.{label}",
            _total(i.outstanding for i in bucket),
            cur,
            f"sum of outstanding amounts of invoices {span_days} days past due at as_of",
            sources=_invoice_refs(bucket),
            name=f"Overdue {title}",
        )
    current = [i for i in open_invoices if i.due >= as_of]
    add(
        "receivables.current",
        _total(i.outstanding for i in current),
        cur,
        "sum of outstanding amounts of invoices not yet due (due date on or after as_of)",
        sources=_invoice_refs(current),
        name="Receivables not yet due",
    )
    now = month_key(as_of)
    live = {c for c in detail.clients() if detail.applicable(c, now)}
    live_contracts = [detail.applicable(c, now) for c in sorted(live)]
    add(
        "clients.contracted",
        len(live),
        "count",
        f"number of clients with a contract in force in {now} (the month of as_of)",
        sources=compress_lines(c.ref for c in live_contracts if c),
        name="Clients under contract",
    )
    add(
        "retainer.monthly",
        _total(c.retainer for c in live_contracts if c),
        cur,
        f"sum of monthly_retainer of the contracts in force in {now}; {CONTRACT_RULE}",
        sources=compress_lines(c.ref for c in live_contracts if c),
        name="Monthly retainers under contract",
    )
    for row in by_client(ctx, detail):
        c = row.client
        rows = [g for g in grid if g.client == c]
        owed = [i for i in open_invoices if i.client == c]
        for key, value, sources, label in (
            ("contracted.ttm", row.contracted, _refs(rows, "contract_refs"), "contracted, last 12 months"),
            ("invoiced.ttm", row.invoiced, _refs(rows, "invoice_refs"), "invoiced, last 12 months"),
            ("under_billed.ttm", row.under_billed, _billing_refs(rows), "under-billed, last 12 months"),
            ("unbilled.amount", row.unbilled, _refs(rows), "unbilled work, last 12 months"),
            ("receivables.outstanding", row.outstanding, _invoice_refs(owed), "receivables outstanding"),
            (
                "receivables.overdue",
                row.overdue,
                _invoice_refs(i for i in owed if i.due < as_of),
                "receivables overdue",
            ),
        ):
            add(
                f"client.{c}.{key}",
                value,
                cur,
                f"billing.{e}.{key} for client {c} only",
                sources=sources,
                name=f"{c}: {label}",
            )


def _invoice_refs(invoices: Iterable[Invoice]) -> tuple[str, ...]:
    return compress_lines([r for i in invoices for r in (i.ref, *i.payment_refs)])


def _findings(ctx: Context, detail: EntityBilling, results: Results) -> None:
    e, cur, as_of = detail.entity, ctx.currency, ctx.as_of
    for client in detail.clients():
        rows = [g for g in detail.grid if g.client == client]
        gaps = [g for g in rows if g.under_billed]
        if gaps:
            gap = _total(g.under_billed for g in gaps)
            results.find(
                Finding(
                    "under-billed",
                    "medium",
                    f"{client} was invoiced {cents(gap, cur)} less than its contract over {len(gaps)} "
                    f"{'month' if len(gaps) == 1 else 'months'}",
                    e,
                    (
                        *(
                            f"{g.month}: contracted {cents(g.contracted, cur)}, invoiced {cents(g.invoiced, cur)}"
                            for g in gaps
                        ),
                        "rows " + ", ".join(_billing_refs(gaps)),
                    ),
                    amount=gap,
                    recommendation="Invoice the difference and update the invoice template to the current retainer.",
                    subject=f"client {client}",
                )
            )
        extra = [g for g in rows if g.unbilled]
        if extra:
            amount = _total(g.unbilled for g in extra)
            hours = _total(g.unbilled_hours for g in extra)
            uncontracted = all(g.contract is None for g in extra)
            what = "work with no contract" if uncontracted else "work beyond the included hours"
            contracted = _total(g.contracted for g in rows)
            serious = (
                any(g.contract is None for g in extra) or not contracted or amount >= contracted * UNBILLED_MEDIUM_SHARE
            )
            results.find(
                Finding(
                    "unbilled-work",
                    "medium" if serious else "low",
                    f"{client}: {hours_text(hours)} of {what} not invoiced (about {cents(amount, cur)})",
                    e,
                    (
                        *(
                            f"{g.month}: {hours_text(g.hours)} worked"
                            + (f", {hours_text(g.contract.included_hours)} included" if g.contract else ", no contract")
                            + f", rate {cents(g.rate, cur)}/h, unbilled {cents(g.unbilled, cur)}"
                            for g in extra
                        ),
                        "rows " + ", ".join(_refs(extra)),
                    ),
                    amount=amount,
                    recommendation="Put the client on a contract and invoice the work done."
                    if uncontracted
                    else "Invoice the overage hours or raise the retainer's included hours.",
                    subject=f"client {client}",
                )
            )
    for invoice in sorted(detail.invoices, key=lambda i: (i.due, i.invoice)):
        if invoice.outstanding <= 0 or invoice.due >= as_of:
            continue
        days = invoice.days_overdue(as_of)
        results.find(
            Finding(
                "overdue-receivable",
                "high" if days > HIGH_AFTER_DAYS else "medium",
                f"Invoice {invoice.invoice} to {invoice.client}: {cents(invoice.outstanding, cur)} unpaid, "
                f"{days} days overdue",
                e,
                (
                    f"amount {cents(invoice.amount, cur)}, paid {cents(invoice.paid, cur)}, period {invoice.period}, "
                    f"due {invoice.due.isoformat()}",
                    "rows " + ", ".join(_invoice_refs([invoice])),
                ),
                amount=invoice.outstanding,
                recommendation="Chase the payment; pause work for the client if it stays unpaid.",
                subject=f"invoice {invoice.invoice}",
            )
        )


@dataclass(frozen=True)
class ClientRow:
    """One client's audit-month totals and what it owes at ``as_of``."""

    client: str
    retainer: Decimal | None  # of the contract in force in the month of as_of
    included_hours: Decimal | None
    contracted: Decimal
    invoiced: Decimal
    under_billed: Decimal
    hours: Decimal
    unbilled: Decimal
    collected: Decimal
    outstanding: Decimal
    overdue: Decimal


@dataclass(frozen=True)
class MonthRow:
    """All clients in one audit month."""

    month: str
    contracted: Decimal
    invoiced: Decimal
    under_billed: Decimal
    hours: Decimal
    unbilled: Decimal


def by_client(ctx: Context, detail: EntityBilling) -> list[ClientRow]:
    """Per client (with anything in the audit months or anything owed): the audit totals."""
    rows = []
    now = month_key(ctx.as_of)
    for client in detail.clients():
        grid = [g for g in detail.grid if g.client == client]
        owed = [i for i in detail.invoices if i.client == client and i.outstanding > 0]
        if not grid and not owed:
            continue
        live = detail.applicable(client, now)
        paid = [p for p in detail.payments if p.client == client and ctx.window_start < p.date <= ctx.as_of]
        rows.append(
            ClientRow(
                client,
                live.retainer if live else None,
                live.included_hours if live else None,
                _total(g.contracted for g in grid),
                _total(g.invoiced for g in grid),
                _total(g.under_billed for g in grid),
                _total(g.hours for g in grid),
                _total(g.unbilled for g in grid),
                _total(p.amount for p in paid),
                _total(i.outstanding for i in owed),
                _total(i.outstanding for i in owed if i.due < ctx.as_of),
            )
        )
    return rows


def by_month(detail: EntityBilling) -> list[MonthRow]:
    """Per audit month, all clients together."""
    rows = []
    for month in detail.months:
        grid = [g for g in detail.grid if g.month == month]
        rows.append(
            MonthRow(
                month,
                _total(g.contracted for g in grid),
                _total(g.invoiced for g in grid),
                _total(g.under_billed for g in grid),
                _total(g.hours for g in grid),
                _total(g.unbilled for g in grid),
            )
        )
    return rows
