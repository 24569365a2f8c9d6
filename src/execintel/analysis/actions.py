"""Actions (CONTRACT section 8): the findings that share one remedy, with an owner, a due date and their worth.

- **Grouping.** One action per finding kind: the findings of one kind share one remedy (seven ``empty-pipeline``
  findings are one action, "Record open sales opportunities (7 entities)"). Findings of severity ``info`` are
  notes, not things to do: they belong to no action. Every other finding belongs to exactly one action.
- **Severity** of an action: the most severe of its findings.
- **Owner**: the manifest's ``owners`` entry for the kind, else for the kind's area, else the first stakeholder
  holding the role that owns the area (:mod:`execintel.config.areas`); ``None`` when nobody holds it.
- **Due**: ``as_of`` + ``policies.action_days.<severity>`` days (defaults critical 2, high 14, medium 30, low 90).
- **Impact**: for the kinds of :data:`REMEDIES` whose findings carry money, the sum of their amounts, as a saving or
  rent per month (``USD/month``) or as money overdue, deferred or at risk (``USD``); ``None`` otherwise.
- **Priority**: severity first; then impact, largest first (a monthly amount counted over 12 months, so that it
  compares with a one-off amount), actions without impact after those with one; then kind. Numbered from 1.
- **Id**: ``action-<kind>``, the same in every run and every report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Action, Finding, Impact, Severity
from execintel.config.areas import ROLE_OF_AREA, area_of
from execintel.config.models import Manifest

MONTHLY, YEARLY, ONE_OFF = "/month", "/year", ""


@dataclass(frozen=True)
class Remedy:
    """What to do about the findings of one kind: an imperative title, what one finding is about, and how their
    amounts make the action's impact (``per`` is ``/month`` or empty; ``basis`` None: no impact)."""

    title: str
    noun: str = "finding"
    per: str = ONE_OFF
    basis: str | None = None


REMEDIES: dict[str, Remedy] = {
    "hardcoded-secret": Remedy("Rotate the hard-coded secrets and move them out of the code", "secret"),
    "secret-in-history": Remedy("Rotate the secrets left in git history", "secret"),
    "env-file-committed": Remedy("Stop tracking environment files and rotate their values", "file"),
    "unauthenticated-endpoint": Remedy("Require authentication on open endpoints", "system"),
    "no-waf": Remedy("Put a web application firewall in front of CloudFront", "system"),
    "no-rate-limit": Remedy("Rate-limit the APIs", "system"),
    "no-staging": Remedy("Add a staging environment", "system"),
    "manual-deploy": Remedy("Deploy from CI instead of by hand", "system"),
    "cloud-savings": Remedy(
        "Apply the cloud savings suggestions",
        "suggestion",
        MONTHLY,
        "sum of the estimated monthly savings of the suggestions",
    ),
    "runway-below-policy": Remedy(
        "Bring runway back above the policy minimum",
        "portfolio",
        ONE_OFF,
        "cash needed to reach the policy minimum at the current burn",
    ),
    "forecast-below-minimum": Remedy(
        "Arrange funding or move receipts and payments before the forecast's low week",
        "forecast",
        ONE_OFF,
        "cash short of the policy minimum at the 13-week forecast's lowest week",
    ),
    "runway-relies-on-owner-money": Remedy(
        "Plan runway without the owner's contributions",
        "portfolio",
        ONE_OFF,
        "owner contributions of the last 3 complete months that the runway relies on",
    ),
    "low-dscr": Remedy(
        "Raise the rental properties' debt service coverage",
        "property",
        YEARLY,
        "net operating income a year short of a 1.25 debt service coverage",
    ),
    "negative-unit-margin": Remedy("Re-price the units sold at a loss", "entity"),
    "unapproved-debt": Remedy(
        "Put the unapproved debt to the board",
        "loan",
        ONE_OFF,
        "principal of the debt the board has not approved (money at risk)",
    ),
    "cash-review-overdue": Remedy("Bring the ledgers up to date for the cash review", "ledger"),
    "unsigned-equity": Remedy("Sign the equity agreements", "holding"),
    "no-revenue-tracking": Remedy("Keep a ledger for every active entity", "entity"),
    "missing-billing-model": Remedy("Choose a billing model", "entity"),
    "empty-pipeline": Remedy("Record open sales opportunities", "entity"),
    "no-ota-listing": Remedy("Launch the planned OTA listings", "entity"),
    "broken-funnel": Remedy("Fix the lead-to-booking funnel", "entity"),
    "project-blocked": Remedy("Clear the blockers of the blocked projects", "project"),
    "project-at-risk": Remedy("Bring the at-risk projects back on track", "project"),
    "missing-receipt": Remedy("Attach the missing receipts", "expense", ONE_OFF, "expenses without a receipt"),
    "uncategorized-expense": Remedy(
        "Categorise the uncategorised expenses", "expense", ONE_OFF, "uncategorised expenses"
    ),
    "deferred-revenue": Remedy(
        "Record deferred revenue as a liability",
        "entity",
        ONE_OFF,
        "revenue received for services not yet delivered (deferred)",
    ),
    "payment-not-in-ledger": Remedy(
        "Record the client payments missing from the ledger", "payment", ONE_OFF, "client payments not in the ledger"
    ),
    "under-billed": Remedy(
        "Invoice the shortfall against the contracts", "client", ONE_OFF, "invoiced less than contracted"
    ),
    "unbilled-work": Remedy("Invoice the unbilled work", "client", ONE_OFF, "estimated value of the unbilled work"),
    "overdue-receivable": Remedy(
        "Chase the overdue invoices", "invoice", ONE_OFF, "money overdue: the unpaid amounts of the overdue invoices"
    ),
    "job-negative-margin": Remedy(
        "Re-price the routes of jobs that lost money", "job", ONE_OFF, "money lost on the jobs"
    ),
    "job-uncompleted": Remedy(
        "Close out the jobs with no completion", "job", ONE_OFF, "revenue of the jobs with no completion (at risk)"
    ),
    "lease-expiring": Remedy(
        "Renew or re-let the expiring leases",
        "lease",
        MONTHLY,
        "monthly rent of the leases ending with no renewal (at risk)",
    ),
    "unit-vacant": Remedy("Let the vacant units", "unit", MONTHLY, "monthly rent of the vacant units (not earned)"),
    "stale-source": Remedy("Bring the stale data sources up to date", "source"),
    "cloud-costs-partial": Remedy("Export the full cloud cost history", "export"),
    "receipts-not-tracked": Remedy("Track receipts in the ledger files", "ledger file"),
    "loan-balance-not-recorded": Remedy("Record the loan balances in the ledger", "loan"),
    "capital-candidate": Remedy("Decide which large expenses are fixed assets", "expense"),
    "no-burn": Remedy("Watch for the first month that burns cash", "portfolio"),
}


