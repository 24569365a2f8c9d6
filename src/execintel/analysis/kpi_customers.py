"""KPIs of units sold and customers: utilisation, bookings, subscribers, paying clients, occupancy, CAC, LTV,
NRR, churn and NPS. Each returns its figures, or the :class:`Need` that is missing (see ``kpis.py``)."""

from __future__ import annotations

import re
from decimal import Decimal

from execintel.analysis.kpi_inputs import (
    ACQUISITION_TYPES,
    COGS,
    INCOME,
    MARKETING,
    NO_LEDGER,
    NOT_CUSTOMER_TYPES,
    ZERO,
    Inputs,
    Need,
    event_sources,
    ledger_sources,
    number_text,
    sql_list,
    window_text,
)
from execintel.analysis.model import Figure, add_months
from execintel.config.models import Entity

Computed = list[Figure] | Need  # figures (the first is the KPI's value), or the data that is missing
# An NPS from fewer responses than this is shown flagged: too few to rely on.
NPS_MIN_RESPONSES = 10
BLANK_COUNTERPARTY = "; some of those rows name no counterparty"
CHURN_EVENTS = Need("churn events", "churn events")
CUSTOMER_EVENTS = Need("customer events", "customer events (customer ids) in the last 12 months")


def slug(text: str) -> str:
    """A segment name as a figure-id part: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unspecified"


def utilisation(inputs: Inputs, entity: Entity) -> Computed:
    """Units delivered in the last complete month / capacity per month."""
    economics = entity.unit_economics
    if economics is None or not economics.capacity_per_month:
        return Need("capacity_per_month", "unit_economics.capacity_per_month in the manifest")
    counts = inputs.event_counts.get(entity.id, {})
    # Capacity is used by units delivered: completions when the entity records them, else bookings.
    kind = "completion" if counts.get("completion") else "booking"
    if not counts.get(kind):
        return Need("booking events", "completion or booking events")
    month = inputs.ctx.complete_months(1)[0]
    units = inputs.units.get((entity.id, kind, month), ZERO)
    capacity = economics.capacity_per_month
    return [
        Figure(
            f"kpi.utilisation.{entity.id}",
            units / capacity,
            "ratio",
            f"units of {kind} events in {month} ({number_text(units)}; 1 per event without units)"
            f" / unit_economics.capacity_per_month ({capacity})",
            (
                *event_sources(inputs, entity.id, f"type = '{kind}' AND strftime(ts, '%Y-%m') = '{month}'"),
                inputs.ctx.entity_key(entity.id, "unit_economics"),
            ),
            name=f"{economics.unit.capitalize()} utilisation",
            entity=entity.id,
        )
    ]


def bookings(inputs: Inputs, entity: Entity) -> Computed:
    """Units booked a month, averaged over the last 3 complete months (per-unit sales are lumpy)."""
    if not inputs.event_counts.get(entity.id, {}).get("booking"):
        return Need("booking events", "booking events")
    months = inputs.ctx.complete_months(3)
    units = [inputs.units.get((entity.id, "booking", m), ZERO) for m in months]
    return [
        Figure(
            f"kpi.bookings.{entity.id}",
            sum(units, ZERO) / 3,
            "units",
            f"units of booking events (1 per event without units) in {', '.join(months)}"
            f" ({', '.join(number_text(u) for u in units)}), / 3",
            event_sources(inputs, entity.id, f"type = 'booking' AND strftime(ts, '%Y-%m') IN ({sql_list(months)})"),
            name="Bookings a month (last 3 complete months)",
            entity=entity.id,
        )
    ]


def subscribers(inputs: Inputs, entity: Entity) -> Computed:
    """Active subscribers at ``as_of``, and at the start of the last 3 complete months for comparison."""
    counts = inputs.event_counts.get(entity.id, {})
    if not counts.get("signup") and not counts.get("churn"):
        return Need("signup events", "signup (and churn) events with customer ids")
    by_day = inputs.subscribers.get(entity.id, {})
    sources = event_sources(inputs, entity.id, f"type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)})")
    start = inputs.quarter_start
    return [
        Figure(
            f"kpi.subscribers.{entity.id}",
            by_day.get(inputs.ctx.as_of, 0),
            "count",
            f"number of {inputs.subscriber_rule(inputs.ctx.as_of)}",
            sources,
            name="Active subscribers",
            entity=entity.id,
        ),
        Figure(
            f"kpi.subscribers.{entity.id}.start",
            by_day.get(start, 0),
            "count",
            f"number of {inputs.subscriber_rule(start)} (the day before the last 3 complete months)",
            event_sources(inputs, entity.id, f"type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)}) AND CAST(ts AS DATE) <= ?",
                          extra=[start]),
            name=f"Active subscribers on {start.isoformat()}",
            entity=entity.id,
        ),
    ]  # fmt: skip


def paying_clients(inputs: Inputs, entity: Entity) -> Computed:
    """Distinct clients who paid in the last 3 complete months, and in the 3 months before them."""
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    months = list(inputs.ctx.complete_months(6))
    current, before = months[3:], months[:3]
    now = inputs.paying_clients(current).get(entity.id, (0, 0))
    if now == (0, 0):
        return Need("Income rows", f"Income rows in {current[0]} to {current[-1]}")
    if now[1]:
        return Need("Income counterparties", "a counterparty on every Income row (who paid)")
    then = inputs.paying_clients(before).get(entity.id, (0, 0))
    rule = "number of distinct counterparties of positive Income rows dated in"
    return [
        Figure(
            f"kpi.paying_clients.{entity.id}",
            now[0],
            "count",
            f"{rule} {', '.join(current)}",
            ledger_sources(inputs, entity.id, f"{INCOME} AND strftime(date, '%Y-%m') IN ({sql_list(current)})"),
            name="Paying clients (last 3 complete months)",
            entity=entity.id,
        ),
        Figure(
            f"kpi.paying_clients.{entity.id}.start",
            then[0],
            "count",
            f"{rule} {', '.join(before)} (the 3 months before){BLANK_COUNTERPARTY * bool(then[1])}",
            ledger_sources(inputs, entity.id, f"{INCOME} AND strftime(date, '%Y-%m') IN ({sql_list(before)})"),
            name=f"Paying clients ({before[0]} to {before[-1]})",
            entity=entity.id,
        ),
    ]  # fmt: skip


def occupancy(inputs: Inputs, entity: Entity) -> Computed:
    """The property analysis's occupancy on ``as_of`` (units with a lease in force / units)."""
    figure = inputs.ctx.results("property").figures.get(f"property.{entity.id}.occupancy")
    if figure is None:
        return Need("lease events", "lease events (unit, start, monthly_rent) as the property report reads them")
    return [
        Figure(
            f"kpi.occupancy.{entity.id}",
            figure.value,
            "ratio",
            f"property.{entity.id}.occupancy: {figure.formula}",
            figure.sources,
            name="Occupancy",
            entity=entity.id,
        )
    ]


