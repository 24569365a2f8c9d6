"""The CMO report: the contact list, funnels, a modelled campaign, the channel matrix, local SEO and milestones."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from execintel.analysis.attribution import NONE, EntityAttribution
from execintel.analysis.campaign import CONVERSION_RATE, RESPONSE_RATE, Campaign
from execintel.analysis.context import Context
from execintel.analysis.marketing import MILESTONE_DAYS, MarketingResults
from execintel.formatting import money, show
from execintel.reports.document import Document, DocumentBuilder

TITLE = "CMO report"
# Marketing findings produced by the CEO's rules, shown here too.
RULE_KINDS = ("no-ota-listing", "broken-funnel", "empty-pipeline")


def _opening(ctx: Context, b: DocumentBuilder, m: MarketingResults) -> None:
    """Summary first: the narrative and the headline figures with their comparisons; the email is the summary."""
    b.email_summary()
    figures = m.figures
    funnels = [figures.get(f"funnel.{entity}.bookings") for entity, *_ in m.funnels]
    b.headline([*(figures.get(f"contacts.{k}") for k in ("valid", "subscribed", "engaged_90d", "invalid",
                                                         "duplicates")),
                figures.get("channels.live"), figures.get("channels.planned"), *funnels])  # fmt: skip
    if figures.get("contacts.total") is None:
        b.narrative("No contact list is declared, so the list, the campaign model and its milestones are missing.")
    b.narrative("The email list holds {valid} valid contacts: {subscribed} subscribed, {engaged} engaged recently.",
                valid=figures.get("contacts.valid"), subscribed=figures.get("contacts.subscribed"),
                engaged=figures.get("contacts.engaged_90d"))  # fmt: skip
    invalid, duplicates = figures.get("contacts.invalid"), figures.get("contacts.duplicates")
    if (invalid is not None and invalid.value) or (duplicates is not None and duplicates.value):
        b.narrative("{invalid} invalid and {duplicates} duplicate addresses are listed to fix in the attached "
                    "worklist.", invalid=invalid, duplicates=duplicates)  # fmt: skip
    b.narrative("{live} channels are live and {planned} planned.", live=figures.get("channels.live"),
                planned=figures.get("channels.planned"))  # fmt: skip
    if m.campaigns:
        best = max(m.campaigns, key=lambda c: c.revenue[1]).entity
        b.narrative("A campaign to the {name} list is modelled at {low} to {high}.", name=ctx.entities[best].name,
                    low=figures.get(f"campaign.{best}.revenue.low"),
                    high=figures.get(f"campaign.{best}.revenue.high"))  # fmt: skip
    weakest = [f for f in (figures.get(f"funnel.{e}.conversion") for e, *_ in m.funnels) if f is not None]
    if weakest:
        worst = min(weakest, key=lambda f: f.value if isinstance(f.value, Decimal | int) else 1)
        name = ctx.entities[worst.entity].name if worst.entity in ctx.entities else str(worst.entity)
        b.narrative("The weakest funnel is {name}'s, converting {conversion} of its leads.", name=name,
                    conversion=worst)  # fmt: skip


def _contacts_to_fix(b: DocumentBuilder, m: MarketingResults) -> None:
    """The worklist of invalid and duplicate addresses, in the order of the contact files."""
    if not m.to_fix:
        return
    b.worklist("contacts-to-fix", "Contacts to fix",
               [("Entity", ""), ("Email", ""), ("Name", ""), ("Problem", ""), ("File", ""), ("Line", "number")],
               [list(row) for row in m.to_fix],
               note="Invalid addresses and duplicates (an address, case-insensitive, already in an earlier row of "
                    "any contact file, in manifest entity order).")  # fmt: skip


def build(ctx: Context) -> Document:
    """The CMO report document."""
    b = DocumentBuilder(ctx, "cmo", TITLE)

    def name(entity: str) -> str:
        return ctx.entities[entity].name if entity in ctx.entities else entity

    m = cast(MarketingResults, ctx.results("marketing"))
    figures = m.figures
    _opening(ctx, b, m)
    if figures.get("contacts.total") is None:
        b.missing("contact lists (entities[].contacts)", "the contact figures, the campaign model and list milestones")
    live = [c for c in m.channels if c["status"] == "live"]

    b.figures_section("contacts", "Contact list", [figures.get(f"contacts.{k}") for k in
                      ("total", "valid", "duplicates", "invalid", "subscribed", "engaged_90d")])  # fmt: skip
    if m.by_entity:
        for entity in m.by_entity:
            b.figures_from(m, f"contacts.{entity}.")
        stats_columns = [("Valid", "count"), ("Duplicates", "count"), ("Invalid", "count"), ("Subscribed", "count"),
                         ("Engaged 90 days", "count")]  # fmt: skip

        def rows(groups: dict[str, object]) -> list[list[object]]:
            return [[name, s.total, s.valid, s.duplicates, s.invalid, s.subscribed, s.engaged]  # type: ignore[attr-defined]
                    for name, s in groups.items()]  # fmt: skip

        b.table("contacts-by-entity", "Contacts by entity", [("Entity", ""), ("Rows", "count"), *stats_columns],
                rows(dict(m.by_entity)))  # fmt: skip
        b.table("contacts-by-source", "Contacts by source", [("Source", ""), ("Rows", "count"), *stats_columns],
                rows(dict(sorted(m.by_source.items()))))  # fmt: skip
        b.table("contacts-by-segment", "Contacts by segment", [("Segment", ""), ("Rows", "count"), *stats_columns],
                rows(dict(sorted(m.by_segment.items()))))  # fmt: skip

    for entity, *_ in m.funnels:
        b.figures_from(m, f"funnel.{entity}.")
    b.table("funnel", "Funnel, 12 months ending at as_of",
            [("Entity", ""), ("Leads", "count"), ("Signups", "count"), ("Bookings", "count"), ("Conversion", "ratio")],
            [[name(e), leads, signups, bookings, conv] for e, leads, signups, bookings, conv in m.funnels],
            note=None if m.funnels else "No lead or booking events in the last 12 months.")  # fmt: skip

    _campaigns(ctx, b, m)
    _attribution(ctx, b, m)

    b.figures_section("channels", "Channels", [figures.get("channels.live"), figures.get("channels.planned")])
    b.table("channel-matrix", "Channel matrix (ranked by direct reach: audience x direct-booking likelihood)",
            [("Entity", ""), ("Channel", ""), ("Kind", ""), ("Status", ""), ("Audience", "count"),
             ("Direct likelihood", "ratio"), ("Direct reach", "count"), ("Commission", "ratio")],
            [[name(c["entity"]), c["name"], c["kind"], c["status"], c["audience"], c["likelihood"], c["expected"],
              c["commission"]] for c in m.channels],
            note=None if m.channels else "No channels declared (entities[].channels).")  # fmt: skip
    if m.launch:
        b.bullets("launch-sequence", "Launch sequence (planned channels)", m.launch,
                  note=f"The milestones below take the first {len(MILESTONE_DAYS)} steps, one by each of days "
                  f"{', '.join(map(str, MILESTONE_DAYS))}.")  # fmt: skip
    if live and not m.launch:
        b.text("launch-sequence", "Launch sequence", ["Every declared channel is live."])
    if m.seo:
        b.table("local-seo", "Local SEO checklist", [("Entity", ""), ("Item", ""), ("Done", "")],
                [[name(e), item, "yes" if done else "no"] for e, item, done in m.seo])  # fmt: skip
    later = len(m.sequence) - len(MILESTONE_DAYS)
    note = f"Launch steps {len(MILESTONE_DAYS) + 1} to {len(m.sequence)} follow after day 90." if later > 0 else None
    b.table("milestones", "30/60/90-day milestones", [("Days", "count"), ("Due", "date"), ("Milestone", "")],
            [[days, due.isoformat(), text] for days, due, text in m.milestones],
            note=note if m.milestones else "No marketing gaps found in the data.")  # fmt: skip
    rules = [f for f in ctx.results("rules").findings if f.kind in RULE_KINDS]
    b.findings_section("gaps", "Marketing gaps", rules)
    _contacts_to_fix(b, m)
    return b.build()


def _campaigns(ctx: Context, b: DocumentBuilder, m: MarketingResults) -> None:
    """The modelled campaign: two rows per entity (low and high case), then what caps and checks it."""
    cur = ctx.currency
    rows: list[list[object]] = []
    for c in m.campaigns:
        b.figures_from(m, f"campaign.{c.entity}.")
        name = ctx.entities[c.entity].name
        for index, case in enumerate(("low", "high")):
            cost = None if c.cost is None else c.cost[index]
            roi = None if c.roi is None else c.roi[index]
            rows.append([name, case, c.bookings[index], c.revenue[index], cost, roi])
    note = "No entity has subscribed contacts and a unit price."
    if m.campaigns:
        note = (f"Bookings = subscribed valid contacts x response {show(RESPONSE_RATE[0], 'ratio')} to "
                  f"{show(RESPONSE_RATE[1], 'ratio')} x conversion {show(CONVERSION_RATE[0], 'ratio')} to "
                  f"{show(CONVERSION_RATE[1], 'ratio')}, capped at a month's spare capacity; revenue = bookings x "
                  "unit price; cost = bookings x variable cost (the cost of sending is not in the data). A model, "
                  "not a forecast.")  # fmt: skip
    b.table("campaign", "Modelled campaign to the list (one send)",
            [("Entity", ""), ("Case", ""), ("Bookings", "count"), ("Revenue", cur), ("Cost", cur),
             ("ROI (revenue - cost)", cur)], rows, note=note)  # fmt: skip
    checks = [_campaign_check(ctx, c) for c in m.campaigns]
    if checks:
        b.bullets("campaign-check", "Campaign model against capacity and history", checks)


def _campaign_check(ctx: Context, c: Campaign) -> str:
    """One line: the capacity cap, and the model against the bookings the list produced in 12 months."""
    name, unit = ctx.entities[c.entity].name, c.unit
    parts = [f"{name}: one send to {c.recipients:,} contacts is modelled at {show(c.modelled[0])} to "
             f"{show(c.modelled[1])} {unit} bookings"]  # fmt: skip
    if c.spare is not None:
        capped = "caps the model" if c.capped else "does not cap it"
        parts.append(f"spare capacity {show(c.spare)} {unit}s a month {capped}")
    else:
        parts.append("no capacity_per_month declared, so nothing caps it")
    if c.history is None:
        parts.append("no booking events, so the model cannot be checked against what the list produced")
    else:
        check = f"the list produced {c.history:,} bookings (channel email) in the last 12 months"
        if c.above_history:
            check += ": even the low case of one send is above that, so treat the model as optimistic"
        parts.append(check)
    return "; ".join(parts) + "."


def _attribution(ctx: Context, b: DocumentBuilder, m: MarketingResults) -> None:
    """One table per entity: leads, bookings, revenue, new customers, cost and CAC by channel."""
    cur = ctx.currency
    if not m.attribution:
        b.text("attribution", "Channel attribution", [],
               note="No lead, booking or signup events in the last 12 months.")  # fmt: skip
        return
    no_cost = False
    for group in m.attribution:
        b.figures_from(m, f"attribution.{group.entity}.")
        rows = [[r.channel if r.channel != NONE else "(no channel)", r.leads, r.bookings, r.revenue, r.customers,
                 r.cost, r.cac] for r in group.rows]  # fmt: skip
        b.table(f"attribution-{group.entity}", f"Channel attribution, {ctx.entities[group.entity].name} "
                "(12 months ending at as_of)", [("Channel", ""), ("Leads", "count"), ("Bookings", "count"),
                ("Revenue", cur), ("New customers", "count"), ("Cost", cur), ("CAC", cur)], rows,
                note=_attribution_note(ctx, group))  # fmt: skip
        no_cost = no_cost or any(r.cost is None for r in group.rows if r.channel != NONE)
    if no_cost:
        b.missing("marketing cost per channel (Expenses:Marketing:<channel> accounts or counterparties, or a "
                  "channel's commission)", "customer acquisition cost (CAC) per channel")  # fmt: skip


def _attribution_note(ctx: Context, group: EntityAttribution) -> str:
    note = ("Each event counts for the channel written on it; a new customer is one whose first booking or signup "
            "is in the window, counted for that event's channel. CAC = cost / new customers.")  # fmt: skip
    missing = [r.channel for r in group.rows if r.cost is None and r.channel != NONE]
    if missing:
        note += (f" No cost in the data for {', '.join(missing)}: name the channel in the marketing expense's "
                 "account (Expenses:Marketing:<channel>) or counterparty, or declare its commission.")  # fmt: skip
    if group.has_ledger and group.unassigned:
        note += f" {money(group.unassigned, ctx.currency)} of marketing spend in these 12 months names no channel."
    elif not group.has_ledger:
        note += " The entity has no ledger, so no marketing spend is known."
    return note
