"""The CMO report: the contact list, funnels, a modelled campaign, the channel matrix, local SEO and milestones."""

from __future__ import annotations

from typing import cast

from execintel.analysis.context import Context
from execintel.analysis.marketing import CONVERSION_RATE, RESPONSE_RATE, MarketingResults
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import money, show, show_figure

TITLE = "CMO report"
# Marketing findings produced by the CEO's rules, shown here too.
RULE_KINDS = ("no-ota-listing", "broken-funnel", "empty-pipeline")


def build(ctx: Context) -> Document:
    """The CMO report document."""
    b = DocumentBuilder(ctx, "cmo", TITLE)
    m = cast(MarketingResults, ctx.results("marketing"))
    figures = m.figures
    total = figures.get("contacts.total")
    if total is not None:
        b.summary(
            f"{show_figure(total)} contacts in the email database: {show_figure(figures['contacts.valid'])} valid, "
            f"{show_figure(figures['contacts.duplicates'])} duplicates, {show_figure(figures['contacts.invalid'])} "
            f"invalid addresses; {show_figure(figures['contacts.subscribed'])} subscribed and "
            f"{show_figure(figures['contacts.engaged_90d'])} engaged in the last 90 days."
        )
    else:
        b.missing("contact lists (entities[].contacts)", "the contact figures, the campaign model and list milestones")
    live = [c for c in m.channels if c["status"] == "live"]
    ota = [c for c in m.channels if c["kind"] == "ota"]
    if ota and not any(c["status"] == "live" for c in ota):
        b.summary(f"No OTA listing is live ({len(ota)} planned); the launch sequence below orders them.")
    for entity, leads, _signups, bookings, conversion in m.funnels:
        if conversion is not None and leads >= 50 and conversion < 0.02:
            b.summary(f"{ctx.entities[entity].name}: {leads:,} leads but {bookings:,} bookings in 12 months "
                      f"({show(conversion, 'ratio')} conversion).")  # fmt: skip

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
    if m.campaigns:
        best = max(m.campaigns, key=lambda c: c[5])
        b.summary(f"A campaign to {best[1]:,} subscribed {ctx.entities[best[0]].name} contacts is modelled at "
                  f"{money(best[4], ctx.currency)} to {money(best[5], ctx.currency)}.")  # fmt: skip
    return b.build()
