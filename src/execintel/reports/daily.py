"""The daily digest: one screen of cash position, runway, yesterday's events, alerts and recent project updates."""

from __future__ import annotations

from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Figure, Finding
from execintel.analysis.operations import RECENT_DAYS, recently_updated, yesterday, yesterday_date
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.summary import above, trend

TITLE = "Daily digest"
ALERT_SEVERITIES = ("critical", "high")
TOP_ALERTS = 5
# The analyses whose critical and high findings are the day's alerts.
ALERT_SOURCES = ("finance", "rules", "security")


def alerts(ctx: Context) -> list[Finding]:
    """Critical and high findings of finance, rules and security, most severe first."""
    found = [f for name in ALERT_SOURCES for f in ctx.results(name).findings if f.severity in ALERT_SEVERITIES]
    return sorted(found, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind))


def _opening(ctx: Context, b: DocumentBuilder, events: Figure | None) -> None:
    """Summary first: the narrative and the headline figures, compared with the day before and a year before."""
    finance = ctx.results("finance").figures
    cash, runway, burn = (finance.get(f"{k}.portfolio") for k in ("cash", "runway.days", "burn.monthly"))
    b.headline([cash, runway, burn], period="day")
    if cash is None:
        b.narrative("No ledger data: the cash position and runway cannot be computed.")
    else:
        before = b.compared("cash.portfolio", "previous")
        b.narrative("Cash on hand is {cash}, " + trend(cash, before) + " {before} the day before.", cash=cash,
                    before=before) or b.narrative("Cash on hand is {cash}.", cash=cash)  # fmt: skip
    policy = b.compared("runway.days.portfolio", "target")
    if runway is not None:
        b.narrative("Runway is {runway}, " + above(runway, policy) + " the policy minimum of {policy}.",
                    runway=runway, policy=policy) or b.narrative("Runway is {runway}.", runway=runway)  # fmt: skip
    elif burn is not None:
        b.narrative("No cash was burned in the last three complete months, so runway is not limited.")
    b.narrative("Yesterday brought {events} events.", events=events)


def build(ctx: Context) -> Document:
    """The daily digest document."""
    b = DocumentBuilder(ctx, "daily", TITLE)
    finance = ctx.results("finance")
    operations = ctx.results("operations")
    cash = finance.figures.get("cash.portfolio")
    _opening(ctx, b, operations.figures.get("activity.yesterday"))
    if cash is None:
        b.missing("a ledger (entity ledgers or a portfolio-wide ledger)", "the cash position and runway")
    day = yesterday_date(ctx)
    activity = yesterday(ctx)
    found = alerts(ctx)
    recent = recently_updated(ctx) if ctx.manifest.handoffs is not None else []

    by_entity = [finance.figures[f"cash.{e.id}"] for e in ctx.manifest.entities if f"cash.{e.id}" in finance.figures]
    for figure in by_entity:
        b.figure(figure)
    if by_entity:
        b.table("cash-by-entity", "Cash by entity", [("Entity", ""), ("Cash", ctx.currency)],
                [[f.entity or f.id.removeprefix("cash."), f.value] for f in by_entity])  # fmt: skip
    b.figure(operations.figures.get("activity.yesterday"))
    b.table(
        "yesterday",
        f"Yesterday ({day.isoformat()})",
        [("Entity", ""), ("Event", ""), ("Count", "count")],
        [[a.entity, a.type, a.count] for a in activity],
        note=None if activity else f"No events dated {day.isoformat()} (UTC).",
    )
    shown = found[:TOP_ALERTS]
    note = (
        f"{len(found)} critical and high findings in all; the {len(shown)} most severe are shown."
        if len(found) > len(shown)
        else None
    )
    b.findings_section("alerts", "Alerts", shown, note=note)
    if ctx.manifest.handoffs is not None:
        b.table(
            "handoffs",
            f"Projects updated in the last {RECENT_DAYS} days",
            [("Project", ""), ("Entity", ""), ("Status", ""), ("Updated", "date"), ("Next step", "")],
            [
                [p.project, p.entity or "portfolio", p.status, p.updated.isoformat() if p.updated else None,
                 p.next_steps[0] if p.next_steps else ""]
                for p in recent
            ],
            note=None if recent else "No project handoff was updated.",
        )  # fmt: skip
    else:
        b.missing("handoff files (`handoffs:` in the manifest)", "recent project updates")
    b.figures_section(
        "freshness", "Latest data", [f for fid, f in operations.figures.items() if fid.startswith("data.")]
    )
    return b.build()
