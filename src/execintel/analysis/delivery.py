"""Delivery operations: jobs from ``booking`` events with a ``job`` attribute, their revenue, direct costs and margin.

A *job* is a ``booking`` event carrying a ``job`` id (with ``from_port``, ``to_port``,
``nautical_miles``, ``departure``); a ``completion`` event with the same ``job`` marks it
done and a ``cancellation`` with the same ``job`` cancels it. Ledger rows are tied to a
job when their description mentions the job id as a whole token. The rules are spelled
out in ``docs/reports/delivery-ops.md``; every figure's ``formula`` repeats them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from execintel.analysis.model import Figure, Finding, Results, add_months, compress_lines, month_key
from execintel.analysis.recurring import grouped_sources
from execintel.formatting import money

if TYPE_CHECKING:
    from execintel.analysis.context import Context

Ref = tuple[str | None, int | None]
UNCOMPLETED_AFTER_DAYS = 14  # a job still open this many days after departure is worth a look
ZERO = Decimal(0)


@dataclass
class Job:
    """One delivery job: its booking, its completion, and the ledger rows that name it."""

    entity: str
    job: str
    booked: dt.date
    customer: str | None = None
    departure: dt.date | None = None
    from_port: str | None = None
    to_port: str | None = None
    nautical_miles: Decimal | None = None
    price: Decimal | None = None  # the booking's amount
    completed: dt.date | None = None
    cancelled: dt.date | None = None
    income: Decimal = ZERO  # ledger Income rows that mention the job
    income_rows: int = 0
    direct_cost: Decimal = ZERO  # minus the ledger Expenses rows that mention the job
    cost_rows: int = 0
    allocated_cost: Decimal | None = None  # share of the unattributed COGS pool (see module docs)
    has_ledger: bool = True
    refs: list[Ref] = field(default_factory=list)

    @property
    def start(self) -> dt.date:
        """The date the job is placed in time by: its departure, else its booking date."""
        return self.departure or self.booked

    def status(self, as_of: dt.date) -> str:
        """``cancelled``, ``completed``, ``in progress`` (departed, no completion) or ``scheduled``."""
        if self.cancelled is not None:
            return "cancelled"
        if self.completed is not None:
            return "completed"
        return "in progress" if self.start <= as_of else "scheduled"

    @property
    def revenue(self) -> Decimal | None:
        """The booking amount; without one, the ledger income that mentions the job; else unknown."""
        if self.price is not None:
            return self.price
        return self.income if self.income_rows else None

    @property
    def cost_basis(self) -> str:
        """``direct`` (ledger rows name the job), ``allocated`` (share of unattributed COGS) or ``none``."""
        if self.cost_rows:
            return "direct"
        if self.allocated_cost is not None:
            return "allocated"
        return "none"

    @property
    def cost(self) -> Decimal | None:
        """Direct costs, else the allocated share; None when neither exists."""
        if self.cost_rows:
            return self.direct_cost
        return self.allocated_cost

    @property
    def margin(self) -> Decimal | None:
        """Revenue minus cost, for completed jobs whose revenue and cost are both known."""
        if self.completed is None or self.cancelled is not None or not self.has_ledger:
            return None
        revenue, cost = self.revenue, self.cost
        if revenue is None or cost is None:
            return None
        return revenue - cost

    @property
    def margin_ratio(self) -> Decimal | None:
        """Margin / revenue (None when either is unknown or revenue is 0)."""
        margin, revenue = self.margin, self.revenue
        if margin is None or not revenue:
            return None
        return margin / revenue

    @property
    def revenue_per_nm(self) -> Decimal | None:
        """Revenue / nautical miles (None when either is unknown or miles are 0)."""
        if self.revenue is None or not self.nautical_miles:
            return None
        return self.revenue / self.nautical_miles


@dataclass
class EntityDelivery:
    """The jobs of one entity, and what the analysis could not compute for it."""

    entity: str
    jobs: list[Job]
    has_ledger: bool
    unattributed_cogs: Decimal = ZERO
    unattributed_refs: list[Ref] = field(default_factory=list)

    def in_window(self, start: dt.date, as_of: dt.date) -> list[Job]:
        """Jobs (not cancelled) that departed in the 12 months ending at ``as_of``."""
        return [j for j in self.jobs if j.cancelled is None and start < j.start <= as_of]

    def upcoming(self, as_of: dt.date) -> list[Job]:
        """Jobs (not cancelled) departing after ``as_of``."""
        return [j for j in self.jobs if j.cancelled is None and j.start > as_of]


@dataclass
class DeliveryResults(Results):
    """Figures and findings, plus the per-job detail the report lays out (memoised with them by the context)."""

    entities: dict[str, EntityDelivery] = field(default_factory=dict)
    uncovered: list[str] = field(default_factory=list)  # kind says delivery, but no job bookings


def event_attrs(raw: Any) -> dict[str, Any]:
    """An event's ``attrs`` JSON as a dict (numbers as exact Decimals)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    value = json.loads(raw, parse_float=Decimal)
    return value if isinstance(value, dict) else {}


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an attribute value, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def to_date(value: Any) -> dt.date | None:
    """A date from an ISO date (or date-time) attribute, else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def cents(value: Decimal | None, currency: str) -> str:
    """An amount for finding text, as the report tables show money (``$1,234.50``); ``unknown`` for None."""
    if value is None:
        return "unknown"
    return money(value, currency)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# SQL: the row's description contains one of the ids passed as a VARCHAR[] parameter. A cheap, vectorised
# pre-filter (containing an id is necessary for naming it as a whole token); the exact test is ``job_pattern``.
MENTIONS_ANY = (
    "EXISTS (SELECT 1 FROM unnest(CAST(? AS VARCHAR[])) AS ids(id) WHERE contains(coalesce(t.description, ''), ids.id))"
)


def job_pattern(job_ids: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any of the job ids as a whole token (not inside a longer id such as ``YD-1`` in ``YD-10``)."""
    ids = sorted(set(job_ids), key=len, reverse=True)
    if not ids:
        return None
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in ids) + r")(?![\w-])")


