"""Channel attribution (CMO): leads, bookings, revenue, new customers, cost and CAC per channel, from events.

Each event is attributed to the channel written on it (``channel``, case-insensitive, trimmed; none is
"unattributed"), over the 12 months ending at ``as_of``. A new customer is one whose first ``booking`` or
``signup`` event ever (up to ``as_of``) falls in the window; it is attributed to that first event's channel (the
same definition as ``kpi.cac``). A channel's cost is what the data says it costs: the commission of the manifest's
channel it matches (``commission`` x its booking revenue) plus the marketing expenses in the ledger named after it
(account's last segment or counterparty). CAC = cost / new customers, only where a cost exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Results
from execintel.analysis.recurring import grouped_sources
from execintel.config.models import Channel, Entity

ZERO = Decimal(0)
NONE = "unattributed"  # the channel of events that name none
ACQUISITION = ("booking", "signup")  # as kpi.cac: a customer is acquired by their first booking or signup
# Marketing expenses, as kpi.cac reads them: Expenses accounts whose name holds one of these words.
MARKETING_WORDS = ("marketing", "advertising")


def slug(text: str) -> str:
    """A figure-id-safe name: ``Email list`` -> ``email-list``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class ChannelRow:
    """One entity's events and costs on one channel, in the 12 months ending at ``as_of``."""

    entity: str
    channel: str  # as the events write it, lower-cased; NONE when they name none
    leads: int = 0
    bookings: int = 0
    revenue: Decimal = ZERO
    customers: int = 0
    declared: Channel | None = None
    commission: Decimal | None = None  # declared commission x revenue
    spend: Decimal | None = None  # ledger marketing expenses named after the channel

    @property
    def cost(self) -> Decimal | None:
        """Commission plus named spend; None when the data holds neither."""
        if self.commission is None and self.spend is None:
            return None
        return (self.commission or ZERO) + (self.spend or ZERO)

    @property
    def cac(self) -> Decimal | None:
        """Cost / new customers (None without a cost or a new customer)."""
        cost = self.cost
        return None if cost is None or not self.customers else cost / self.customers


@dataclass
class EntityAttribution:
    """The channel rows of one entity and its marketing spend that names no channel."""

    entity: str
    rows: list[ChannelRow]
    unassigned: Decimal  # marketing expenses in the window not named after any channel
    has_ledger: bool


def _declared(entity: Entity, channel: str) -> Channel | None:
    """The manifest channel an event channel names: by name, else by kind when one channel has that kind."""
    key = slug(channel)
    named = [c for c in entity.channels if slug(c.name) == key]
    if named:
        return named[0]
    kinds = [c for c in entity.channels if c.kind == key]
    return kinds[0] if len(kinds) == 1 else None


def _events(ctx: Context) -> dict[tuple[str, str], ChannelRow]:
    channel = f"coalesce(nullif(lower(trim(channel)), ''), '{NONE}')"
    rows: dict[tuple[str, str], ChannelRow] = {}
    for entity, name, leads, bookings, revenue in ctx.query(
        f"SELECT entity, {channel}, count(*) FILTER (type = 'lead'), count(*) FILTER (type = 'booking'), "
        "coalesce(sum(amount) FILTER (type = 'booking'), 0) FROM ev "
        "WHERE type IN ('lead', 'booking') AND CAST(ts AS DATE) > ? GROUP BY ALL ORDER BY 1, 2",
        [ctx.window_start],
    ):
        rows[(entity, name)] = ChannelRow(entity, name, int(leads), int(bookings), Decimal(revenue))
    firsts = ctx.query(
        f"SELECT entity, first_channel, count(*) FROM (SELECT entity, customer, min(ts) AS first, "
        f"arg_min({channel}, {{'t': ts, 'c': {channel}}}) AS first_channel FROM ev WHERE customer IS NOT NULL "
        f"AND type IN ('booking', 'signup') GROUP BY ALL) WHERE CAST(first AS DATE) > ? GROUP BY ALL ORDER BY 1, 2",
        [ctx.window_start],
    )
    for entity, name, count in firsts:
        rows.setdefault((entity, name), ChannelRow(entity, name)).customers = int(count)
    return rows


_MARKETING = (
    "split_part(account, ':', 1) = 'Expenses' AND ("
    + " OR ".join(f"lower(account) LIKE '%{w}%'" for w in MARKETING_WORDS)
    + ") AND date > ?"
)
# The channel of an event as the figures select it: '' for none (NULL or blank), else '=' and its lower-cased,
# trimmed name (the prefix keeps a channel literally named like the marker apart from "no channel").
_CHANNEL_KEY = "CASE WHEN channel IS NULL OR trim(channel) = '' THEN '' ELSE '=' || lower(trim(channel)) END"


def _marketing_spend(ctx: Context) -> dict[str, list[tuple[str, str, Decimal]]]:
    """(account's last segment, counterparty, -amount) of each marketing expense row in the window, by entity, in
    one pass (a query per entity scanned the ledger once per entity). Which channel a row's spend goes to does not
    depend on the rows' order: each goes to the first channel row that names it, and the sums are exact."""
    spend: dict[str, list[tuple[str, str, Decimal]]] = {}
    for entity, account, counterparty, amount in ctx.query(
        f"SELECT entity, account, counterparty, amount FROM tx WHERE {_MARKETING}", [ctx.window_start]
    ):
        spend.setdefault(entity, []).append((account.rsplit(":", 1)[-1], counterparty or "", -Decimal(amount)))
    return spend


