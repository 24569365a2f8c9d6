"""The CMO report: the contact list, funnels, a modelled campaign, the channel matrix, local SEO and milestones."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from execintel.analysis.context import Context
from execintel.analysis.marketing import CONVERSION_RATE, RESPONSE_RATE, MarketingResults
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import show

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
        best = max(m.campaigns, key=lambda c: c[5])[0]
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
            [[e, leads, signups, bookings, conv] for e, leads, signups, bookings, conv in m.funnels],
            note=None if m.funnels else "No lead or booking events in the last 12 months.")  # fmt: skip

    for entity, *_ in m.campaigns:
        b.figures_from(m, f"campaign.{entity}.")
    b.table("campaign", "Modelled campaign to the list",
            [("Entity", ""), ("Subscribed", "count"), ("Unit price", ctx.currency), ("Unit", ""),
             ("Revenue low", ctx.currency), ("Revenue high", ctx.currency)],
            [list(c) for c in m.campaigns],
            note=(f"Recipients x response {show(RESPONSE_RATE[0], 'ratio')} to {show(RESPONSE_RATE[1], 'ratio')} x "
                  f"conversion {show(CONVERSION_RATE[0], 'ratio')} to {show(CONVERSION_RATE[1], 'ratio')} x unit "
                  "price. A model, not a forecast."))  # fmt: skip

    b.figures_section("channels", "Channels", [figures.get("channels.live"), figures.get("channels.planned")])
    b.table("channel-matrix", "Channel matrix (ranked by direct reach: audience x direct-booking likelihood)",
            [("Entity", ""), ("Channel", ""), ("Kind", ""), ("Status", ""), ("Audience", "count"),
             ("Direct likelihood", "ratio"), ("Direct reach", "count"), ("Commission", "ratio")],
            [[c["entity"], c["name"], c["kind"], c["status"], c["audience"], c["likelihood"], c["expected"],
              c["commission"]] for c in m.channels],
            note=None if m.channels else "No channels declared (entities[].channels).")  # fmt: skip
    if m.launch:
        b.bullets("launch-sequence", "Launch sequence (planned channels)", m.launch)
    if live and not m.launch:
        b.text("launch-sequence", "Launch sequence", ["Every declared channel is live."])
    if m.seo:
        b.table("local-seo", "Local SEO checklist", [("Entity", ""), ("Item", ""), ("Done", "")],
                [[e, item, "yes" if done else "no"] for e, item, done in m.seo])  # fmt: skip
    b.table("milestones", "30/60/90-day milestones", [("Days", "count"), ("Due", "date"), ("Milestone", "")],
            [[days, due.isoformat(), text] for days, due, text in m.milestones],
            note=None if m.milestones else "No marketing gaps found in the data.")  # fmt: skip
    rules = [f for f in ctx.results("rules").findings if f.kind in RULE_KINDS]
    b.findings_section("gaps", "Marketing gaps", rules)
    _contacts_to_fix(b, m)
    return b.build()