def delivery_entities(ctx: Context) -> tuple[list[str], list[str]]:
    """(entities with job bookings, entities whose kind mentions delivery but that have none), manifest order."""
    with_jobs = {
        row[0]
        for row in ctx.query(
            "SELECT DISTINCT entity FROM ev WHERE type = 'booking' AND json_extract_string(attrs, '$.job') IS NOT NULL"
        )
    }
    covered = [e for e in ctx.entities if e in with_jobs]
    uncovered = [e.id for e in ctx.entities.values() if e.id not in with_jobs and "delivery" in (e.kind or "").lower()]
    return covered, uncovered


def load_jobs(ctx: Context, entity: str) -> EntityDelivery:
    """The jobs of ``entity`` with their completion, cancellation and ledger rows (all cut at ``as_of``).

    When a job id is booked twice, the later booking (an amendment) defines the job.
    """
    study = _jobs(ctx, entity, _job_events(ctx).get(entity, []))
    _attach_ledgers(ctx, [study])
    return study


def _job_events(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every entity's job events (bookings, completions, cancellations with a job id), in time order: one query."""

    def read() -> dict[str, list[tuple[Any, ...]]]:
        by_entity: dict[str, list[tuple[Any, ...]]] = {}
        for entity, *row in ctx.query(
            "SELECT entity, ts, type, customer, amount, attrs, source_file, source_line FROM ev "
            "WHERE type IN ('booking', 'completion', 'cancellation') AND json_extract_string(attrs, '$.job') IS NOT "
            "NULL ORDER BY entity, ts, source_file, source_line"
        ):
            by_entity.setdefault(entity, []).append(tuple(row))
        return by_entity

    return ctx.memo("delivery.job_events", read)


def _jobs(ctx: Context, entity: str, rows: list[tuple[Any, ...]]) -> EntityDelivery:
    """The jobs of ``entity`` from its job events (``rows`` in time order), without their ledger rows yet."""
    jobs: dict[str, Job] = {}
    closing: list[tuple[str, str, dt.date, Ref]] = []
    for ts, kind, customer, amount, raw, file, line in rows:
        attrs = event_attrs(raw)
        job_id = str(attrs["job"])
        day = ts.date()
        if kind != "booking":
            closing.append((kind, job_id, day, (file, line)))
            continue
        jobs[job_id] = Job(
            entity=entity,
            job=job_id,
            booked=day,
            customer=customer,
            departure=to_date(attrs.get("departure")),
            from_port=_text(attrs.get("from_port")),
            to_port=_text(attrs.get("to_port")),
            nautical_miles=to_decimal(attrs.get("nautical_miles")),
            price=amount,
            refs=[(file, line)],
        )
    for kind, job_id, day, ref in closing:
        job = jobs.get(job_id)
        if job is None:
            continue  # a completion for a job never booked (or booked after as_of) has nothing to close
        job.refs.append(ref)
        if kind == "completion":
            job.completed = job.completed or day
        else:
            job.cancelled = job.cancelled or day
    return EntityDelivery(entity, list(jobs.values()), has_ledger=False)


# Whether a ledger row of entity ``t.entity`` names one of that entity's job ids, given as two parallel lists
# (entity, job id): every entity's rows are checked against its own jobs in one query.
_MENTIONS_OWN = (
    "EXISTS (SELECT 1 FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS VARCHAR[])) AS id) AS ids "
    "WHERE ids.e = t.entity AND contains(coalesce(t.description, ''), ids.id))"
)


def _job_pairs(studies: Sequence[EntityDelivery]) -> list[list[str]]:
    """The (entity, job id) pairs of ``studies`` as the two lists :data:`_MENTIONS_OWN` takes."""
    pairs = [(study.entity, job.job) for study in studies for job in study.jobs]
    return [[entity for entity, _ in pairs], [job for _, job in pairs]]


def _attach_ledgers(ctx: Context, studies: Sequence[EntityDelivery]) -> None:
    """Tie ledger Income/Expenses rows to jobs by the job id in their description; one query for every entity."""
    entities = [study.entity for study in studies]
    with_ledger = ctx.memo(
        "delivery.with_ledger", lambda: {row[0] for row in ctx.query("SELECT DISTINCT entity FROM tx")}
    )
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for entity, *row in ctx.query(
        "SELECT t.entity, t.date, t.account, t.amount, t.description, t.source_file, t.source_line FROM tx t "
        "WHERE t.entity IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND split_part(t.account, ':', 1) IN ('Income', "
        f"'Expenses') AND {_MENTIONS_OWN} ORDER BY t.entity, t.date, t.source_file, t.source_line",
        [entities, *_job_pairs(studies)],
    ):
        rows.setdefault(entity, []).append(tuple(row))
    for study in studies:
        study.has_ledger = study.entity in with_ledger
        _attach_rows(study, rows.get(study.entity, []))


def _attach_rows(study: EntityDelivery, ledger: list[tuple[Any, ...]]) -> None:
    """Add the ledger rows naming ``study``'s jobs to those jobs (a row naming several is split equally)."""
    by_id = {j.job: j for j in study.jobs}
    pattern = job_pattern(by_id)
    for _day, account, amount, description, file, line in ledger:
        named = sorted(set(pattern.findall(description or ""))) if pattern else []
        if not named:
            continue
        income = account.split(":", 1)[0] == "Income"
        share = amount / len(named)  # a row naming several jobs is split equally between them
        for job_id in named:
            job = by_id[job_id]
            job.refs.append((file, line))
            if income:
                job.income += share
                job.income_rows += 1
            else:
                job.direct_cost -= share
                job.cost_rows += 1
    for job in study.jobs:
        job.has_ledger = study.has_ledger


def _allocate_all(ctx: Context, studies: Sequence[EntityDelivery]) -> None:
    """Share each entity's unattributed COGS of the window among its completed window jobs without direct costs,
    by miles; the COGS rows of every entity read in two queries."""
    entities = [study.entity for study in studies]
    cogs = (
        "FROM tx t WHERE t.entity IN (SELECT unnest(CAST(? AS VARCHAR[]))) AND (t.account = 'Expenses:COGS' OR "
        "t.account LIKE 'Expenses:COGS:%') AND t.date > ? AND t.date <= ?"
    )
    params = [entities, ctx.window_start, ctx.as_of, *_job_pairs(studies)]
    pools: dict[str, Decimal] = {}
    refs: dict[str, list[Ref]] = {}
    # rows that contain no job id at all are summed in SQL (there may be many); the few that do are checked here
    for entity, file, total, lines in ctx.query(
        f"SELECT t.entity, t.source_file, sum(t.amount), list(t.source_line ORDER BY t.source_line) {cogs} AND NOT "
        f"{_MENTIONS_OWN} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    ):
        pools[entity] = pools.get(entity, ZERO) - total
        refs.setdefault(entity, []).extend((file, line) for line in lines)
    mentioning: dict[str, list[tuple[Any, ...]]] = {}
    for entity, *row in ctx.query(
        f"SELECT t.entity, t.amount, t.description, t.source_file, t.source_line {cogs} AND {_MENTIONS_OWN} "
        "ORDER BY t.entity, t.date, t.source_file, t.source_line",
        params,
    ):
        mentioning.setdefault(entity, []).append(tuple(row))
    for study in studies:
        pool, mine = pools.get(study.entity, ZERO), refs.get(study.entity, [])
        pattern = job_pattern([j.job for j in study.jobs])
        for amount, description, file, line in mentioning.get(study.entity, []):
            if pattern is None or not pattern.search(description or ""):
                pool -= amount
                mine.append((file, line))
        _share(ctx, study, pool, mine)


def _share(ctx: Context, study: EntityDelivery, pool: Decimal, refs: list[Ref]) -> None:
    study.unattributed_cogs, study.unattributed_refs = pool, refs
    eligible = [
        j
        for j in study.in_window(ctx.window_start, ctx.as_of)
        if j.completed is not None and not j.cost_rows and j.nautical_miles
    ]
    miles = sum((j.nautical_miles or ZERO for j in eligible), ZERO)
    if not pool or not miles:
        return
    for job in eligible:
        job.allocated_cost = pool * (job.nautical_miles or ZERO) / miles
        job.refs.extend(refs)


def study(ctx: Context) -> DeliveryResults:
    """Every delivery entity's jobs, figures and findings."""
    covered, uncovered = delivery_entities(ctx)
    results = DeliveryResults()
    events = _job_events(ctx)
    entities = {entity: _jobs(ctx, entity, events.get(entity, [])) for entity in covered}
    # Every entity's ledger rows and unattributed COGS in a few queries, not a few per entity (entities x rows).
    _attach_ledgers(ctx, list(entities.values()))
    _allocate_all(ctx, list(entities.values()))
    for detail in entities.values():
        _figures(ctx, detail, results)
        _cash_basis(ctx, detail, results)
        _findings(ctx, detail, results)
    results.entities, results.uncovered = entities, uncovered
    return results


def analyze(ctx: Context) -> Results:
    """Figures and findings of every entity with delivery jobs."""
    return study(ctx)


def _sources(jobs: Sequence[Job], extra: Iterable[Ref] = ()) -> tuple[str, ...]:
    return compress_lines([ref for j in jobs for ref in j.refs] + list(extra))


COST_RULE = (
    "job cost = minus the sum of Expenses rows whose description names the job id; a completed job with no such "
    "rows gets a share of the window's Expenses:COGS rows that name no job, in proportion to its nautical_miles "
    "among such jobs"
)


def _figures(ctx: Context, detail: EntityDelivery, results: Results) -> None:
    e, cur = detail.entity, ctx.currency

    def add(key: str, value: Decimal | int | None, unit: str, formula: str, *, jobs: Sequence[Job], name: str) -> None:
        results.add(Figure(f"delivery.{e}.{key}", value, unit, formula, _sources(jobs), name, e))

    window = detail.in_window(ctx.window_start, ctx.as_of)
    completed = [j for j in window if j.completed is not None]
    since = f"{ctx.window_start.isoformat()} < departure <= {ctx.as_of.isoformat()}"
    add(
        "jobs.ttm",
        len(window),
        "count",
        f"number of jobs (booking events with a job id, not cancelled) departed in the 12 months ending at as_of "
        f"({since}; departure falls back to the booking date)",
        jobs=window,
        name="Jobs departed, last 12 months",
    )
    add(
        "jobs.completed.ttm",
        len(completed),
        "count",
        f"number of those jobs with a completion event for the same job id ({since})",
        jobs=completed,
        name="Jobs completed, last 12 months",
    )
    with_revenue = [j for j in window if j.revenue is not None]
    add(
        "revenue.ttm",
        _total(j.revenue for j in with_revenue),
        cur,
        f"sum of job revenue over jobs departed in the 12 months ending at as_of ({since}); job revenue = the "
        f"booking's amount, or when it has none the sum of Income rows whose description names the job id",
        jobs=with_revenue,
        name="Job revenue, last 12 months (job basis)",
    )
    with_miles = [j for j in window if j.nautical_miles is not None]
    add(
        "nautical_miles.ttm",
        _total(j.nautical_miles for j in with_miles),
        "nm",
        f"sum of nautical_miles over jobs departed in the 12 months ending at as_of ({since})",
        jobs=with_miles,
        name="Nautical miles, last 12 months",
    )
    per_nm = [j for j in window if j.revenue is not None and j.nautical_miles]
    per_nm_miles = _total(j.nautical_miles for j in per_nm)
    if per_nm_miles:
        add(
            "revenue_per_nm",
            _total(j.revenue for j in per_nm) / per_nm_miles,
            cur,
            f"sum of job revenue / sum of nautical_miles over jobs departed in the 12 months ending at as_of "
            f"({since}) that have both a revenue and a distance",
            jobs=per_nm,
            name="Revenue per nautical mile",
        )
    if detail.has_ledger:
        margined = [j for j in completed if j.margin is not None]
        margin = _total(j.margin for j in margined)
        basis = _total(j.revenue for j in margined)
        add(
            "costs.ttm",
            _total(j.cost for j in margined),
            cur,
            f"sum of job cost over completed jobs departed in the 12 months ending at as_of ({since}); {COST_RULE}",
            jobs=margined,
            name="Direct job costs, last 12 months (job basis)",
        )
        add(
            "margin.ttm",
            margin,
            cur,
            f"sum of (job revenue - job cost) over completed jobs departed in the 12 months ending at as_of "
            f"({since}) whose revenue and cost are known; {COST_RULE}",
            jobs=margined,
            name="Job margin, last 12 months (job basis)",
        )
        if basis:
            add(
                "margin_ratio.ttm",
                margin / basis,
                "ratio",
                f"delivery.{e}.margin.ttm / sum of job revenue over the same completed jobs",
                jobs=margined,
                name="Job margin %, last 12 months (job basis)",
            )
        if detail.unattributed_cogs:
            results.add(
                Figure(
                    f"delivery.{e}.cogs.unattributed.ttm",
                    detail.unattributed_cogs,
                    cur,
                    f"minus the sum of Expenses:COGS rows dated {ctx.window_start.isoformat()} < date <= "
                    f"{ctx.as_of.isoformat()} whose description names no job id (the pool shared by miles)",
                    compress_lines(detail.unattributed_refs),
                    "COGS not tied to a job, last 12 months",
                    e,
                )
            )
        for job in margined:
            how = (
                "Expenses rows naming the job" if job.cost_basis == "direct" else "share of unattributed COGS by miles"
            )
            source = "booking amount" if job.price is not None else "ledger income"
            add(
                f"job.{job.job}.margin",
                job.margin,
                cur,
                f"revenue of job {job.job} ({source}) - its cost ({how})",
                jobs=[job],
                name=f"Margin of {job.job}",
            )
    upcoming = detail.upcoming(ctx.as_of)
    after = f"departure > {ctx.as_of.isoformat()}"
    add(
        "jobs.upcoming",
        len(upcoming),
        "count",
        f"number of booked jobs (not cancelled) with {after}",
        jobs=upcoming,
        name="Upcoming jobs",
    )
    add(
        "revenue.upcoming",
        _total(j.revenue for j in upcoming),
        cur,
        f"sum of job revenue over booked jobs (not cancelled) with {after}",
        jobs=upcoming,
        name="Booked revenue, upcoming jobs",
    )
    if detail.has_ledger:
        add(
            "collected.upcoming",
            _total(j.income for j in upcoming),
            cur,
            f"sum of Income rows (dated <= as_of) whose description names a job with {after} (deposits received "
            f"before the job sails)",
            jobs=upcoming,
            name="Collected ahead of upcoming jobs",
        )


def _cash_basis(ctx: Context, detail: EntityDelivery, results: Results) -> None:
    """``revenue.cash.ttm`` and, with COGS, ``costs.cash.ttm``: the ledger's view of the same 12 months.

    Job-basis figures place a job's whole price and cost in the window of its departure; the CFO report's revenue
    is cash: Income rows dated in the window. They differ by deposits for jobs not yet sailed, balances of jobs
    that sailed before the window, and income that names no job.
    """
    if not detail.has_ledger:
        return
    e, cur = detail.entity, ctx.currency
    window = f"{ctx.window_start.isoformat()} < date <= {ctx.as_of.isoformat()}"
    fallback = (ctx.entity_key(e, "ledger") if ctx.entities[e].ledger else ctx.manifest_key("ledger"),)
    totals, sources = ctx.memo("delivery.cash_basis", lambda: _cash_basis_by_entity(ctx))
    revenue, costs = totals.get(e, (ZERO, ZERO))
    results.add(Figure(
        f"delivery.{e}.revenue.cash.ttm", revenue, cur,
        f"sum of positive Income amounts of {e} with {window} (cash basis: what was received in the window, the "
        f"CFO report's revenue.ttm.{e})", sources.get(f"income|{e}") or fallback,
        "Revenue received, last 12 months (cash basis)", e,
    ))  # fmt: skip
    results.add(Figure(
        f"delivery.{e}.costs.cash.ttm", costs, cur,
        f"-sum(amount) of {e}'s Expenses:COGS rows (and below) with {window} (cash basis: direct costs paid in the "
        "window)", sources.get(f"cogs|{e}") or fallback,
        "Direct costs paid, last 12 months (cash basis)", e,
    ))  # fmt: skip


_CASH_INCOME = "split_part(account, ':', 1) = 'Income' AND amount > 0"
_CASH_COGS = "(account = 'Expenses:COGS' OR starts_with(account, 'Expenses:COGS:'))"


def _cash_basis_by_entity(
    ctx: Context,
) -> tuple[dict[str, tuple[Decimal, Decimal]], dict[str, tuple[str, ...]]]:
    """Cash-basis revenue and direct costs of the window by entity, and their provenance keyed ``income|<e>`` and
    ``cogs|<e>``: two passes over the ledger for every delivery entity (a query per entity cost entities x rows)."""
    totals = {
        entity: (revenue, costs)
        for entity, revenue, costs in ctx.query(
            f"SELECT entity, coalesce(sum(amount) FILTER (WHERE {_CASH_INCOME}), 0), "
            f"coalesce(-sum(amount) FILTER (WHERE {_CASH_COGS}), 0) FROM tx WHERE date > ? GROUP BY entity",
            [ctx.window_start],
        )
    }
    sources = grouped_sources(
        ctx,
        f"SELECT CASE WHEN {_CASH_INCOME} THEN 'income|' ELSE 'cogs|' END || entity AS k, source_file AS f, "
        f"source_line AS l FROM tx WHERE date > ? AND ({_CASH_INCOME} OR {_CASH_COGS})",
        [ctx.window_start],
    )
    return totals, sources


def _total(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def _findings(ctx: Context, detail: EntityDelivery, results: Results) -> None:
    e = detail.entity
    cur = ctx.currency
    for job in detail.in_window(ctx.window_start, ctx.as_of):
        margin = job.margin
        if margin is not None and margin < 0:
            results.find(
                Finding(
                    "job-negative-margin",
                    "medium",
                    f"Job {job.job} lost {cents(-margin, cur)}",
                    e,
                    (
                        f"revenue {cents(job.revenue, cur)}, cost {cents(job.cost, cur)} ({job.cost_basis})",
                        f"route {job.from_port or '?'} -> {job.to_port or '?'}, {job.nautical_miles or '?'} nm, "
                        f"departed {job.start.isoformat()}",
                        "rows " + ", ".join(_sources([job])),
                    ),
                    amount=-margin,
                    recommendation="Check the quote for this route against its crew, travel and provisioning costs.",
                    subject=f"job {job.job}",
                )
            )
    for job in detail.jobs:
        if job.status(ctx.as_of) != "in progress":
            continue
        days = (ctx.as_of - job.start).days
        if days > UNCOMPLETED_AFTER_DAYS:
            results.find(
                Finding(
                    "job-uncompleted",
                    "low",
                    f"Job {job.job} departed {days} days ago and has no completion",
                    e,
                    (
                        f"departure {job.start.isoformat()}, booked {job.booked.isoformat()}",
                        "rows " + ", ".join(_sources([job])),
                    ),
                    amount=job.revenue,
                    recommendation="Record the completion (and the balance payment), or cancel the job.",
                    subject=f"job {job.job}",
                )
            )


@dataclass(frozen=True)
class MonthRow:
    """Jobs departed in one calendar month (cancelled jobs left out)."""

    month: str
    jobs: int
    nautical_miles: Decimal
    revenue: Decimal
    margin: Decimal | None  # over the month's completed jobs with a known margin; None when there are none


def monthly(detail: EntityDelivery, as_of: dt.date, count: int = 12) -> list[MonthRow]:
    """Jobs, miles, revenue and margin by departure month for the ``count`` calendar months ending with as_of's."""
    first = as_of.replace(day=1)
    keys = [month_key(add_months(first, -i)) for i in range(count - 1, -1, -1)]
    rows = []
    for key in keys:
        jobs = [j for j in detail.jobs if j.cancelled is None and j.start <= as_of and month_key(j.start) == key]
        margins = [j.margin for j in jobs if j.margin is not None]
        rows.append(
            MonthRow(
                key,
                len(jobs),
                _total(j.nautical_miles for j in jobs),
                _total(j.revenue for j in jobs),
                _total(margins) if margins else None,
            )
        )
    return rows
