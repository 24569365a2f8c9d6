"""The modelled campaign to an entity's email list (CMO): bookings capped at spare capacity, checked against the
bookings the list produced, and its ROI as revenue minus cost.

One send to the subscribed valid contacts is modelled as recipients x response rate x conversion rate bookings
(a low and a high case). The entity cannot sell more than it can deliver: with ``capacity_per_month`` declared,
the bookings are capped at the spare capacity of one month (capacity minus the units booked per month on average
over the last 3 complete months). Revenue is bookings x unit price, cost is bookings x ``variable_cost``, and the
ROI is revenue minus cost, in currency. The model is set beside what the list has done: the booking events with
channel ``email`` (or the name of one of the entity's email channels) in the 12 months ending at ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Results
from execintel.analysis.recurring import grouped_sources
from execintel.config.models import Entity

ZERO = Decimal(0)
# Share of recipients who respond, and of responders who book: (low, high).
RESPONSE_RATE = (Decimal("0.02"), Decimal("0.05"))
CONVERSION_RATE = (Decimal("0.10"), Decimal("0.25"))


@dataclass(frozen=True)
class Campaign:
    """One entity's modelled campaign: the inputs, both cases, and the list's history."""

    entity: str
    recipients: int
    price: Decimal
    unit: str
    modelled: tuple[Decimal, Decimal]  # bookings before the capacity cap (low, high)
    spare: Decimal | None  # spare units a month (None: no capacity declared)
    bookings: tuple[Decimal, Decimal]  # after the cap
    revenue: tuple[Decimal, Decimal]
    cost: tuple[Decimal, Decimal] | None  # None: no variable cost known (price from bookings, no unit_economics)
    history: int | None  # email bookings in the 12 months ending at as_of; None: no booking event in those 12 months

    @property
    def roi(self) -> tuple[Decimal, Decimal] | None:
        """Revenue minus cost, low and high (None without a cost)."""
        if self.cost is None:
            return None
        return self.revenue[0] - self.cost[0], self.revenue[1] - self.cost[1]

    @property
    def capped(self) -> bool:
        """True when spare capacity cut the high case."""
        return self.spare is not None and self.modelled[1] > self.spare

    @property
    def above_history(self) -> bool:
        """True when even the low case of one send beats what the list produced in a whole year."""
        return self.history is not None and self.bookings[0] > self.history


def campaign_range(
    recipients: int,
    price: Decimal,
    response: tuple[Decimal, Decimal] = RESPONSE_RATE,
    conversion: tuple[Decimal, Decimal] = CONVERSION_RATE,
) -> tuple[Decimal, Decimal]:
    """Modelled campaign revenue before any cap: recipients x response rate x conversion rate x unit price."""
    low = recipients * response[0] * conversion[0] * price
    high = recipients * response[1] * conversion[1] * price
    return low, high


def _unit_price(ctx: Context, entity: Entity) -> tuple[Decimal, str] | None:
    if entity.unit_economics is not None and entity.unit_economics.price > 0:
        return Decimal(entity.unit_economics.price), ctx.entity_key(entity.id, "unit_economics.price")
    [(average,)] = ctx.query(
        "SELECT avg(amount) FROM ev WHERE entity = ? AND type = 'booking' AND amount > 0 AND CAST(ts AS DATE) > ?",
        [entity.id, ctx.window_start],
    )
    if average is None:
        return None
    return Decimal(average), "average booking amount in the 12 months ending at as_of"


def _spare(ctx: Context, entity: Entity) -> tuple[Decimal, Decimal] | None:
    """(spare units a month, units booked a month on average over the last 3 complete months), or None."""
    if entity.unit_economics is None or entity.unit_economics.capacity_per_month is None:
        return None
    months = list(ctx.complete_months(3))
    # Every entity's units in one pass (memoised): a query per entity read every booking each time. An entity with
    # no booking in those months gets the sum of no rows, as the facts type it (a decimal zero with its scale).
    by_entity, none = ctx.memo(f"campaign.units.{months}", lambda: (dict(ctx.query(
        "SELECT entity, coalesce(sum(coalesce(units, 1)), 0) FROM ev WHERE type = 'booking' "
        "AND strftime(ts, '%Y-%m') IN (?, ?, ?) GROUP BY entity", months,
    )), ctx.query("SELECT coalesce(sum(coalesce(units, 1)), 0) FROM ev WHERE false")[0][0]))  # fmt: skip
    booked = Decimal(by_entity.get(entity.id, none)) / 3
    return max(ZERO, Decimal(entity.unit_economics.capacity_per_month) - booked), booked


def _history(ctx: Context, entity: Entity) -> int | None:
    """Booking events from the email list in the 12 months ending at as_of (None: no booking events at all)."""
    names = {"email", *(c.name.lower() for c in entity.channels if c.kind == "email")}
    # Bookings by entity and lower-cased channel, for every entity in one pass (memoised).
    counts: dict[str, list[tuple[str | None, int]]] = ctx.memo("campaign.bookings_by_channel", lambda: _by_channel(ctx))
    found = counts.get(entity.id, [])
    return sum(n for channel, n in found if channel in names) if found else None


def _by_channel(ctx: Context) -> dict[str, list[tuple[str | None, int]]]:
    out: dict[str, list[tuple[str | None, int]]] = {}
    for entity, channel, count in ctx.query(
        "SELECT entity, lower(channel), count(*) FROM ev WHERE type = 'booking' AND CAST(ts AS DATE) > ? GROUP BY ALL",
        [ctx.window_start],
    ):
        out.setdefault(entity, []).append((channel, int(count)))
    return out


def model(
    ctx: Context, entity: Entity, subscribed: int, contact_sources: tuple[str, ...], out: Results
) -> Campaign | None:
    """The campaign of one entity with its figures added to ``out``; None when it cannot be priced."""
    priced = _unit_price(ctx, entity)
    if priced is None or subscribed == 0:
        return None
    price, price_source = priced
    rates = (RESPONSE_RATE[0] * CONVERSION_RATE[0], RESPONSE_RATE[1] * CONVERSION_RATE[1])
    modelled = (subscribed * rates[0], subscribed * rates[1])
    spare = _spare(ctx, entity)
    cap = None if spare is None else spare[0]
    bookings = modelled if cap is None else (min(modelled[0], cap), min(modelled[1], cap))
    revenue = (bookings[0] * price, bookings[1] * price)
    economics = entity.unit_economics
    cost = None if economics is None else (bookings[0] * economics.variable_cost, bookings[1] * economics.variable_cost)
    campaign = Campaign(entity.id, subscribed, price, economics.unit if economics else "booking", modelled, cap,
                        bookings, revenue, cost, _history(ctx, entity))  # fmt: skip
    _figures(ctx, entity, campaign, out, price_source=price_source, spare=spare, contact_sources=contact_sources)
    return campaign


def _bookings(ctx: Context, after: object = None) -> dict[str, tuple[str, ...]]:
    """Provenance of the booking events (dated after ``after`` when given) by entity: one pass, once per context."""
    where = "type = 'booking'" + ("" if after is None else " AND CAST(ts AS DATE) > ?")
    return ctx.memo(f"campaign.bookings.{after}", lambda: grouped_sources(
        ctx, f"SELECT entity AS k, source_file AS f, source_line AS l FROM ev WHERE {where}",
        [] if after is None else [after],
    ))  # fmt: skip


def _figures(ctx: Context, entity: Entity, c: Campaign, out: Results, *, price_source: str,
             spare: tuple[Decimal, Decimal] | None, contact_sources: tuple[str, ...]) -> None:  # fmt: skip
    e, name = entity.id, entity.name
    cur = ctx.currency
    units_key = ctx.entity_key(e, "unit_economics")
    model_formula = (
        f"subscribed valid contacts ({c.recipients}) x response rate ({RESPONSE_RATE[0]} low, {RESPONSE_RATE[1]} "
        f"high) x conversion rate ({CONVERSION_RATE[0]} low, {CONVERSION_RATE[1]} high)"
    )
    if spare is not None:
        capacity = entity.unit_economics.capacity_per_month if entity.unit_economics else None
        out.add(Figure(f"campaign.{e}.capacity", spare[0], "count",
                       f"max(0, unit_economics.capacity_per_month ({capacity}) - units of booking events a month on "
                       f"average over {', '.join(ctx.complete_months(3))} ({spare[1]}; 1 per event without units))",
                       (units_key, *_bookings(ctx).get(e, ())),
                       f"Spare capacity a month, {name}", e))  # fmt: skip
        model_formula = f"min({model_formula}, campaign.{e}.capacity)"
    bookings_sources = (*contact_sources, *((units_key,) if spare is not None else ()))
    for index, bound in enumerate(("low", "high")):
        out.add(Figure(f"campaign.{e}.bookings.{bound}", c.bookings[index], "count", model_formula,
                       bookings_sources, f"Campaign bookings ({bound}), {name}", e))  # fmt: skip
        out.add(Figure(f"campaign.{e}.revenue.{bound}", c.revenue[index], cur,
                       f"campaign.{e}.bookings.{bound} x unit price ({c.price}: {price_source})",
                       (*bookings_sources, price_source), f"Campaign revenue ({bound}), {name}", e))  # fmt: skip
        if c.cost is not None and c.roi is not None:
            variable = entity.unit_economics.variable_cost if entity.unit_economics else ZERO
            out.add(Figure(f"campaign.{e}.cost.{bound}", c.cost[index], cur,
                           f"campaign.{e}.bookings.{bound} x unit_economics.variable_cost ({variable}); the cost of "
                           "sending is not in the data", (*bookings_sources, units_key),
                           f"Campaign cost ({bound}), {name}", e))  # fmt: skip
            out.add(Figure(f"campaign.{e}.roi.{bound}", c.roi[index], cur,
                           f"campaign.{e}.revenue.{bound} - campaign.{e}.cost.{bound}: the campaign's return in "
                           "currency (revenue minus cost)", (*bookings_sources, price_source, units_key),
                           f"Campaign ROI, revenue minus cost ({bound}), {name}", e))  # fmt: skip
    if c.history is not None:
        channels = ", ".join(["email", *(ch.name for ch in entity.channels if ch.kind == "email")])
        out.add(Figure(f"campaign.{e}.history.bookings", c.history, "count",
                       f"booking events with channel {channels} (case-insensitive) in the 12 months ending at as_of",
                       _bookings(ctx, ctx.window_start).get(e, ()),
                       f"Bookings from the email list, last 12 months, {name}", e))  # fmt: skip
