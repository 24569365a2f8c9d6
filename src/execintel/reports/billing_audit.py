"""The ``billing-audit`` report: invoiced vs contracted per client and month, unbilled work, overdue receivables."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from execintel.analysis import billing
from execintel.analysis.model import Figure
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import show_figure

if TYPE_CHECKING:
    from execintel.analysis.context import Context

TITLE = "Billing audit"
BILLING_DATA = "contract and invoice events (with payment and work events)"
NEEDED_FOR = "the billing audit: invoiced vs contracted, unbilled work, overdue receivables"


def build(ctx: Context) -> Document:
    """The billing audit of every entity with retainer contracts or invoices."""
    builder = DocumentBuilder(ctx, "billing-audit", TITLE)
    memo = ctx.results("billing")  # shared with any other report that reads the billing analysis
    found = memo if isinstance(memo, billing.BillingResults) else billing.study(ctx)
    for entity in found.uncovered:
        builder.missing(f"{BILLING_DATA} for {entity} (revenue_model: retainer)", NEEDED_FOR)
    if not found.entities:
        builder.missing(BILLING_DATA, NEEDED_FOR)
        builder.summary("No entity has contract or invoice events, so there is nothing to audit.")
        builder.text(
            "scope",
            "Scope",
            ["This report audits entities whose events record retainer contracts or invoices. None do here."],
        )
        return builder.build()
    for entity, detail in found.entities.items():
        _entity(ctx, builder, found, entity, detail)
    return builder.build()


def _entity(
    ctx: Context, builder: DocumentBuilder, found: billing.BillingResults, entity: str, detail: billing.EntityBilling
) -> None:
    figures = found.figures
    cur = ctx.currency
    name = ctx.entities[entity].name

    def fig(key: str) -> Figure | None:
        return figures.get(f"billing.{entity}.{key}")

    def val(key: str) -> str:
        return show_figure(fig(key), cur)

    span = f"{detail.months[0]} to {detail.months[-1]}" if detail.months else "the last 12 months"
    builder.summary(
        f"{name}: {val('contracted.ttm')} contracted from {span}, {val('invoiced.ttm')} invoiced, "
        f"{val('collected.ttm')} collected in the last 12 months."
    )
    under, unbilled = fig("under_billed.ttm"), fig("unbilled.amount")
    if (under and under.value) or (unbilled and unbilled.value):
        builder.summary(
            f"{name}: {val('under_billed.ttm')} under-billed against contracts and about {val('unbilled.amount')} "
            f"of work not invoiced ({val('unbilled.hours')})."
        )
    overdue = fig("receivables.overdue")
    count = fig("receivables.overdue.invoices")
    overdue_count = count.value if count is not None else None
    if overdue is not None and overdue.value:
        builder.summary(
            f"{name}: {val('receivables.outstanding')} receivable, of which {val('receivables.overdue')} is overdue "
            f"on {val('receivables.overdue.invoices')} {'invoice' if overdue_count == 1 else 'invoices'}."
        )
    as_of = ctx.as_of.isoformat()
    window = f"{(ctx.window_start + dt.timedelta(days=1)).isoformat()} to {as_of}"
    builder.figures_section(
        f"{entity}-billing",
        f"{name}: contracts and billing, audit months {span}",
        [fig(k) for k in ("contracted.ttm", "invoiced.ttm", "under_billed.ttm", "unbilled.hours", "unbilled.amount",
                          "effective_rate")],
        note=f"Audit months: {span} (the 12 calendar months whose first day falls in the 12 months ending at as_of).",
    )  # fmt: skip
    aging = [f"receivables.overdue.{label}" for label, *_rest in billing.AGING]
    builder.figures_section(
        f"{entity}-receivables",
        f"{name}: contracts and receivables at {as_of}",
        [fig(k) for k in ("clients.contracted", "retainer.monthly", "receivables.outstanding", "receivables.current",
                          "receivables.overdue", "receivables.overdue.invoices", *aging)],
        note=detail.reconcile_note or None,
    )  # fmt: skip
    builder.figures_section(
        f"{entity}-collected",
        f"{name}: payments received, {window}",
        [fig(k) for k in ("collected.ttm", "payments.not_in_ledger")],
    )
    builder.figures_from(found, prefix=f"billing.{entity}.client.")  # the table's figures, for explain
    clients = billing.by_client(ctx, detail)
    builder.table(
        f"{entity}-clients",
        f"{name}: by client, audit months {span}",
        [("Client", ""), ("Contracted", cur), ("Invoiced", cur), ("Under-billed", cur), ("Hours worked", "hours"),
         ("Unbilled work", cur)],
        [[r.client, r.contracted, r.invoiced, r.under_billed, r.hours, r.unbilled] for r in clients],
        note="Contracted, invoiced, hours and unbilled work over the audit months.",
    )  # fmt: skip
    builder.table(
        f"{entity}-clients-now",
        f"{name}: by client at {as_of}",
        [("Client", ""), ("Retainer now", cur), ("Included hours", "hours"), ("Outstanding", cur), ("Overdue", cur)],
        [[r.client, r.retainer, r.included_hours, r.outstanding, r.overdue] for r in clients],
        note="The contract in force in the month of as_of, and what each client owes on invoices dated up to as_of.",
    )  # fmt: skip
    builder.table(
        f"{entity}-months",
        f"{name}: by month, audit months {span}",
        [
            ("Month", ""),
            ("Contracted", cur),
            ("Invoiced", cur),
            ("Under-billed", cur),
            ("Hours worked", "hours"),
            ("Unbilled work", cur),
        ],
        [[m.month, m.contracted, m.invoiced, m.under_billed, m.hours, m.unbilled] for m in billing.by_month(detail)],
    )
    open_invoices = sorted((i for i in detail.invoices if i.outstanding > 0), key=lambda i: (i.due, i.invoice))
    # a worklist (the invoices to chase), at most 6 columns so that a 600 px mail shows it as a table
    section = builder.table(
        f"{entity}-open-invoices",
        f"{name}: open invoices at {as_of}",
        [("Invoice", ""), ("Client", ""), ("Period", ""), ("Due", "date"), ("Outstanding", cur),
         ("Days overdue", "days")],
        [[i.invoice, i.client, i.period, i.due.isoformat(), i.outstanding, i.days_overdue(ctx.as_of) or None]
         for i in open_invoices],
        note="Outstanding = the invoice's amount minus the payments applied to it."
        if open_invoices else "Every invoice is paid in full.",
    )  # fmt: skip
    section["worklist"] = True
    findings = [f for f in found.findings if f.entity == entity]
    builder.findings_section(
        f"{entity}-findings",
        f"{name}: findings at {as_of}",
        findings,
        note=None if findings else "Invoices match contracts, no work is unbilled and nothing is overdue.",
    )