def cac(inputs: Inputs, entity: Entity) -> Computed:
    """Marketing spend TTM / new customers TTM."""
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    marketing = inputs.ttm[entity.id].marketing
    if marketing <= 0:
        return Need(
            "marketing spend",
            "marketing spend (Expenses accounts named Marketing or Advertising) in the last 12 months",
        )
    new = inputs.new_customers.get(entity.id, 0)
    if new == 0:
        return Need("customer ids on bookings", "booking or signup events with customer ids in the last 12 months")
    return [
        Figure(
            f"kpi.cac.{entity.id}",
            marketing / new,
            inputs.ctx.currency,
            f"marketing expenses TTM ({number_text(marketing)}) / new customers TTM ({new}); marketing = -Expenses"
            " amounts on accounts named Marketing or Advertising; a new customer's first booking or signup event is"
            f" in the window; {window_text(inputs)}",
            (
                *ledger_sources(inputs, entity.id, MARKETING, inputs.ctx.window_start),
                *event_sources(inputs, entity.id, f"type IN ({sql_list(ACQUISITION_TYPES)})"),
            ),
            name="Customer acquisition cost",
            entity=entity.id,
        )
    ]


def gross_margin_value(revenue: Decimal, cogs: Decimal) -> Decimal:
    """(revenue - COGS) / revenue."""
    return (revenue - cogs) / revenue


def ltv(inputs: Inputs, entity: Entity) -> Computed:
    """(Revenue per customer TTM) x gross margin TTM / churn rate TTM."""
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    ttm = inputs.ttm[entity.id]
    if ttm.revenue <= 0:
        return Need("Income rows", "Income rows in the last 12 months")
    customers, churned = inputs.customers.get(entity.id, (0, 0))
    if customers == 0:
        return CUSTOMER_EVENTS
    if churned == 0:
        return Need("churn events", "churn events in the last 12 months")
    churn = Decimal(churned) / customers
    return [
        Figure(
            f"kpi.ltv.{entity.id}",
            ttm.revenue / customers * gross_margin_value(ttm.revenue, ttm.cogs) / churn,
            inputs.ctx.currency,
            f"(revenue TTM {number_text(ttm.revenue)} / customers {customers}) x gross margin TTM"
            f" ((revenue - COGS {number_text(ttm.cogs)}) / revenue) / churn rate TTM ({churned} / {customers});"
            f" {window_text(inputs)}",
            (
                *ledger_sources(inputs, entity.id, f"({INCOME}) OR ({COGS})", inputs.ctx.window_start),
                *event_sources(inputs, entity.id, f"type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)})",
                               inputs.ctx.window_start),
            ),
            name="Lifetime value",
            entity=entity.id,
        )
    ]  # fmt: skip