def attribute(ctx: Context) -> list[EntityAttribution]:
    """Every active entity with channel events in the window, its channel rows (by bookings, then leads)."""
    rows = _events(ctx)
    with_ledger = {e for (e,) in ctx.query("SELECT DISTINCT entity FROM tx")}
    spend_by_entity = _marketing_spend(ctx)
    out: list[EntityAttribution] = []
    for entity in ctx.active_entities:
        mine = [r for (e, _), r in rows.items() if e == entity.id]
        if not any(r.leads or r.bookings or r.customers for r in mine):
            continue
        spend = spend_by_entity.get(entity.id, [])
        used = [False] * len(spend)
        for row in mine:
            row.declared = None if row.channel == NONE else _declared(entity, row.channel)
            if row.declared is not None and row.declared.commission is not None:
                row.commission = Decimal(row.declared.commission) * row.revenue
            if row.channel == NONE:
                continue
            names = {slug(row.channel), *((slug(row.declared.name),) if row.declared else ())}
            for index, (account, counterparty, amount) in enumerate(spend):
                if not used[index] and (slug(account) in names or slug(counterparty) in names):
                    used[index] = True
                    row.spend = (row.spend or ZERO) + amount
        unassigned = sum((amount for (_, _, amount), u in zip(spend, used, strict=True) if not u), ZERO)
        mine.sort(key=lambda r: (r.channel == NONE, -r.bookings, -r.leads, r.channel))
        out.append(EntityAttribution(entity.id, mine, unassigned, entity.id in with_ledger))
    return out


def add_figures(ctx: Context, found: list[EntityAttribution], out: Results) -> None:
    """``attribution.<e>.<channel>.leads|bookings|revenue|customers|cost|cac`` and the unassigned spend."""
    if not found:
        return
    window = "in the 12 months ending at as_of"
    # Provenance of every (entity, channel) and of every entity's marketing spend, each in one pass over the
    # facts: a query per channel of each entity cost entities x channels scans.
    by_channel = grouped_sources(ctx, f"SELECT entity || '|' || {_CHANNEL_KEY} AS k, source_file AS f, "
                                 "source_line AS l FROM ev WHERE CAST(ts AS DATE) > ?", [ctx.window_start])  # fmt: skip
    spend_rows = grouped_sources(ctx, f"SELECT entity AS k, source_file AS f, source_line AS l FROM tx WHERE "
                                 f"{_MARKETING}", [ctx.window_start])  # fmt: skip
    for group in found:
        e = group.entity
        label = ctx.entities[e].name
        for row in group.rows:
            key = f"attribution.{e}.{slug(row.channel) or NONE}"
            sources = by_channel.get(f"{e}|" if row.channel == NONE else f"{e}|={row.channel}", ())
            on = f"with channel {row.channel}" if row.channel != NONE else "with no channel"
            name = f"{row.channel}, {label}"
            values: list[tuple[str, Decimal | int, str, str, str, tuple[str, ...]]] = [
                ("leads", row.leads, "count", f"lead events {on} {window}", "Leads", sources),
                ("bookings", row.bookings, "count", f"booking events {on} {window}", "Bookings", sources),
                ("revenue", row.revenue, ctx.currency, f"sum of the amounts of booking events {on} {window}",
                 "Booking revenue", sources),
                ("customers", row.customers, "count", f"customers whose first booking or signup event (up to as_of) "
                 f"is {on} and {window}", "New customers", sources),
            ]  # fmt: skip
            cost = row.cost
            if cost is not None:
                parts, cited = [], list(sources)
                if row.commission is not None and row.declared is not None:
                    parts.append(f"commission {row.declared.commission} of {row.declared.name} x booking revenue")
                    cited.append(ctx.entity_key(e, "channels"))
                if row.spend is not None:
                    parts.append("marketing expenses whose account's last segment or counterparty names the channel")
                    cited += spend_rows.get(e, ())
                values.append(("cost", cost, ctx.currency, " + ".join(parts) + f", {window}", "Channel cost",
                               tuple(cited)))  # fmt: skip
                if row.cac is not None:
                    values.append(("cac", row.cac, ctx.currency, f"{key}.cost / {key}.customers",
                                   "Customer acquisition cost", tuple(cited)))  # fmt: skip
            for metric, value, unit, formula, title, cites in values:
                out.add(Figure(f"{key}.{metric}", value, unit, formula, cites, f"{title}, {name}", e))
        if group.has_ledger:
            words = " or ".join(MARKETING_WORDS)
            out.add(Figure(f"attribution.{e}.spend.unassigned", group.unassigned, ctx.currency,
                           f"-sum of Expenses amounts on accounts containing {words} {window} whose account's last "
                           "segment and counterparty name no channel of the entity's events",
                           spend_rows.get(e, ()),
                           f"Marketing spend not assigned to a channel, {label}", e))  # fmt: skip
