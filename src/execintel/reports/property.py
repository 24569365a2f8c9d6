"""The property report: rent roll, occupancy, vacancy, rent collected, expenses and net operating income."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from execintel.analysis import property as rentals
from execintel.analysis.context import Context
from execintel.analysis.model import Figure
from execintel.analysis.property import DSCR_MINIMUM, EXPIRY_DAYS, PropertyResults
from execintel.reports.document import Document, DocumentBuilder

TITLE = "Property report"
LEASE_DATA = ("`lease` events (attributes unit, tenant, monthly_rent, start, end) and `move_out` events "
              "(unit, tenant)")  # fmt: skip
LEASE_NEEDS = "the rent roll, occupancy, vacancy loss and lease findings"
LEDGER_NEEDS = "rent collected, expenses by account and net operating income"


def build(ctx: Context) -> Document:
    """The property report of every rental entity."""
    b = DocumentBuilder(ctx, "property", TITLE)
    memo = ctx.results("property")  # shared with any other report that reads the property analysis
    found = memo if isinstance(memo, PropertyResults) else rentals.analyze(ctx)
    if not found.covered:
        b.missing(f"an entity with `revenue_model: rental` or with {LEASE_DATA}, and its ledger",
                  f"the property report: {LEASE_NEEDS}, {LEDGER_NEEDS}")  # fmt: skip
        b.narrative("No rental entity: no entity has `revenue_model: rental` or lease events.")
        b.text("scope", "Scope", ["This report covers rental properties: entities with `revenue_model: rental` or "
                                  "with lease events. None are in this portfolio."])  # fmt: skip
        return b.build()
    for entity in found.covered:
        _entity(ctx, b, found, entity)
    return b.build()


def _opening(b: DocumentBuilder, name: str, fig: Callable[[str], Figure | None]) -> None:
    """Summary first, for one rental entity: narrative sentences and headline figures with their comparisons."""
    b.headline([fig(k) for k in ("occupancy", "rent_roll.monthly", "noi.ttm", "cash_flow.after_debt.ttm",
                                 "vacancy_loss.ttm")])  # fmt: skip
    b.narrative("{name}: {occupied} of {units} units let ({occupancy}), {ttm} occupancy over the last twelve months, "
                "rent roll {roll} a month.", name=name, occupied=fig("units.occupied"), units=fig("units"),
                occupancy=fig("occupancy"), ttm=fig("occupancy.ttm"), roll=fig("rent_roll.monthly"))  # fmt: skip
    b.narrative("{name}: net operating income of {noi} over the last twelve months on {collected} collected.",
                name=name, noi=fig("noi.ttm"), collected=fig("rent.collected.ttm"))  # fmt: skip
    vacancy = fig("vacancy.days.ttm")
    if vacancy is not None and vacancy.value:
        b.narrative("{name}: vacant units over the last twelve months ({days}, counted unit by unit) cost about "
                    "{loss} in rent.",
                    name=name, days=vacancy, loss=fig("vacancy_loss.ttm"))  # fmt: skip
    if fig("units") is None and fig("noi.ttm") is None:
        b.narrative("{name} has no lease events and no ledger rows.", name=name)


def _entity(ctx: Context, b: DocumentBuilder, found: PropertyResults, e: str) -> None:
    cur = ctx.currency
    name = ctx.entities[e].name
    as_of = ctx.as_of.isoformat()

    def fig(key: str) -> Figure | None:
        return found.figures.get(f"property.{e}.{key}")

    rental = found.rentals.get(e)
    has_units = fig("units") is not None
    if not has_units:
        b.missing(f"{LEASE_DATA} for {name} ({e})", LEASE_NEEDS)
    if not found.has_ledger[e]:
        b.missing(f"ledger of {name} ({e})", LEDGER_NEEDS)

    _opening(b, name, fig)

    note = "; ".join(rental.problems) if rental is not None and rental.problems else None
    window = f"{(ctx.window_start + dt.timedelta(days=1)).isoformat()} to {as_of}"
    if has_units:
        b.figures_section(f"{e}-occupancy", f"{name}: occupancy and rent roll at {as_of}",
                          [fig(k) for k in ("units", "units.occupied", "occupancy", "rent_roll.monthly",
                                            "leases.expiring")], note=note)  # fmt: skip
        b.figures_section(f"{e}-vacancy", f"{name}: occupancy and vacancy, {window}",
                          [fig(k) for k in ("occupancy.ttm", "vacancy.days.ttm", "vacancy_loss.ttm")])  # fmt: skip
        b.table(f"{e}-rent-roll", f"{name}: rent roll at {as_of}",
                [("Unit", ""), ("Status", ""), ("Tenant", ""), ("Monthly rent", cur), ("Lease start", "date"),
                 ("Lease end", "date"), ("Days to end", "days"), ("Next lease starts", "date")],
                [[r.unit, r.status, r.tenant, r.rent, r.start.isoformat() if r.start else None,
                  r.end.isoformat() if r.end else None, r.days_to_end,
                  r.next_start.isoformat() if r.next_start else None] for r in found.rent_roll.get(e, [])])  # fmt: skip
    else:
        b.text(
            f"{e}-occupancy",
            f"{name}: occupancy and rent roll",
            [f"No lease events, so the rent roll and occupancy are unknown. They need {LEASE_DATA}."],
            note=note,
        )
    if found.has_ledger[e]:
        b.figures_section(f"{e}-noi", f"{name}: income, net operating income and cash flow, {window}",
                          [fig(k) for k in ("rent.collected.ttm", "expenses.ttm", "opex.ttm", "noi.ttm",
                                            "debt_service.ttm", "dscr.ttm", "capex.ttm", "cash_flow.after_debt.ttm")],
                          note="Cash flow after debt service = net operating income - debt service (principal and "
                               "interest) - capital repairs. The debt service coverage ratio (DSCR) is net operating "
                               f"income / debt service; lenders usually ask for at least {DSCR_MINIMUM}.")  # fmt: skip
        b.table(f"{e}-expenses", f"{name}: expenses by account, {window}",
                [("Account", ""), ("Rows", "count"), ("Amount", cur), ("In NOI", "")],
                [[account, rows, amount, "yes" if role == "operating" else f"no ({role})"]
                 for account, rows, amount, role in found.expenses.get(e, [])],
                note="Debt service (interest), non-cash charges and capital items are left out of net operating "
                     "income; mortgage principal is a Liabilities row, not an expense.")  # fmt: skip
    else:
        b.text(
            f"{e}-noi",
            f"{name}: income and net operating income",
            [f"No ledger rows, so {LEDGER_NEEDS} cannot be computed."],
        )
    b.findings_section(f"{e}-findings", f"{name}: leases, vacancies and debt service coverage at {as_of}",
                       [f for f in found.findings if f.entity == e],
                       note=(f"Leases ending within {EXPIRY_DAYS} days with no renewal signed, and units with no "
                             f"lease in force on {as_of}.") if has_units else None)  # fmt: skip