def nrr(inputs: Inputs, entity: Entity) -> Computed:
    """TTM revenue of the prior 12 months' paying customers / their revenue in those prior 12 months."""
    if not inputs.has_ledger(entity.id):
        return NO_LEDGER
    if entity.id not in inputs.retention:
        return Need(
            "Income counterparties that are customer ids",
            "Income rows whose counterparty is a customer id of the events, in the 12 months before the last 12",
        )
    prior, current, size = inputs.retention[entity.id]
    prior_start = add_months(inputs.ctx.as_of, -24)
    return [
        Figure(
            f"kpi.nrr.{entity.id}",
            current / prior,
            "ratio",
            f"revenue TTM ({number_text(current)}) / revenue in the prior 12 months ({number_text(prior)}) of the"
            f" {size} customers who paid in the prior 12 months ({prior_start.isoformat()} < date <= "
            f"{inputs.ctx.window_start.isoformat()}); customers = Income counterparties that are event customer ids",
            ledger_sources(inputs, entity.id, INCOME, prior_start),
            name="Net revenue retention",
            entity=entity.id,
        )
    ]


def churn(inputs: Inputs, entity: Entity) -> Computed:
    """Customers with a churn event TTM / customers TTM: a 12-month rate."""
    if not inputs.event_counts.get(entity.id, {}).get("churn"):
        return CHURN_EVENTS
    customers, churned = inputs.customers.get(entity.id, (0, 0))
    if customers == 0:
        return CUSTOMER_EVENTS
    return [
        Figure(
            f"kpi.churn.{entity.id}",
            Decimal(churned) / customers,
            "ratio",
            f"over 12 months: customers with a churn event TTM ({churned}) / customers with any event other than a"
            f" lead TTM ({customers}); {window_text(inputs)}",
            event_sources(inputs, entity.id, f"type NOT IN ({sql_list(NOT_CUSTOMER_TYPES)})", inputs.ctx.window_start),
            name="Churn, last 12 months",
            entity=entity.id,
        )
    ]


def _nps_value(n: int, promoters: int, detractors: int) -> Decimal:
    return Decimal(promoters - detractors) * 100 / n


def _sample(n: int) -> str:
    return f"; {n} responses, fewer than {NPS_MIN_RESPONSES}: too few to rely on" if n < NPS_MIN_RESPONSES else ""


def nps(inputs: Inputs, entity: Entity) -> Computed:
    """NPS of the TTM window, overall and per segment, each with its number of responses."""
    segments = inputs.nps.get(entity.id)
    if not segments:
        return Need("nps events", "nps events (score 0-10) in the last 12 months")
    rule = "% promoters (9-10) - % detractors (0-6) of nps events"
    window = window_text(inputs)
    totals = [sum(s[i] for s in segments.values()) for i in range(3)]
    parts: list[tuple[str, str, int, int, int, str, tuple[str, ...]]] = [
        ("", "all segments", totals[0], totals[1], totals[2], "type = 'nps'", ())
    ]
    for segment, (count, pro, det) in sorted(segments.items()):
        condition = "type = 'nps' AND coalesce(nullif(segment, ''), 'unspecified') = ?"
        parts.append((f".{slug(segment)}", f"segment {segment}", count, pro, det, condition, (segment,)))
    figures: list[Figure] = []
    for suffix, label, n, pro, det, condition, extra in parts:
        sources = event_sources(inputs, entity.id, condition, inputs.ctx.window_start, extra)
        segment_name = f" ({label.removeprefix('segment ')})" if suffix else ""
        figures.append(Figure(
            f"kpi.nps.{entity.id}{suffix}", _nps_value(n, pro, det), "points",
            f"{rule}, {label}: ({pro} - {det}) / {n} x 100; {window}{_sample(n)}", sources,
            name=f"NPS{segment_name}", entity=entity.id,
        ))  # fmt: skip
        figures.append(Figure(
            f"kpi.nps_responses.{entity.id}{suffix}", n, "count",
            f"number of nps events with a score 0-10, {label}; {window}", sources,
            name=f"NPS responses{segment_name}", entity=entity.id,
        ))  # fmt: skip
    return figures
