"""The ``delivery-ops`` report: delivery jobs with revenue, direct costs and margin per job, by month, and upcoming."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from execintel.analysis import delivery
from execintel.analysis.model import Figure, month_key
from execintel.formatting import show, show_figure
from execintel.reports.document import Document, DocumentBuilder

if TYPE_CHECKING:
    from execintel.analysis.context import Context

TITLE = "Delivery operations"
JOB_DATA = "booking events with a `job` attribute (from_port, to_port, nautical_miles, departure) and completion events"


def build(ctx: Context) -> Document:
    """Jobs, revenue and margin per job for every entity with delivery bookings."""
    builder = DocumentBuilder(ctx, "delivery-ops", TITLE)
    memo = ctx.results("delivery")  # shared with any other report that reads the delivery analysis
    found = memo if isinstance(memo, delivery.DeliveryResults) else delivery.study(ctx)
    for entity in found.uncovered:
        builder.missing(f"{JOB_DATA} for {entity}", "the delivery-ops report: jobs, revenue and margin per job")
    if not found.entities:
        builder.missing(JOB_DATA, "the delivery-ops report: jobs, revenue and margin per job")
        builder.narrative("No entity has delivery jobs: no booking event carries a `job` attribute.")
        builder.text(
            "scope",
            "Scope",
            ["This report covers entities whose booking events name a delivery job. None do in this portfolio."],
        )
        return builder.build()
    for entity, detail in found.entities.items():
        _entity(ctx, builder, found, entity, detail)
    return builder.build()


def _opening(builder: DocumentBuilder, name: str, fig: Callable[[str], Figure | None]) -> None:
    """Summary first, for one entity: narrative sentences and headline figures with their comparisons."""
    builder.headline([fig(k) for k in ("jobs.ttm", "revenue.ttm", "margin.ttm", "margin_ratio.ttm",
                                       "revenue.upcoming")])  # fmt: skip
    builder.narrative("{name}: {jobs} jobs departed in the last twelve months ({distance}), revenue {revenue} "
                      "(job basis).",
                      name=name, jobs=fig("jobs.ttm"), distance=fig("nautical_miles.ttm"),
                      revenue=fig("revenue.ttm"))  # fmt: skip
    builder.narrative("{name}: margin {margin} ({ratio}), {per_nm} per nautical mile.", name=name,
                      margin=fig("margin.ttm"), ratio=fig("margin_ratio.ttm"), per_nm=fig("revenue_per_nm")) or \
        builder.narrative("{name}: margin {margin} ({ratio}).", name=name, margin=fig("margin.ttm"),
                          ratio=fig("margin_ratio.ttm"))  # fmt: skip
    upcoming = fig("jobs.upcoming")
    if upcoming is not None and upcoming.value:
        builder.narrative("{name}: upcoming jobs {jobs}, worth {revenue}, {collected} already collected.", name=name,
                          jobs=upcoming, revenue=fig("revenue.upcoming"), collected=fig("collected.upcoming")) or \
            builder.narrative("{name}: upcoming jobs {jobs}, worth {revenue}.", name=name, jobs=upcoming,
                              revenue=fig("revenue.upcoming"))  # fmt: skip


def _entity(
    ctx: Context,
    builder: DocumentBuilder,
    found: delivery.DeliveryResults,
    entity: str,
    detail: delivery.EntityDelivery,
) -> None:
    figures = found.figures
    cur = ctx.currency
    name = ctx.entities[entity].name

    def fig(key: str) -> Figure | None:
        return figures.get(f"delivery.{entity}.{key}")

    _opening(builder, name, fig)

    keys = ("jobs.ttm", "jobs.completed.ttm", "nautical_miles.ttm", "revenue.ttm", "costs.ttm", "margin.ttm",
            "margin_ratio.ttm", "revenue_per_nm", "cogs.unattributed.ttm")  # fmt: skip
    window = f"{(ctx.window_start + dt.timedelta(days=1)).isoformat()} to {ctx.as_of.isoformat()}"
    note = "Job basis: each job's price and costs count in the window of its departure, whenever they were paid."
    if not detail.has_ledger:
        note = f"{entity} has no ledger rows: job costs and margins cannot be computed."
        builder.missing(f"a ledger for {entity}", "direct costs and margin per delivery job")
    builder.figures_section(f"{entity}-ttm", f"{name}: jobs departed {window} (job basis)", [fig(k) for k in keys],
                            note=note)  # fmt: skip
    builder.figures_section(f"{entity}-ahead", f"{name}: jobs departing after {ctx.as_of.isoformat()}",
                            [fig(k) for k in ("jobs.upcoming", "revenue.upcoming", "collected.upcoming")])  # fmt: skip
    _basis(ctx, builder, found, entity, window)

    as_of = ctx.as_of
    shown = [j for j in detail.jobs if j.cancelled is None and (j.start > ctx.window_start or j.completed is None)]
    shown.sort(key=lambda j: (j.start, j.job))
    builder.figures_from(found, prefix=f"delivery.{entity}.job.")  # per-job margins, for explain
    builder.table(
        f"{entity}-jobs",
        f"{name}: jobs departed {window}, and every job still open",
        [
            ("Job", ""),
            ("Route", ""),
            ("Distance", "nm"),
            ("Departure", "date"),
            ("Status", ""),
            ("Revenue", cur),
            ("Collected", cur),
            ("Cost", cur),
            ("Cost basis", ""),
            ("Margin", cur),
            ("Margin %", "ratio"),
            ("Revenue per nm", cur),
        ],
        [
            [
                j.job,
                f"{j.from_port or '?'} -> {j.to_port or '?'}",
                j.nautical_miles,
                j.start.isoformat(),
                j.status(as_of),
                j.revenue,
                j.income if detail.has_ledger else None,
                j.cost,
                j.cost_basis,
                j.margin,
                j.margin_ratio,
                j.revenue_per_nm,
            ]
            for j in shown
        ],
        note="Jobs departed in the last 12 months and every job still open. Margin is shown for completed jobs.",
    )
    builder.table(
        f"{entity}-months",
        f"{name}: jobs by departure month, the 12 months to {month_key(ctx.as_of)}",
        [("Month", ""), ("Jobs", "count"), ("Distance", "nm"), ("Revenue", cur), ("Margin", cur)],
        [[m.month, m.jobs, m.nautical_miles, m.revenue, m.margin] for m in delivery.monthly(detail, as_of)],
    )
    upcoming_jobs = sorted(detail.upcoming(as_of), key=lambda j: (j.start, j.job))
    builder.table(
        f"{entity}-upcoming",
        f"{name}: jobs departing after {as_of.isoformat()}",
        [
            ("Job", ""),
            ("Route", ""),
            ("Distance", "nm"),
            ("Departure", "date"),
            ("Days away", "days"),
            ("Revenue", cur),
            ("Collected", cur),
        ],
        [
            [
                j.job,
                f"{j.from_port or '?'} -> {j.to_port or '?'}",
                j.nautical_miles,
                j.start.isoformat(),
                (j.start - as_of).days,
                j.revenue,
                j.income if detail.has_ledger else None,
            ]
            for j in upcoming_jobs
        ],
        note=None if upcoming_jobs else f"No job departs after {as_of.isoformat()}.",
    )
    findings = [f for f in found.findings if f.entity == entity]
    quiet = f"no job is open more than {show(delivery.UNCOMPLETED_AFTER_DAYS, 'days')} after departure."
    quiet = ("No completed job in the last 12 months lost money and " if detail.has_ledger else "Margins are "
             "unknown without a ledger; ") + quiet  # fmt: skip
    builder.findings_section(f"{entity}-findings", f"{name}: findings", findings, note=None if findings else quiet)


def _basis(ctx: Context, builder: DocumentBuilder, found: delivery.DeliveryResults, entity: str, window: str) -> None:
    """Revenue and direct costs on the job basis (this report) against the cash basis (the CFO report)."""
    figures, cur = found.figures, ctx.currency
    pairs = [("Revenue", "revenue.ttm", "revenue.cash.ttm"), ("Direct costs", "costs.ttm", "costs.cash.ttm")]
    rows = []
    for label, job_key, cash_key in pairs:
        job, cash = figures.get(f"delivery.{entity}.{job_key}"), figures.get(f"delivery.{entity}.{cash_key}")
        if job is None or cash is None or not isinstance(job.value, Decimal) or not isinstance(cash.value, Decimal):
            continue
        builder.figure(cash)
        rows.append([label, job.value, cash.value, cash.value - job.value])
    if not rows:
        return
    differ = any(r[3] for r in rows)
    collected = figures.get(f"delivery.{entity}.collected.upcoming")
    deposits = (f" Deposits already received for jobs departing after {ctx.as_of.isoformat()}: "
                f"{show_figure(collected, cur)}." if collected is not None and collected.value else "")  # fmt: skip
    note = (
        ("The two bases differ. " if differ else "The two bases agree here. ")
        + "Job basis (this report): the price and costs of the jobs departed in the window, whenever paid. Cash "
        f"basis (the CFO report's revenue.ttm.{entity}): Income rows and Expenses:COGS rows dated in the window, "
        "so it includes deposits for jobs not yet sailed and balances of jobs that sailed earlier." + deposits
    )
    builder.table(f"{entity}-basis", f"{ctx.entities[entity].name}: job basis vs cash basis, {window}",
                  [("Figure", ""), ("Job basis", cur), ("Cash basis", cur), ("Cash - job", cur)], rows,
                  note=note)  # fmt: skip