def remedy(kind: str, findings: Sequence[Finding]) -> Remedy:
    """The remedy of a kind; for a kind :data:`REMEDIES` does not list, its first finding's recommendation."""
    if kind in REMEDIES:
        return REMEDIES[kind]
    advice = next((f.recommendation for f in findings if f.recommendation), "")
    first = advice.split(". ")[0].rstrip(".")
    return Remedy(first or f"Resolve the {kind.replace('-', ' ')} findings")


def owner(manifest: Manifest, kind: str) -> str | None:
    """The stakeholder id who owns the actions of ``kind`` (see the module docstring), or None."""
    area = area_of(kind)
    for key in (kind, area):
        if key in manifest.owners:
            return manifest.owners[key]
    role = ROLE_OF_AREA[area]
    return next((s.id for s in manifest.stakeholders if role in s.roles), None)


def due(manifest: Manifest, as_of: dt.date, severity: Severity) -> dt.date:
    """``as_of`` plus the policy's days for ``severity`` (an info action, which never exists, counts as low)."""
    days = manifest.policies.action_days
    return as_of + dt.timedelta(days=getattr(days, severity if severity != "info" else "low"))


def impact(kind: str, findings: Sequence[Finding], currency: str) -> Impact | None:
    """What acting on the findings is worth: the sum of their amounts, for the kinds whose remedy has a basis."""
    rule = remedy(kind, findings)
    amounts = [f.amount for f in findings if f.amount is not None]
    if rule.basis is None or not amounts:
        return None
    basis = f"{rule.basis}: sum of the amounts of {len(amounts)} {kind} finding{'s' * (len(amounts) != 1)}"
    if len(amounts) < len(findings):
        basis += f" ({len(findings) - len(amounts)} more without an amount)"
    return Impact(sum(amounts, Decimal(0)), f"{currency}{rule.per}", basis)


def _yearly(value: Impact | None) -> Decimal:
    """An impact over a year, so that a saving per month compares with a one-off amount; -1 without impact."""
    if value is None:
        return Decimal(-1)
    return value.amount * 12 if value.unit.endswith(MONTHLY) else value.amount


def _title(ctx: Context, rule: Remedy, findings: Sequence[Finding]) -> str:
    entities = list(dict.fromkeys(f.entity for f in findings if f.entity))
    names = [ctx.entities[e].name if e in ctx.entities else e for e in entities]
    count = len(findings)
    if count == 1:
        scope = names[0] if names else "the portfolio"
    elif rule.noun == "entity":
        scope = f"{count} entities"
    else:
        scope = f"{count} {rule.noun}s" + (f" in {len(entities)} entities" if len(entities) > 1 else "")
    return f"{rule.title} ({scope})"


def actions(ctx: Context, findings: Iterable[Finding]) -> list[Action]:
    """The actions of ``findings`` (info findings excluded), in priority order, numbered from 1."""
    by_kind: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.severity != "info":
            by_kind.setdefault(finding.kind, []).append(finding)
    drafts: list[tuple[tuple[int, Decimal, str], Action]] = []
    for kind, group in by_kind.items():
        group.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.id))
        severity = group[0].severity
        worth = impact(kind, group, ctx.currency)
        action = Action(
            id=f"action-{kind}",
            title=_title(ctx, remedy(kind, group), group),
            priority=0,
            severity=severity,
            owner=owner(ctx.manifest, kind),
            due=due(ctx.manifest, ctx.as_of, severity),
            impact=worth,
            findings=tuple(dict.fromkeys(f.id for f in group)),
        )
        drafts.append(((SEVERITY_ORDER.get(severity, 9), -_yearly(worth), kind), action))
    drafts.sort(key=lambda item: item[0])
    return [replace(action, priority=n) for n, (_key, action) in enumerate(drafts, start=1)]
