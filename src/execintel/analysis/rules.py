"""The CEO's declared rules: asset counts, and shortfalls and risks as a table of rules over the manifest and facts.

Each :class:`Rule` names the finding kind it produces, its severity, the condition in words (the CEO report page
lists :data:`RULES`) and the function that checks it. ``analyze`` adds the asset figures ``assets.entities``,
``assets.domains`` and ``assets.projects`` and runs every rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, Severity

# broken-funnel: at least this many leads in the 12 months ending at as_of ...
FUNNEL_MIN_LEADS = 50
# ... and fewer bookings than this fraction of them (bookings / leads < 2 %), checked as 50 * bookings < leads.
FUNNEL_MIN_CONVERSION_PERCENT = 2


@dataclass(frozen=True)
class Rule:
    """A declared rule: the finding kind it produces, its severity, its condition, and the check."""

    kind: str
    severity: Severity
    description: str
    check: Callable[[Context, Rule], Iterator[Finding]]

    def run(self, ctx: Context) -> list[Finding]:
        """The findings this rule produces on the portfolio."""
        return list(self.check(ctx, self))


def _json_list(text: Any) -> list[str]:
    """A JSON list column (risks, blockers, next_steps) as strings; empty for null or non-lists."""
    if text is None:
        return []
    value = json.loads(text) if isinstance(text, str) else text
    return [str(v) for v in value] if isinstance(value, list) else []


def _unsigned_equity(ctx: Context, rule: Rule) -> Iterator[Finding]:
    for entity in ctx.manifest.entities:
        for index, line in enumerate(entity.equity):
            if line.agreement != "unsigned":
                continue
            yield Finding(
                kind=rule.kind,
                severity=rule.severity,
                title=f"{line.holder} holds {line.percent}% of {entity.name} without a signed agreement",
                entity=entity.id,
                evidence=(f"{ctx.entity_key(entity.id, f'equity[{index}]')}: agreement: unsigned",),
                subject=f"equity {line.holder}",
                recommendation="Sign an equity agreement (vesting, transfer and exit terms) with the holder.",
            )


def _has_ledger_rows(ctx: Context) -> set[str]:
    return {row[0] for row in ctx.query("SELECT DISTINCT entity FROM tx WHERE entity IS NOT NULL")}


def _no_revenue_tracking(ctx: Context, rule: Rule) -> Iterator[Finding]:
    tracked = _has_ledger_rows(ctx)
    for entity in ctx.active_entities:
        if entity.ledger is not None or entity.id in tracked:
            continue
        where = "no portfolio-wide ledger" if ctx.manifest.ledger is None else "no rows in the portfolio-wide ledger"
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=f"{entity.name} has no ledger: its revenue and costs are not tracked",
            entity=entity.id,
            evidence=(f"{ctx.entity_key(entity.id)}: no ledger", f"{where} for {entity.id}"),
            subject="ledger",
            recommendation="Keep a ledger for the entity (its own file or rows in the portfolio ledger).",
        )


def _missing_billing_model(ctx: Context, rule: Rule) -> Iterator[Finding]:
    for entity in ctx.active_entities:
        if entity.revenue_model not in (None, "none"):
            continue
        stated = "none" if entity.revenue_model == "none" else "not given"
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=f"{entity.name} has no billing model",
            entity=entity.id,
            evidence=(f"{ctx.entity_key(entity.id, 'revenue_model')}: {stated}",),
            subject="revenue_model",
            recommendation="Choose how the entity bills (per unit, subscription, retainer or rental) and price it.",
        )


def _empty_pipeline(ctx: Context, rule: Rule) -> Iterator[Finding]:
    for entity in ctx.active_entities:
        if entity.pipeline:
            continue
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=f"{entity.name} has no open sales opportunities",
            entity=entity.id,
            evidence=(f"{ctx.entity_key(entity.id, 'pipeline')}: empty",),
            subject="pipeline",
            recommendation="Record open opportunities (name, value, stage) to forecast revenue.",
        )


def _no_ota_listing(ctx: Context, rule: Rule) -> Iterator[Finding]:
    for entity in ctx.manifest.entities:
        otas = [c for c in entity.channels if c.kind == "ota"]
        if not otas or any(c.status == "live" for c in otas):
            continue
        listed = ", ".join(f"{c.name} ({c.status})" for c in otas)
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=f"{entity.name} is listed on none of its {len(otas)} planned OTA channels",
            entity=entity.id,
            evidence=(f"{ctx.entity_key(entity.id, 'channels')}: {listed}",),
            subject="ota channels",
            recommendation="Launch the OTA listing with the highest direct-booking likelihood first.",
        )


def _broken_funnel(ctx: Context, rule: Rule) -> Iterator[Finding]:
    rows = ctx.query(
        "SELECT entity, count(*) FILTER (WHERE type = 'lead'), count(*) FILTER (WHERE type = 'booking'),"
        " count(*) FILTER (WHERE type = 'lead' AND CAST(ts AS DATE) > ?),"
        " count(*) FILTER (WHERE type = 'booking' AND CAST(ts AS DATE) > ?)"
        " FROM ev WHERE type IN ('lead', 'booking') GROUP BY entity",
        [ctx.window_start, ctx.window_start],
    )
    counts = {row[0]: row[1:] for row in rows}
    for entity in ctx.manifest.entities:
        if entity.id not in counts:
            continue
        leads_all, bookings_all, leads, bookings = counts[entity.id]
        # bookings / leads < 2 %  <=>  100 * bookings < 2 * leads (exact integer arithmetic)
        if leads < FUNNEL_MIN_LEADS or 100 * bookings >= FUNNEL_MIN_CONVERSION_PERCENT * leads:
            continue
        rate = (Decimal(bookings) * 100 / leads).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        files = sorted({s.split(":", 1)[0] for s in ctx.provenance("FROM ev WHERE entity = ?", [entity.id])})
        title = (
            f"{entity.name} turned none of its {leads:,} leads of the last 12 months into a booking"
            if bookings == 0
            else f"{entity.name} turns {rate}% of its leads into bookings"
        )
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=title,
            entity=entity.id,
            evidence=(
                f"{leads:,} leads and {bookings:,} bookings in the 12 months ending {ctx.as_of.isoformat()}",
                f"{leads_all:,} leads and {bookings_all:,} bookings in all events up to {ctx.as_of.isoformat()}",
                *(f"events: {file}" for file in files),
            ),
            subject="lead-to-booking funnel",
            recommendation="Follow up every lead quickly and make booking possible from the first contact.",
        )


def _handoff_status(ctx: Context, rule: Rule, status: str) -> Iterator[Finding]:
    rows = ctx.query(
        "SELECT project, entity, updated, risks, blockers, source_file, source_line FROM handoffs"
        " WHERE status = ? ORDER BY project",
        [status],
    )
    for project, entity, updated, risks, blockers, file, line in rows:
        evidence = [f"blocker: {b}" for b in _json_list(blockers)] + [f"risk: {r}" for r in _json_list(risks)]
        evidence.append(f"status {status}" + (f" as of {updated.isoformat()}" if updated else ""))
        yield Finding(
            kind=rule.kind,
            severity=rule.severity,
            title=f"Project {project} is {'blocked' if status == 'blocked' else 'at risk'}",
            entity=entity,
            evidence=tuple(evidence),
            file=file,
            line=line,
            subject=f"project {project}",
            recommendation="Name an owner for each blocker and a date to clear it.",
        )


def _project_at_risk(ctx: Context, rule: Rule) -> Iterator[Finding]:
    return _handoff_status(ctx, rule, "at-risk")


def _project_blocked(ctx: Context, rule: Rule) -> Iterator[Finding]:
    return _handoff_status(ctx, rule, "blocked")


RULES: tuple[Rule, ...] = (
    Rule("unsigned-equity", "high", "an equity line with `agreement: unsigned`", _unsigned_equity),
    Rule(
        "no-revenue-tracking",
        "high",
        "an active entity with no `ledger` of its own and no rows in a portfolio-wide ledger (up to `as_of`)",
        _no_revenue_tracking,
    ),
    Rule(
        "missing-billing-model",
        "high",
        "an active entity with `revenue_model: none` or no `revenue_model`",
        _missing_billing_model,
    ),
    Rule("empty-pipeline", "medium", "an active entity whose `pipeline` is empty or absent", _empty_pipeline),
    Rule(
        "no-ota-listing",
        "medium",
        "an entity with `ota` channels none of which has `status: live`",
        _no_ota_listing,
    ),
    Rule(
        "broken-funnel",
        "high",
        f"an entity with at least {FUNNEL_MIN_LEADS} `lead` events in the 12 months ending at `as_of` and "
        f"`booking` events / `lead` events < {FUNNEL_MIN_CONVERSION_PERCENT}% in the same window",
        _broken_funnel,
    ),
    Rule("project-blocked", "high", "a handoff project with `status: blocked`", _project_blocked),
    Rule("project-at-risk", "medium", "a handoff project with `status: at-risk`", _project_at_risk),
)


def asset_figures(ctx: Context) -> list[Figure]:
    """``assets.entities``, ``assets.domains`` and (when handoffs are configured) ``assets.projects``."""
    active = ctx.active_entities
    domains = {d.lower() for e in active for d in e.domains}
    figures = [
        Figure(
            "assets.entities",
            len(active),
            "count",
            "number of entities with status: active",
            tuple(ctx.entity_key(e.id, "status") for e in active),
            name="Active entities",
        ),
        Figure(
            "assets.domains",
            len(domains),
            "count",
            "number of distinct domains (case-insensitive) of the active entities",
            tuple(ctx.entity_key(e.id, "domains") for e in active if e.domains),
            name="Active domains",
        ),
    ]
    if ctx.manifest.handoffs is not None:
        count = ctx.query("SELECT count(*) FROM handoffs")[0][0]
        figures.append(
            Figure(
                "assets.projects",
                int(count),
                "count",
                "number of handoff projects (one per handoff file)",
                ctx.provenance("FROM handoffs") or (ctx.manifest_key("handoffs"),),
                name="Supporting projects",
            )
        )
    return figures


def analyze(ctx: Context) -> Results:
    """Asset figures and the findings of every rule in :data:`RULES`."""
    results = Results()
    for figure in asset_figures(ctx):
        results.add(figure)
    for rule in RULES:
        for finding in rule.run(ctx):
            results.find(finding)
    return results
