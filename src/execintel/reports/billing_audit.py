"""The ``billing-audit`` report: invoiced vs contracted per client and month, unbilled work, overdue receivables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from execintel.analysis import billing
from execintel.analysis.model import Figure
from execintel.reports.document import Document, DocumentBuilder

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
        builder.narrative("No entity has contract or invoice events, so there is nothing to audit.")
        builder.text(
            "scope",
            "Scope",
            ["This report audits entities whose events record retainer contracts or invoices. None do here."],
        )
        return builder.build()
    for entity, detail in found.entities.items():
        _entity(ctx, builder, found, entity, detail)
    return builder.build()


def _opening(builder: DocumentBuilder, name: str, fig: Callable[[str], Figure | None]) -> None:
    """Summary first, for one entity: narrative sentences and headline figures with their comparisons."""
    builder.headline([fig(k) for k in ("contracted.ttm", "invoiced.ttm", "collected.ttm", "under_billed.ttm",
                                       "unbilled.amount", "receivables.overdue")])  # fmt: skip
    builder.narrative("{name}: {contracted} contracted and {invoiced} invoiced over the audit months; {collected} "
                      "collected in the last twelve months.", name=name, contracted=fig("contracted.ttm"),
                      invoiced=fig("invoiced.ttm"), collected=fig("collected.ttm"))  # fmt: skip
    under, unbilled = fig("under_billed.ttm"), fig("unbilled.amount")
    if (under is not None and under.value) or (unbilled is not None and unbilled.value):
        builder.narrative("{name}: {under} under-billed against contracts and about {unbilled} of work not invoiced "
                          "({hours}).", name=name, under=under, unbilled=unbilled,
                          hours=fig("unbilled.hours"))  # fmt: skip
    overdue = fig("receivables.overdue")
    if overdue is not None and overdue.value:
        count = fig("receivables.overdue.invoices")
        invoices = "invoice" if count is not None and count.value == 1 else "invoices"
        builder.narrative("{name}: {outstanding} receivable, of which {overdue} is overdue on {count} "
                          + invoices + ".", name=name, outstanding=fig("receivables.outstanding"), overdue=overdue,
                          count=count)  # fmt: skip


def _entity(
    ctx: Context, builder: DocumentBuilder, found: billing.BillingResults, entity: str, detail: billing.EntityBilling
) -> None:
    figures = found.figures
    cur = ctx.currency
    name = ctx.entities[entity].name

    def fig(key: str) -> Figure | None:
        return figures.get(f"billing.{entity}.{key}")

    span = f"{detail.months[0]} to {detail.months[-1]}" if detail.months else "the last 12 months"
    _opening(builder, name, fig)
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
    builder.worklist(
        f"{entity}-open-invoices",
        f"{name}: open invoices at {as_of}",
        [("Invoice", ""), ("Client", ""), ("Period", ""), ("Due", "date"), ("Outstanding", cur),
         ("Days overdue", "days")],
        [[i.invoice, i.client, i.period, i.due.isoformat(), i.outstanding, i.days_overdue(ctx.as_of) or None]
         for i in open_invoices],
        note="Outstanding = the invoice's amount minus the payments applied to it."
        if open_invoices else "Every invoice is paid in full.",
    )  # fmt: skip
    findings = [f for f in found.findings if f.entity == entity]
    builder.findings_section(
        f"{entity}-findings",
        f"{name}: findings at {as_of}",
        findings,
        note=None if findings else "Invoices match contracts, no work is unbilled and nothing is overdue.",
    )
