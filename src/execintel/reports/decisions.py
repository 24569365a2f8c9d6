"""What every document gets when it is built (CONTRACT section 8): freshness, actions, and the findings lifecycle.

:meth:`DocumentBuilder.build <execintel.reports.document.DocumentBuilder.build>` calls :func:`finish`:

1. **Freshness**: the ``sources.freshness`` figure, a "Data freshness" table and the ``stale-source`` findings.
2. **Actions** of the report's findings (:mod:`execintel.analysis.actions`). A report limited to the portfolio's top
   actions (the CEO's 7, :meth:`DocumentBuilder.top_actions`) shows every finding of those actions, and no finding
   of severity critical or high outside them: those are in the area reports, and a list says which actions.
3. **Lifecycle**: each finding's ``first_seen`` and ``status`` from the earlier runs
   (:mod:`execintel.analysis.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from execintel.analysis.actions import actions
from execintel.analysis.context import ANALYSES, Context
from execintel.analysis.freshness import FIGURE_ID
from execintel.analysis.model import Action, Finding

if TYPE_CHECKING:
    from execintel.reports.document import DocumentBuilder

SEVERE = ("critical", "high")  # every finding of these severities belongs to exactly one action


def portfolio_findings(ctx: Context) -> list[Finding]:
    """Every finding of every analysis of the portfolio, once each (by id), in analysis order."""
    found: dict[str, Finding] = {}
    for name in ANALYSES:
        for finding in ctx.results(name).findings:
            found.setdefault(finding.id, finding)
    return list(found.values())


def top_actions(ctx: Context, limit: int) -> tuple[list[Action], list[Action], dict[str, Finding]]:
    """The portfolio's ``limit`` first actions, the ones after them, and the portfolio's findings by id."""
    found = portfolio_findings(ctx)
    every = actions(ctx, found)
    return every[:limit], every[limit:], {f.id: f for f in found}


def covered(chosen: Iterable[Action]) -> set[str]:
    """The finding ids of some actions."""
    return {fid for action in chosen for fid in action.findings}


def add_freshness(b: DocumentBuilder) -> None:
    """The ``sources.freshness`` figure, its table, and the ``stale-source`` findings."""
    results = b.ctx.results("freshness")
    figure = results.figures.get(FIGURE_ID)
    if figure is None or not isinstance(figure.value, list):
        return
    b.figure(figure)
    limit = b.ctx.manifest.policies.max_source_age_days
    rows: list[list[Any]] = []
    for item in figure.value:
        if item["newest"] is None:
            state = "no dated row up to as_of"
        elif item["stale"] is None:
            state = ""
        else:
            state = f"stale: more than {limit} days old" if item["stale"] else "ok"
        rows.append([item["source"], item["entity"] or "portfolio", item["kind"].replace("_", " "), item["newest"],
                     item["age_days"], state])  # fmt: skip
    b.table(
        "freshness", f"Data freshness at {b.ctx.as_of}",
        [("Source", ""), ("Entity", ""), ("Kind", ""), ("Newest row", ""), ("Age", "days"), ("Status", "")], rows,
        note=f"Each source's newest row dated on or before {b.ctx.as_of} and its age in days. A ledger or events "
        f"source more than {limit} days old is stale (policies.max_source_age_days).",
    )  # fmt: skip
    if results.findings:
        b.findings_section("stale-sources", "Stale sources", results.findings)


def _enforce_top(b: DocumentBuilder) -> None:
    """A top-limited document: add its actions' findings it lacks, drop critical/high findings outside them."""
    doc, chosen = b.doc, b.doc.actions
    keep = covered(chosen)
    by_id = b.top_findings
    shown = {f.id for f in doc.findings}
    missing = [by_id[fid] for a in chosen for fid in a.findings if fid not in shown and fid in by_id]
    if missing:
        b.findings_section("action-findings", "Findings behind the top actions", missing)
    dropped = [i for i, f in enumerate(doc.findings) if f.severity in SEVERE and f.id not in keep]
    if dropped:
        gone = set(dropped)
        new_index: dict[int, int] = {}
        kept: list[Finding] = []
        for i, finding in enumerate(doc.findings):
            if i not in gone:
                new_index[i] = len(kept)
                kept.append(finding)
        doc.findings = kept
        for section in doc.sections:
            if section.get("kind") == "findings":
                section["findings"] = [new_index[i] for i in section["findings"] if i in new_index]
    later = [a for a in b.later_actions if a.severity in SEVERE]
    if later:
        items = [f"[{a.severity.upper()}] {a.title}: owner {a.owner or 'nobody (no stakeholder holds the role)'}, "
                 f"due {a.due.isoformat()}" for a in later]  # fmt: skip
        rest = len(b.later_actions) - len(later)
        if rest:
            items.append(f"and {rest} more medium and low action{'s' * (rest != 1)}")
        b.bullets("more-actions", "More actions, in the area reports", items,
                  note=f"The portfolio's actions after the top {len(chosen)}, with their findings, are in the "
                  "report of their area (CTO, CFO, CMO, accounting...).")  # fmt: skip


def finish(b: DocumentBuilder) -> None:
    """Freshness, actions (with the top-actions rule) and the lifecycle of every finding (see the module)."""
    add_freshness(b)
    if b.top_limit is None:
        b.doc.actions = actions(b.ctx, b.doc.findings)
    else:
        _enforce_top(b)
    b.doc.findings = b.ctx.history.annotate(b.doc.report, b.doc.findings, b.ctx.as_of)
