"""The CEO report: headline, scorecard, KPI gaps, what changed, inventory, shortfalls and risks, KPI appendix."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.kpi_customers import NPS_MIN_RESPONSES
from execintel.analysis.kpis import KPIS
from execintel.analysis.lifecycle import PastRun
from execintel.analysis.model import SEVERITY_ORDER, Figure
from execintel.analysis.operations import projects
from execintel.formatting import show, show_figure
from execintel.reports import scorecard
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.summary import above, trend

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


def _kpi_cell(figure: Figure, figures: dict[str, Figure], currency: str) -> str:
    """A KPI's value as the appendix shows it: with its period, sample size or verdict where it needs one."""
    kind, _, rest = figure.id.removeprefix("kpi.").partition(".")
    if kind == "time_to_profitability":
        if figure.value is None:
            return "not in sight: revenue is not growing"
        if figure.value == 0:
            return "reached (net income of the last 12 months is positive)"
        months = figure.value
        return (
            f"{show_figure(figure, currency).removesuffix(' months')} month{'s' * (months != 1)} at the current trend"
        )
    if kind == "nps":
        responses = figures.get(f"kpi.nps_responses.{rest}")
        count = responses.value if responses is not None and isinstance(responses.value, int) else 0
        few = f": fewer than {NPS_MIN_RESPONSES}, too few to rely on" if count < NPS_MIN_RESPONSES else ""
        return f"{show_figure(figure, currency)} ({count} responses{few})"
    if kind == "churn":
        return f"{show_figure(figure, currency)} over 12 months"
    return show_figure(figure, currency)


def _kpi_rows(ctx: Context, figures: dict[str, Figure]) -> list[list[Any]]:
    """Every computed KPI value (and its extra figures: NPS segments, earlier counts), KPI by KPI."""
    rows: list[list[Any]] = []
    names = {e.id: e.name for e in ctx.active_entities} | {"portfolio": "Portfolio"}
    for kpi in KPIS:
        for eid, name in names.items():
            main = kpi.figure_id(eid)
            if main not in figures:
                continue
            extra = sorted(f for f in figures if f.startswith(f"{main}.") and not f.endswith(".start"))
            for fid in (main, *extra):
                rows.append([figures[fid].name or kpi.name, name, _kpi_cell(figures[fid], figures, ctx.currency)])
    return rows


