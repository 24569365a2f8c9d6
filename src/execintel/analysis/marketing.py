"""Marketing (CMO): the contact list, funnels, a modelled campaign, channel attribution, the channel matrix and
launch sequence, local SEO and the 30/60/90-day milestones.

Contact figures follow CONTRACT.md sections 4 and 7: every contact file is read
together, in the manifest's entity order and then line order; a row whose
address (case-insensitive) appeared in an earlier row is a duplicate; a contact
is valid when its address is syntactically valid and it is not a duplicate.
``contacts.subscribed`` counts valid contacts with ``subscribed`` true.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execintel.analysis import campaign
from execintel.analysis.attribution import EntityAttribution, add_figures, attribute
from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Results, compress_lines
from execintel.analysis.recurring import grouped_sources
from execintel.config.models import Entity
from execintel.formatting import money, show

ENGAGED_DAYS = 90
MILESTONE_DAYS = (30, 60, 90)  # the first launch steps are due at these days, one each
LOCAL_KIND_WORDS = ("local", "service", "removal", "charter", "repair", "cleaning", "rental")
LOW_CONVERSION = Decimal("0.02")


@dataclass
class ContactStats:
    """Counts over contact rows (valid = syntactically valid and not a duplicate)."""

    total: int = 0
    valid: int = 0
    duplicates: int = 0
    invalid: int = 0
    subscribed: int = 0
    engaged: int = 0


@dataclass
class MarketingResults(Results):
    """Figures and findings plus the tables the CMO report lays out."""

    by_entity: dict[str, ContactStats] = field(default_factory=dict)
    by_source: dict[str, ContactStats] = field(default_factory=dict)
    by_segment: dict[str, ContactStats] = field(default_factory=dict)
    funnels: list[tuple[str, int, int, int, Decimal | None]] = field(default_factory=list)
    campaigns: list[campaign.Campaign] = field(default_factory=list)
    attribution: list[EntityAttribution] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    sequence: list[dict[str, Any]] = field(default_factory=list)  # planned channels in launch order
    launch: list[str] = field(default_factory=list)  # the sequence as text, one line a step
    seo: list[tuple[str, str, bool]] = field(default_factory=list)
    milestones: list[tuple[int, dt.date, str]] = field(default_factory=list)
    # Contacts to fix (the CMO report's worklist): (entity, email, name, problem, source file, line)
    to_fix: list[tuple[str, str | None, str | None, str, str | None, int | None]] = field(default_factory=list)


def _count(stats: ContactStats, valid: bool, duplicate: bool, subscribed: bool, engaged: bool) -> None:
    stats.total += 1
    if duplicate:
        stats.duplicates += 1
    elif not valid:
        stats.invalid += 1
    else:
        stats.valid += 1
        stats.subscribed += subscribed
        stats.engaged += engaged


def _contacts(ctx: Context, out: MarketingResults) -> ContactStats:
    order = {e: i for i, e in enumerate(ctx.entities)}
    rows = ctx.query(
        "SELECT entity, email_key, email_valid, subscribed, last_engaged, source, segment, source_file, source_line, "
        "email, name FROM contacts"
    )
    rows.sort(key=lambda r: (order.get(r[0], len(order)), r[7] or "", r[8] or 0))
    since = ctx.as_of - dt.timedelta(days=ENGAGED_DAYS)
    seen: dict[str, tuple[str | None, int | None]] = {}
    portfolio = ContactStats()
    for entity, key, valid, subscribed, engaged_on, source, segment, file, line, email, name in rows:
        duplicate = key in seen
        if duplicate:
            first_file, first_line = seen[key]
            out.to_fix.append((entity, email, name, f"duplicate of {first_file}:{first_line}", file, line))
        else:
            seen[key] = (file, line)
            if not valid:
                out.to_fix.append((entity, email, name, "invalid address", file, line))
        engaged = engaged_on is not None and since < engaged_on <= ctx.as_of
        flags = (bool(valid), duplicate, bool(subscribed), engaged)
        _count(portfolio, *flags)
        _count(out.by_entity.setdefault(entity, ContactStats()), *flags)
        _count(out.by_source.setdefault(source or "(none)", ContactStats()), *flags)
        _count(out.by_segment.setdefault(segment or "(none)", ContactStats()), *flags)
    if not rows:
        return portfolio
    sources = compress_lines((r[7], r[8]) for r in rows)
    order_note = "all contact files together, in manifest entity order then line order"
    definitions = {
        "total": ("Contacts", "number of contact rows", portfolio.total),
        "valid": ("Valid contacts", "rows with a syntactically valid address that is not a (case-insensitive) "
                  "duplicate of an earlier row", portfolio.valid),
        "duplicates": ("Duplicate contacts", "rows whose address (case-insensitive) appeared in an earlier row",
                       portfolio.duplicates),
        "subscribed": ("Subscribed contacts", "valid contacts with subscribed = true", portfolio.subscribed),
        "invalid": ("Invalid addresses", "rows with a syntactically invalid address (not duplicates)",
                    portfolio.invalid),
        "engaged_90d": ("Engaged in the last 90 days", f"valid contacts with as_of - {ENGAGED_DAYS} days < "
                        "last_engaged <= as_of", portfolio.engaged),
    }  # fmt: skip
    for key, (name, formula, value) in definitions.items():
        out.add(Figure(f"contacts.{key}", value, "count", f"{formula}; {order_note}", sources, name))
    for entity, stats in out.by_entity.items():
        entity_sources = compress_lines((r[7], r[8]) for r in rows if r[0] == entity)
        label = ctx.entities[entity].name if entity in ctx.entities else entity
        for key, value in (("total", stats.total), ("valid", stats.valid), ("duplicates", stats.duplicates),
                           ("subscribed", stats.subscribed), ("engaged_90d", stats.engaged)):  # fmt: skip
            formula = definitions[key][1] + " (duplicates judged against every earlier row of the portfolio)"
            out.add(Figure(f"contacts.{entity}.{key}", value, "count", formula, entity_sources,
                           f"{definitions[key][0]}, {label}", entity))  # fmt: skip
    return portfolio


def _funnels(ctx: Context, out: MarketingResults) -> None:
    rows = ctx.query(
        "SELECT entity, count(*) FILTER (type = 'lead'), count(*) FILTER (type = 'signup'), "
        "count(*) FILTER (type = 'booking') FROM ev WHERE CAST(ts AS DATE) > ? GROUP BY entity",
        [ctx.window_start],
    )
    counts = {r[0]: r[1:] for r in rows}
    for entity in ctx.active_entities:
        if entity.id not in counts:
            continue
        leads, signups, bookings = counts[entity.id]
        if not leads and not bookings:
            continue
        sources = _events_by_entity(ctx, "type IN ('lead', 'booking') AND CAST(ts AS DATE) > ?", ctx.window_start).get(
            entity.id, ()
        )
        window = "in the 12 months ending at as_of"
        out.add(Figure(f"funnel.{entity.id}.leads", leads, "count", f"lead events {window}", sources,
                       f"Leads, {entity.name}", entity.id))  # fmt: skip
        out.add(Figure(f"funnel.{entity.id}.bookings", bookings, "count", f"booking events {window}", sources,
                       f"Bookings, {entity.name}", entity.id))  # fmt: skip
        conversion = Decimal(bookings) / Decimal(leads) if leads else None
        if conversion is not None:
            out.add(Figure(f"funnel.{entity.id}.conversion", conversion, "ratio", f"bookings / leads {window}",
                           sources, f"Lead-to-booking conversion, {entity.name}", entity.id))  # fmt: skip
        out.funnels.append((entity.id, leads, signups, bookings, conversion))


def _events_by_entity(ctx: Context, where: str, *params: Any) -> dict[str, tuple[str, ...]]:
    """Provenance of the events matching ``where``, by entity: one pass for every entity, once per context.

    A query per entity paid a query's cost (and, on tables of under a row group, a scan of every row) per entity.
    """
    return ctx.memo(f"marketing.events.{where}.{params}", lambda: grouped_sources(
        ctx, f"SELECT entity AS k, source_file AS f, source_line AS l FROM ev WHERE {where}", list(params)
    ))  # fmt: skip


def _campaigns(ctx: Context, out: MarketingResults) -> None:
    for entity in ctx.active_entities:
        stats = out.by_entity.get(entity.id)
        if stats is None or stats.subscribed == 0:
            continue
        sources = out.figures[f"contacts.{entity.id}.subscribed"].sources
        modelled = campaign.model(ctx, entity, stats.subscribed, sources, out)
        if modelled is not None:
            out.campaigns.append(modelled)


def _channels(ctx: Context, out: MarketingResults) -> None:
    for entity in ctx.manifest.entities:
        for index, channel in enumerate(entity.channels):
            expected = None
            if channel.audience is not None and channel.direct_booking_likelihood is not None:
                expected = Decimal(channel.audience) * Decimal(channel.direct_booking_likelihood)
            out.channels.append({
                "entity": entity.id, "name": channel.name, "kind": channel.kind, "status": channel.status,
                "audience": channel.audience, "likelihood": channel.direct_booking_likelihood,
                "commission": channel.commission, "expected": expected,
                "source": ctx.entity_key(entity.id, f"channels[{index}]"),
            })  # fmt: skip
    out.channels.sort(key=lambda c: (c["expected"] is None, -(c["expected"] or 0), -(c["audience"] or 0)))
    # Launch order: the likeliest to bring direct bookings first, then the widest reach. A channel with status
    # none is not pursued: it is in the matrix, not in the sequence.
    planned = sorted(
        (c for c in out.channels if c["status"] == "planned"),
        key=lambda c: (-(c["likelihood"] or 0), -(c["audience"] or 0)),
    )
    out.sequence = planned
    if out.channels:
        out.add(Figure("channels.live", sum(c["status"] == "live" for c in out.channels), "count",
                       "declared channels with status live", (ctx.manifest_file,), "Live channels"))  # fmt: skip
        out.add(Figure("channels.planned", len(planned), "count", "declared channels with status planned",
                       (ctx.manifest_file,), "Planned channels"))  # fmt: skip
    if not planned:
        return
    largest = max(planned, key=lambda c: c["audience"] or 0)
    likeliest = planned[0]
    for step, item in enumerate(planned, start=1):
        reasons = []
        if item is likeliest and item["likelihood"] is not None:
            reasons.append(f"the highest direct-booking likelihood ({show(item['likelihood'], 'ratio')})")
        if item["expected"] is not None:
            reasons.append(f"direct reach {item['expected']:,.0f} a month "
                           f"(audience {item['audience']:,} x likelihood {item['likelihood']})")  # fmt: skip
        if item is largest and item["audience"]:
            reasons.append("the largest audience of the planned channels")
        if item["commission"] is not None:
            reasons.append(f"commission {Decimal(item['commission']) * 100:.0f}%")
        out.launch.append(f"{step}. {item['name']} ({ctx.entities[item['entity']].name}, {item['kind']}): "
                          + ("; ".join(reasons) or "no audience or likelihood declared"))  # fmt: skip


def _is_local(entity: Entity) -> bool:
    if not entity.domains or entity.status != "active":
        return False
    kind = entity.kind.lower()
    return any(word in kind for word in LOCAL_KIND_WORDS) or any(c.kind == "seo" for c in entity.channels)


def _local_seo(ctx: Context, out: MarketingResults) -> None:
    reviews = {r[0]: r[1] for r in ctx.query(
        "SELECT entity, count(*) FROM ev WHERE type = 'nps' AND CAST(ts AS DATE) > ? GROUP BY entity",
        [ctx.window_start])}  # fmt: skip
    seo_bookings = {r[0]: r[1] for r in ctx.query(
        "SELECT entity, count(*) FROM ev WHERE type = 'booking' AND lower(channel) = 'seo' AND CAST(ts AS DATE) > ? "
        "GROUP BY entity", [ctx.window_start])}  # fmt: skip
    for entity in ctx.manifest.entities:
        if not _is_local(entity):
            continue
        seo = [c for c in entity.channels if c.kind == "seo"]
        checks = [
            (f"Domain declared ({', '.join(entity.domains)})", True),
            ("An SEO channel is live", any(c.status == "live" for c in seo)),
            ("Google Business Profile listed as a channel",
             any("google business" in c.name.lower() for c in entity.channels)),
            ("Reviews or NPS collected in the last 12 months", reviews.get(entity.id, 0) > 0),
            ("Bookings attributed to search (channel seo) in the last 12 months", seo_bookings.get(entity.id, 0) > 0),
        ]  # fmt: skip
        out.seo.extend((entity.id, item, done) for item, done in checks)


def _milestones(ctx: Context, out: MarketingResults, portfolio: ContactStats) -> None:
    due = {days: ctx.as_of + dt.timedelta(days=days) for days in (30, 60, 90)}
    items: list[tuple[int, str]] = []
    if portfolio.invalid or portfolio.duplicates:
        items.append((30, f"Clean the contact list: remove {portfolio.invalid:,} invalid and "
                          f"{portfolio.duplicates:,} duplicate addresses"))  # fmt: skip
    for entity, leads, _signups, bookings, conversion in out.funnels:
        if conversion is not None and leads >= 50 and conversion < LOW_CONVERSION:
            items.append((30, f"Fix the {ctx.entities[entity].name} funnel: {leads:,} leads became {bookings:,} "
                              "bookings in 12 months; follow up every lead within a day"))  # fmt: skip
    # The launch sequence's first steps, in its order: step 1 by day 30, step 2 by day 60, step 3 by day 90.
    steps = len(out.sequence)
    for step, (days, channel) in enumerate(zip(MILESTONE_DAYS, out.sequence, strict=False), start=1):
        name = ctx.entities[channel["entity"]].name
        what = (f"List {name} on {channel['name']}" if channel["kind"] == "ota"
                else f"Launch {channel['name']} ({channel['kind']}) for {name}")  # fmt: skip
        items.append((days, f"{what} (launch step {step} of {steps})"))
    for c in out.campaigns:
        roi = (
            ""
            if c.roi is None
            else f", revenue minus cost {money(c.roi[0], ctx.currency)} to " + money(c.roi[1], ctx.currency)
        )
        items.append((60, f"Send one campaign to {c.recipients:,} subscribed {ctx.entities[c.entity].name} contacts "
                          f"(modelled {money(c.revenue[0], ctx.currency)} to {money(c.revenue[1], ctx.currency)}"
                          f"{roi})"))  # fmt: skip
    if portfolio.valid and portfolio.engaged * 2 < portfolio.valid:
        items.append((60, f"Re-engage the list: {portfolio.engaged:,} of {portfolio.valid:,} valid contacts "
                          f"engaged in the last {ENGAGED_DAYS} days"))  # fmt: skip
    for entity in dict.fromkeys(e for e, _item, done in out.seo if not done):
        missing = sum(1 for e, _item, done in out.seo if e == entity and not done)
        items.append((90, f"Close {missing} local-SEO gap(s) for {ctx.entities[entity].name}"))
    out.milestones = [(days, due[days], text) for days, text in sorted(items, key=lambda i: i[0])]


def analyze(ctx: Context) -> MarketingResults:
    """Contacts, funnels, campaign model, channel attribution, channel matrix and launch sequence, local SEO
    checklist and 30/60/90-day milestones."""
    out = MarketingResults()
    if ctx.lean:  # an earlier date's context: comparisons read only the funnels (see Context.lean)
        _funnels(ctx, out)
        return out
    portfolio = _contacts(ctx, out)
    _funnels(ctx, out)
    _campaigns(ctx, out)
    out.attribution = attribute(ctx)
    add_figures(ctx, out.attribution, out)
    _channels(ctx, out)
    _local_seo(ctx, out)
    _milestones(ctx, out, portfolio)
    return out
