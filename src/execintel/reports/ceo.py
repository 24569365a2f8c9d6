"""The CEO report: asset inventory, KPIs (and the ones the data cannot give), shortfalls and risks, what changed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.kpis import KPIS
from execintel.analysis.lifecycle import PastRun
from execintel.analysis.model import SEVERITY_ORDER, Figure, Finding
from execintel.analysis.operations import projects
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import show, show_figure

TITLE = "CEO report"
# Security findings severe enough for the CEO's list of shortfalls and risks.
SECURITY_SEVERITIES = ("critical", "high")
TOP_ACTIONS = 7  # the CEO report's actions: the portfolio's first 7 across all areas (CONTRACT section 8)
HEADLINE = ("cash.portfolio", "burn.monthly.portfolio", "runway.days.portfolio")
ASSETS = ("assets.entities", "assets.domains", "assets.projects")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _shown(value: Any, unit: str, currency: str) -> str:
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, str) and _number(value) is not None and unit not in ("date", "text", ""):
        return show(_number(value), unit, currency)
    return show(value, unit, currency)


def _same(old: Any, new: Any) -> bool:
    """Whether a recorded figure value (exact decimals as text) and a current one are the same."""
    a, b = _number(old), _number(new)
    if a is not None and b is not None:
        return a == b
    return json.dumps(old, default=str, sort_keys=True) == json.dumps(new, default=str, sort_keys=True)


def _label(severity: str, title: str, entity: str | None) -> str:
    return f"[{severity.upper()}] {title}" + (f" [{entity}]" if entity else "")


def changes(previous: PastRun, before: Mapping[str, Any], doc: Document, still_found: set[str]) -> list[str]:
    """What changed since the previous recorded run of the portfolio (CONTRACT section 8), as lines.

    Findings first: **New** (status new), **Worsened** (reported by that run, in any report, and now more severe or
    with a larger amount), **Resolved** (in that run's CEO report and found nowhere now: ``still_found`` holds the id
    of every finding the portfolio has now, in any area). Resolved findings are listed here, never in ``findings``.
    Then each headline figure whose value changed (``before`` is the figures snapshot that run recorded).
    """
    currency = doc.currency
    items: list[str] = []
    ordered = sorted(doc.findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind, f.id))
    items += [f"New: {_label(f.severity, f.title, f.entity)}" for f in ordered if f.status == "new"]
    for finding in ordered:
        was = previous.findings.get(finding.id)
        if was is None:
            continue
        if SEVERITY_ORDER.get(finding.severity, 9) < SEVERITY_ORDER.get(was.severity, 9):
            items.append(f"Worsened: {_label(finding.severity, finding.title, finding.entity)} (was {was.severity})")
        elif finding.amount is not None and was.amount is not None and finding.amount > was.amount:
            old, new = show(was.amount, currency, currency), show(finding.amount, currency, currency)
            items.append(f"Worsened: {_label(finding.severity, finding.title, finding.entity)} ({old} -> {new})")
    resolved = [f for fid, f in previous.reports.get("ceo", {}).items() if fid not in still_found]
    for old_finding in sorted(resolved, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.id)):
        title = old_finding.title or f"a {old_finding.kind} finding"
        items.append(f"Resolved: {_label(old_finding.severity, title, old_finding.entity)}")
    for fid in (*HEADLINE, *ASSETS):
        figure = doc.figures.get(fid)
        if figure is None or fid not in before or _same(before[fid], figure.value):
            continue
        old_text, new_text = _shown(before[fid], figure.unit, currency), _shown(figure.value, figure.unit, currency)
        if old_text != new_text:  # a change too small to show is not news
            items.append(f"{figure.name or fid}: {old_text} -> {new_text}")
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
    # CONTRACT section 8: the CEO's actions are the portfolio's first 7; the report shows their findings
    shortfalls = b.top_actions(TOP_ACTIONS, shortfalls)
    previous = ctx.history.previous_run("ceo")

    # Headline lines
    cash, burn, runway = (figures.get(i) for i in HEADLINE)
    if cash is not None:
        line = f"Cash on hand is {show_figure(cash, ctx.currency)}"
        if burn is not None:
            line += f", burning {show_figure(burn, ctx.currency)} a month"
        if runway is not None:
            line += f": {show_figure(runway, ctx.currency)} of runway"
            policy = ctx.manifest.policies.min_runway_days
            if policy is not None:
                line += f" (policy minimum {policy} days)"
        b.summary(line + ".")
    else:
        b.missing("a ledger (entity ledgers or a portfolio-wide ledger)", "cash, burn and runway")
    entities, domains = figures.get("assets.entities"), figures.get("assets.domains")
    if entities is not None and domains is not None:
        line = f"{show_figure(entities)} active entities on {show_figure(domains)} domains"
        project_count = figures.get("assets.projects")
        if project_count is not None:
            line += f", with {show_figure(project_count)} supporting projects"
        b.summary(line + ".")
    if shortfalls:
        b.summary(f"{len(shortfalls)} shortfalls and risks ({_severity_counts(shortfalls)}).")
    computed = sum(1 for k in KPIS for e in ctx.active_entities if k.figure_id(e.id) in figures)
    if missing:
        b.summary(
            f"KPIs: {computed} values computed, {len(missing)} missing for lack of data"
            f" ({len({m['id'] for m in missing})} of the {len(KPIS)} KPIs have a gap)."
        )
    findings = sorted(shortfalls, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind))
    if previous is not None:
        changes_line = len(b.doc.summary)
        b.summary(f"Since the report of {previous.as_of}: see what changed.")  # counted once findings are final
    else:
        b.summary("First recorded run: the audit store holds no earlier CEO report of this portfolio to compare "
                  "with.")  # fmt: skip

    # Sections
    no_cash = "No ledger data: cash, burn and runway are not available."
    b.figures_section("headline", "Headline", [figures.get(i) for i in (*HEADLINE, *ASSETS)],
                      note=None if cash is not None else no_cash)  # fmt: skip
    if previous is not None:  # none on a first recorded run: there is nothing to say what changed against
        section = b.bullets("changes", f"What changed since {previous.as_of}", [])
        run = previous

        def what_changed(doc: Document) -> None:
            # after build applied actions and the lifecycle: the findings and their status are final
            found = set(b.top_findings) | {f.id for f in doc.findings}
            items = changes(run, ctx.history.figures(run, "ceo"), doc, found)
            section["items"] = items or ["Nothing: every figure and finding is as it was."]
            count = len(items)
            doc.summary[changes_line] = f"Since the report of {run.as_of}: {count} change{'s' * (count != 1)}."

        b.on_build(what_changed)

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