def _grouped(entries: Sequence[dict[str, Any]], key: str) -> dict[tuple[str, str], list[str]]:
    """``kpis.missing`` or ``kpis.not_applicable`` entries grouped by (KPI id, ``key``), with their entities."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        groups.setdefault((entry["id"], entry[key]), []).append(entry["entity"])
    return groups


def _gaps(ctx: Context, missing: Sequence[dict[str, Any]], unfit: Sequence[dict[str, Any]]) -> list[str]:
    """One line per entity with missing KPIs: the data it needs (the appendix lists every KPI)."""
    lines = []
    for entity in ctx.active_entities:
        mine = [m for m in missing if m["entity"] == entity.id]
        if not mine:
            continue
        data = list(dict.fromkeys(m["data"] for m in mine))
        count = len(mine)
        lines.append(f"{entity.name}: needs {', '.join(data)} ({count} KPI{'s' * (count != 1)})")
    if not lines:
        lines.append("Every KPI that fits an entity's revenue model is computed.")
    if unfit:
        lines.append(f"Not computed where they do not fit the entity's revenue model: {len(unfit)} KPI values, each"
                     " with its reason in the appendix.")  # fmt: skip
    return lines


def _opening(ctx: Context, b: DocumentBuilder, figures: dict[str, Figure], previous: PastRun | None) -> None:
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
    unfit: list[dict[str, Any]] = list(kpis.figures["kpis.not_applicable"].value)  # type: ignore[arg-type]
    # CONTRACT section 8: the CEO's actions are the portfolio's first 7; the report shows their findings
    shortfalls = b.top_actions(TOP_ACTIONS, shortfalls)
    previous = ctx.history.previous_run("ceo")

    findings = sorted(shortfalls, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind))
    _opening(ctx, b, figures, previous)
    cash = figures.get("cash.portfolio")
    if cash is None:
        b.missing("a ledger (entity ledgers or a portfolio-wide ledger)", "cash, burn and runway")
    rows, used = scorecard.build(ctx, figures)
    for figure in used:
        b.figure(figure)
    b.place(b.scorecard("scorecard", "Scorecard", scorecard.columns(ctx), rows, note=scorecard.LEGEND), "summary")
    b.place(b.bullets("kpi-gaps", "KPI gaps", _gaps(ctx, missing, unfit)), "summary")
    if previous is not None:  # none on a first recorded run: there is nothing to say what changed against
        section = b.bullets("changes", f"What changed since {previous.as_of}", [])
        b.place(section, "summary")
        run = previous

        def what_changed(doc: Document) -> None:
            # after build applied actions and the lifecycle: the findings and their status are final
            found = set(b.top_findings) | {f.id for f in doc.findings}
            items = changes(run, ctx.history.figures(run, "ceo"), doc, found)
            section["items"] = items or ["Nothing: every figure and finding is as it was."]

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

    b.findings_section("shortfalls", "Shortfalls and risks", findings,
                       note="Rules, finance findings, and critical and high security findings.")  # fmt: skip
    _appendix(ctx, b, figures, missing, unfit)
    return b.build()


def _appendix(ctx: Context, b: DocumentBuilder, figures: dict[str, Figure], missing: list[dict[str, Any]],
              unfit: list[dict[str, Any]]) -> None:  # fmt: skip
    """Every KPI value, every missing KPI with the data it needs, every KPI that does not fit: the full detail."""
    for figure in figures.values():
        b.figure(figure)
    b.table("kpis", "Appendix: KPIs", [("KPI", ""), ("Entity", ""), ("Value", "")], _kpi_rows(ctx, figures),
            note="Every KPI computed, for the entities whose revenue model it fits.")  # fmt: skip
    names = {k.id: k.name for k in KPIS}
    entity_names = {e.id: e.name for e in ctx.active_entities} | {"portfolio": "Portfolio"}
    gaps = _grouped(missing, "needs")
    b.table(
        "kpis-missing",
        "Appendix: missing KPIs",
        [("KPI", ""), ("Entities", ""), ("Data needed", "")],
        [[names[kpi], ", ".join(entity_names[e] for e in who), need] for (kpi, need), who in gaps.items()],
        note=None if missing else "Every KPI that fits an entity's revenue model is computed.",
    )
    by_reason: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for entry in unfit:  # one row per reason: the KPIs it rules out and the entities it applies to
        kpis, who = by_reason.setdefault(entry["reason"], ({}, {}))
        kpis[names[entry["id"]]] = who[entity_names[entry["entity"]]] = None
    b.table(
        "kpis-not-applicable",
        "Appendix: KPIs that do not fit the revenue model",
        [("Why not", ""), ("KPIs", ""), ("Entities", "")],
        [[why, ", ".join(kpis), ", ".join(who)] for why, (kpis, who) in by_reason.items()],
        note=None if unfit else "Every KPI fits every active entity's revenue model.",
    )
    by_data: dict[str, dict[str, list[str]]] = {}
    for m in missing:  # the document's missing list: each kind of data once, with the KPIs it would enable
        by_data.setdefault(m["data"], {}).setdefault(names[m["id"]], []).append(m["entity"])
    for data, kpis_of in by_data.items():
        by_entities: dict[tuple[str, ...], list[str]] = {}
        for kpi, entities in kpis_of.items():
            by_entities.setdefault(tuple(entities), []).append(kpi)
        b.missing(data, "; ".join(f"{', '.join(k)} ({', '.join(e)})" for e, k in by_entities.items()))
