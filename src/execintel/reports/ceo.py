"""The CEO report: asset inventory, KPIs (and the ones the data cannot give), shortfalls and risks, what changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.kpis import KPIS
from execintel.analysis.model import SEVERITY_ORDER, Figure, Finding
from execintel.analysis.operations import projects
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import show, show_figure
from execintel.reports.summary import above, trend

TITLE = "CEO report"
# Security findings severe enough for the CEO's list of shortfalls and risks.
SECURITY_SEVERITIES = ("critical", "high")
HEADLINE = ("cash.portfolio", "burn.monthly.portfolio", "runway.days.portfolio")
ASSETS = ("assets.entities", "assets.domains", "assets.projects")


def _key(finding: Finding | dict[str, Any]) -> tuple[str, str, str]:
    """What identifies a finding across reports: kind, entity and title."""
    if isinstance(finding, Finding):
        return finding.kind, finding.entity or "", finding.title
    return str(finding.get("kind", "")), str(finding.get("entity") or ""), str(finding.get("title", ""))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _same(old: Any, new: Any) -> bool:
    a, b = _number(old), _number(new)
    if a is not None and b is not None and not isinstance(old, str) and not isinstance(new, str):
        return a == b
    return bool(old == new)


def _shown(value: Any, unit: str, currency: str) -> str:
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, str) and _number(value) is not None and unit not in ("date", "text", ""):
        return show(_number(value), unit, currency)
    return show(value, unit, currency)


def changes(previous: dict[str, Any], figures: dict[str, Figure], findings: Sequence[Finding],
            currency: str) -> list[str]:  # fmt: skip
    """What changed since ``previous`` (a report JSON): figure values, new figures, new and resolved findings."""
    items: list[str] = []
    before: dict[str, Any] = previous.get("figures", {}) or {}
    for fid, figure in figures.items():
        if fid not in before:
            continue
        old = before[fid].get("value") if isinstance(before[fid], dict) else None
        if not _same(old, figure.value):
            label = figure.name or fid
            if figure.entity:
                label += f" ({figure.entity})"
            old_text = _shown(old, figure.unit, currency)
            items.append(f"{label}: {old_text} -> {_shown(figure.value, figure.unit, currency)}")
    added = [figures[f].name or f for f in figures if f not in before]
    if added:
        items.append(f"New figures: {', '.join(added)}")
    gone = [str(before[f].get("name") or f) if isinstance(before[f], dict) else f for f in before if f not in figures]
    if gone:
        items.append(f"No longer reported: {', '.join(gone)}")
    old_findings = {_key(f): f for f in previous.get("findings", []) or [] if isinstance(f, dict)}
    new_keys = {_key(f) for f in findings}
    for finding in sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind)):
        if _key(finding) not in old_findings:
            who = f" [{finding.entity}]" if finding.entity else ""
            items.append(f"New: [{finding.severity.upper()}] {finding.title}{who}")
    for key, old_finding in old_findings.items():
        if key not in new_keys:
            who = f" [{key[1]}]" if key[1] else ""
            items.append(f"Resolved: [{str(old_finding.get('severity', '')).upper()}] {key[2]}{who}")
    return items


def _kpi_cell(figure: Figure, currency: str) -> str:
    if figure.value is None and figure.id.startswith("kpi.time_to_profitability."):
        return "not reached at the current revenue trend"
    return show_figure(figure, currency)


def _kpi_rows(ctx: Context, figures: dict[str, Figure], missing: list[dict[str, str]]) -> list[list[Any]]:
    needs = {(m["id"], m["entity"]): m["needs"] for m in missing}
    rows: list[list[Any]] = []
    for kpi in KPIS:
        for entity in [*ctx.active_entities, None]:
            eid = entity.id if entity else "portfolio"
            figure = figures.get(kpi.figure_id(eid))
            if figure is not None:
                rows.append([kpi.name, eid, _kpi_cell(figure, ctx.currency)])
                extra = sorted(f for f in figures if f.startswith(f"{kpi.figure_id(eid)}."))
                rows += [[figures[f].name or f, eid, _kpi_cell(figures[f], ctx.currency)] for f in extra]
            elif (kpi.id, eid) in needs:
                rows.append([kpi.name, eid, f"missing: needs {needs[(kpi.id, eid)]}"])
    return rows


def _severity_counts(findings: Iterable[Finding]) -> str:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: SEVERITY_ORDER.get(s, 9)))


def _opening(ctx: Context, b: DocumentBuilder, figures: dict[str, Figure], previous: dict[str, Any] | None) -> None:
    """Summary first: the narrative and the headline figures with their comparisons; the email is the summary."""
    b.email_summary()
    finance = ctx.results("finance").figures
    month = ctx.complete_months(1)[0]
    cash, burn, runway = (figures.get(i) for i in HEADLINE)
    revenue, net = finance.get("revenue.ttm.portfolio"), finance.get(f"pnl.portfolio.{month}.net")
    b.headline([cash, runway, burn, revenue, net, *(figures.get(i) for i in ASSETS)])
    before = b.compared("cash.portfolio", "previous")
    if cash is None:
        b.narrative("No ledger data: cash, burn and runway cannot be computed.")
    else:
        b.narrative("Cash on hand is {cash}, " + trend(cash, before) + " {before} a month before.", cash=cash,
                    before=before) or b.narrative("Cash on hand is {cash}.", cash=cash)  # fmt: skip
    policy = b.compared("runway.days.portfolio", "target")
    if runway is not None:
        b.narrative("At a burn of {burn} a month that is {runway} of runway, " + above(runway, policy)
                    + " the policy minimum of {policy}.", burn=burn, runway=runway, policy=policy) or b.narrative(
            "At a burn of {burn} a month that is {runway} of runway.", burn=burn, runway=runway)  # fmt: skip
    elif burn is not None:
        b.narrative("The portfolio did not burn cash over the last three complete months: runway is not limited.")
    year = b.compared("revenue.ttm.portfolio", "year_ago")
    b.narrative("Revenue over the last twelve months is {revenue}, " + trend(revenue, year) + " {year} a year "
                "before.", revenue=revenue, year=year) or b.narrative(
        "Revenue over the last twelve months is {revenue}.", revenue=revenue)  # fmt: skip
    b.narrative("Net income last month was {net}.", net=net)
    if previous:
        b.narrative("What changed since the previous recorded report is listed under What changed.")
    else:
        b.narrative("This is the first recorded run of this portfolio: there is no earlier report to compare with.")
    b.narrative("The portfolio runs {entities} active entities on {domains} domains.",
                entities=figures.get("assets.entities"), domains=figures.get("assets.domains"))  # fmt: skip


def build(ctx: Context) -> Document:
    """The CEO report document."""
    b = DocumentBuilder(ctx, "ceo", TITLE)
    rules, kpis, finance = ctx.results("rules"), ctx.results("kpis"), ctx.results("finance")
    security = ctx.results("security")
    figures: dict[str, Figure] = {}
    for results, ids in ((finance, HEADLINE), (rules, ASSETS)):
        figures.update({i: results.figures[i] for i in ids if i in results.figures})
    figures.update(kpis.figures)
    shortfalls = [
        *rules.findings,
        *finance.findings,
        *(f for f in security.findings if f.severity in SECURITY_SEVERITIES),
    ]
    missing: list[dict[str, str]] = list(kpis.figures["kpis.missing"].value)  # type: ignore[arg-type]
    previous = ctx.previous("ceo")

    findings = sorted(shortfalls, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind))
    change_items = changes(previous, figures, findings, ctx.currency) if previous else []
    _opening(ctx, b, figures, previous)
    cash = figures.get("cash.portfolio")
    if cash is None:
        b.missing("a ledger (entity ledgers or a portfolio-wide ledger)", "cash, burn and runway")
    if previous:  # none on a first recorded run: there is nothing to say what changed against
        b.bullets("changes", f"What changed since {previous.get('as_of', 'the last report')}",
                  change_items or ["Nothing: every figure and finding is as it was."])  # fmt: skip

    inactive = [e for e in ctx.manifest.entities if e.status != "active"]
    b.table(
        "inventory",
        "Asset inventory",
        [("Entity", ""), ("Name", ""), ("Kind", ""), ("Status", ""), ("Domains", ""), ("Revenue model", "")],
        [
            [e.id, e.name, e.kind, e.status, ", ".join(e.domains), e.revenue_model or "not given"]
            for e in ctx.active_entities
        ],
        note=(f"Not active: {', '.join(f'{e.id} ({e.status})' for e in inactive)}." if inactive else None),
    )
    if ctx.manifest.handoffs is not None:
        b.table(
            "projects",
            "Supporting projects",
            [("Project", ""), ("Entity", ""), ("Status", ""), ("Updated", "date"), ("Blockers", "count"),
             ("Next step", "")],
            [
                [p.project, p.entity or "portfolio", p.status, p.updated.isoformat() if p.updated else None,
                 len(p.blockers), p.next_steps[0] if p.next_steps else ""]
                for p in projects(ctx)
            ],
        )  # fmt: skip
    else:
        b.missing("handoff files (`handoffs:` in the manifest)", "the supporting projects inventory")

    for figure in figures.values():
        b.figure(figure)
    b.table("kpis", "KPIs", [("KPI", ""), ("Entity", ""), ("Value", "")], _kpi_rows(ctx, figures, missing))
    names = {k.id: k.name for k in KPIS}
    gaps: dict[tuple[str, str], list[str]] = {}
    for m in missing:
        gaps.setdefault((m["id"], m["needs"]), []).append(m["entity"])
    b.table(
        "kpis-missing",
        "Missing KPIs",
        [("KPI", ""), ("Entities", ""), ("Data needed", "")],
        [[names[kpi], ", ".join(who), need] for (kpi, need), who in gaps.items()],
        note=None if missing else "Every KPI is computed for every active entity.",
    )
    by_need: dict[str, list[str]] = {}
    for (kpi, need), who in gaps.items():
        by_need.setdefault(need, []).append(f"{names[kpi]} ({', '.join(who)})")
    for need, uses in by_need.items():
        b.missing(need, "; ".join(uses))

    b.findings_section("shortfalls", "Shortfalls and risks", findings,
                       note="Rules, finance findings, and critical and high security findings.")  # fmt: skip
    return b.build()
