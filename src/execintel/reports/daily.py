"""The daily digest: one screen of cash position, runway, yesterday's events, alerts and recent project updates."""

from __future__ import annotations

from typing import Any

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


def entity_name(ctx: Context, entity: str | None) -> str:
    """An entity's name from the manifest (its id when the manifest does not list it; "portfolio" for none)."""
    if entity is None:
        return "portfolio"
    found = ctx.entities.get(entity)
    return found.name if found is not None else entity


def newness(ctx: Context, found: list[Finding]) -> tuple[dict[int, bool | None], str | None]:
    """Which alerts are new (by ``id(finding)``), and the date of the digest they are compared with.

    A finding's ``status`` decides when the audit store set it (CONTRACT section 8). Otherwise the previous
    recorded digest of this portfolio is the reference: an alert is new when no finding of that digest has its id
    (for a digest written before findings had ids, its kind and entity). With neither, newness is unknown (None).
    """
    run = ctx.history.previous_run("daily")
    if run is not None:  # the audit store's record of the previous digest of this portfolio
        return {id(f): f.id not in run.findings for f in found}, run.as_of.isoformat()
    previous = ctx.previous("daily")
    since = str(previous.get("as_of")) if previous else None
    if found and all(f.status is not None for f in found):
        return {id(f): f.status == "new" for f in found}, since
    if previous is None:
        return {id(f): None for f in found}, None
    ids: set[str] = set()
    pairs: set[tuple[Any, Any]] = set()
    for item in previous.get("findings") or []:
        if isinstance(item, dict):
            if item.get("id"):
                ids.add(str(item["id"]))
            pairs.add((item.get("kind"), item.get("entity")))
    if ids:
        return {id(f): f.id not in ids for f in found}, since
    return {id(f): (f.kind, f.entity) not in pairs for f in found}, since


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


def _alert_figures(ctx: Context, b: DocumentBuilder, found: list[Finding], fresh: dict[int, bool | None],
                   since: str | None) -> None:  # fmt: skip
    """``daily.alerts.total`` and ``daily.alerts.new`` (when there is a digest to compare with), and their sentence."""
    source = tuple(dict.fromkeys(f"{f.file}:{f.line}" if f.line else str(f.file) for f in found if f.file))
    source = source or (ctx.manifest_key("entities"),)
    total = Figure("daily.alerts.total", len(found), "count", "number of critical and high findings of finance, "
                   "rules and security at as_of", source, "Alerts")  # fmt: skip
    if since is None and all(v is None for v in fresh.values()):
        b.narrative("There are {total} critical and high alerts.", total=total)
        return
    new = Figure("daily.alerts.new", sum(1 for f in found if fresh.get(id(f))), "count",
                 "alerts whose finding id the previous recorded digest of this portfolio did not report", source,
                 "New alerts")  # fmt: skip
    b.narrative("There are {total} critical and high alerts, {new} of them new since the previous digest.",
                total=total, new=new)  # fmt: skip


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
    fresh, since = newness(ctx, found)
    _alert_figures(ctx, b, found, fresh, since)
    recent = recently_updated(ctx) if ctx.manifest.handoffs is not None else []

    by_entity = [finance.figures[f"cash.{e.id}"] for e in ctx.manifest.entities if f"cash.{e.id}" in finance.figures]
    for figure in by_entity:
        b.figure(figure)
    if by_entity:
        b.table("cash-by-entity", f"Cash by entity at {ctx.as_of.isoformat()}",
                [("Entity", ""), ("Cash", ctx.currency)],
                [[entity_name(ctx, f.entity or f.id.removeprefix("cash.")), f.value] for f in by_entity])  # fmt: skip
    b.figure(operations.figures.get("activity.yesterday"))
    b.table(
        "yesterday",
        f"Yesterday ({day.isoformat()})",
        [("Entity", ""), ("Event", ""), ("Count", "count")],
        [[entity_name(ctx, a.entity), a.type, a.count] for a in activity],
        note=None if activity else f"No events dated {day.isoformat()} (the portfolio's time zone).",
    )
    for finding in found:
        b.finding(finding)  # every alert is in the JSON, so the next digest knows which ones it has seen
    # new alerts first (they are what changed since yesterday), each group most severe first
    shown = sorted(found, key=lambda f: not fresh.get(id(f)))[:TOP_ALERTS]
    note = (f"{len(found)} critical and high findings in all; the {len(shown)} shown are the new ones first, then "
            "the most severe." if len(found) > len(shown) else None)  # fmt: skip
    compared = f"New: not in the digest of {since}." if since else None
    b.table(
        "alerts",
        f"Alerts at {ctx.as_of.isoformat()}",
        [("New", ""), ("Severity", ""), ("Entity", ""), ("Alert", ""), ("First seen", "date")],
        [["new" if fresh.get(id(f)) else "", f.severity, entity_name(ctx, f.entity), f.title,
          (f.first_seen or ctx.history.first_seen(f.id, ctx.as_of)).isoformat()] for f in shown],
        note=" ".join(t for t in (note, compared) if t) or (None if found else "No critical or high finding."),
    )  # fmt: skip
    if ctx.manifest.handoffs is not None:
        b.table(
            "handoffs",
            f"Projects updated in the last {RECENT_DAYS} days",
            [("Project", ""), ("Entity", ""), ("Status", ""), ("Updated", "date"), ("Next step", "")],
            [
                [p.project, entity_name(ctx, p.entity), p.status, p.updated.isoformat() if p.updated else None,
                 p.next_steps[0] if p.next_steps else ""]
                for p in recent
            ],
            note=None if recent else "No project handoff was updated.",
        )  # fmt: skip
    else:
        b.missing("handoff files (`handoffs:` in the manifest)", "recent project updates")
    b.figures_section(
        "latest-data", "Latest data", [f for fid, f in operations.figures.items() if fid.startswith("data.")]
    )
    return b.build()
