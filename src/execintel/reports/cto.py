"""The CTO report: stack inventory, security findings, cloud spend and savings, and delivery bottlenecks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, cast

from execintel.analysis.cloud import SHARED, entity_months, service_months, slug
from execintel.analysis.cloud_rules import RULES, RULES_BY_ID
from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Results
from execintel.analysis.security import (
    DELIVERY_KINDS,
    SECURITY_KINDS,
    STALE_REPO_DAYS,
    SecurityResults,
    by_severity,
    stale_repos,
)
from execintel.formatting import show_figure
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.summary import trend

TITLE = "CTO report"
TOP_SERVICES = 6  # services drawn separately in the chart; the rest are 'Other'
MONTHS_SHOWN = 12  # months of the monthly spend table


def _flag(value: bool | None) -> str:
    return "not declared" if value is None else "yes" if value else "no"


def _json_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = json.loads(value) if isinstance(value, str) else value
    return [str(i) for i in items] if isinstance(items, list) else []


class _Cto:
    """Lays out the security and cloud results as the CTO report."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cur = ctx.currency
        self.security = cast(SecurityResults, ctx.results("security"))
        self.cloud: Results = ctx.results("cloud")
        self.b = DocumentBuilder(ctx, "cto", TITLE)
        self.has_repos = any(e.repos for e in ctx.manifest.entities)
        self.has_stack = any(e.stack for e in ctx.manifest.entities)

    def fig(self, fid: str) -> str:
        """A figure's value as report text (``n/a`` when absent)."""
        return show_figure(self.security.figures.get(fid) or self.cloud.figures.get(fid), self.cur)

    def build(self) -> Document:
        """The whole report."""
        self.b.figures_from(self.security)
        self.b.figures_from(self.cloud)
        self.summary()
        self.inventory()
        self.security_section()
        self.cloud_section()
        self.delivery()
        return self.b.build()

    # --- summary --------------------------------------------------------------------------------------------
    def summary(self) -> None:
        """Summary first: the narrative and the headline figures with their comparisons; the email is the summary."""
        b = self.b
        b.email_summary()
        known = {**self.security.figures, **self.cloud.figures}
        month = self.ctx.complete_months(1)[0]
        b.headline([known.get(i) for i in (
            "cloud.spend.monthly", f"cloud.spend.month.{month}", "cloud.savings.monthly", "security.findings.total",
            "security.findings.critical", "security.findings.high", "delivery.findings.total",
        )])  # fmt: skip
        spend, savings = known.get("cloud.spend.monthly"), known.get("cloud.savings.monthly")
        before = b.compared("cloud.spend.monthly", "previous")
        b.narrative("Cloud spend averages {spend} a month over the last three complete months, " + trend(spend, before)
                    + " {before} over the three months before.", spend=spend, before=before) or b.narrative(
            "Cloud spend averages {spend} a month over the last three complete months.", spend=spend)  # fmt: skip
        covered = known.get("cloud.coverage.months")
        if covered is not None and covered.value != 3:
            b.narrative("The cost data covers only {covered} of those three months.", covered=covered)
        b.narrative("The savings suggestions below are worth about {savings} a month.", savings=savings)
        total, critical, high = (known.get(f"security.findings.{k}") for k in ("total", "critical", "high"))
        b.narrative("The scans and the stack declarations raise {total} security findings, {critical} critical and "
                    "{high} high; delivery findings (staging, manual deploys) are counted apart: {delivery}.",
                    total=total, critical=critical, high=high,
                    delivery=known.get("delivery.findings.total")) or b.narrative(
            "The scans and the stack declarations raise {total} security findings, {critical} critical and {high} "
            "high.", total=total, critical=critical, high=high)  # fmt: skip
        if spend is None and total is None:
            b.narrative("Neither cloud costs nor repositories nor a stack are declared, so there is nothing to report.")

    # --- stack inventory ------------------------------------------------------------------------------------
    def inventory(self) -> None:
        """One row per declared stack item, plus the entity's audited repositories."""
        rows: list[list[Any]] = []
        for entity in self.ctx.manifest.entities:
            repos = ", ".join(entity.repos) or "none"
            for item in entity.stack:
                rows.append(
                    [
                        entity.name,
                        item.name,
                        ", ".join(item.components) or "none listed",
                        ", ".join(item.environments) or "not declared",
                        item.deploy or "not declared",
                        item.auth or "not declared",
                        _flag(item.waf),
                        _flag(item.rate_limit),
                        repos,
                    ]
                )
            if not entity.stack and entity.repos:
                rows.append([entity.name, "(no stack declared)", "", "", "", "", "", "", repos])
        columns = [("Entity", ""), ("System", ""), ("Components", ""), ("Environments", ""), ("Deploy", ""),
                   ("Auth", ""), ("WAF", ""), ("Rate limit", ""), ("Repositories", "")]  # fmt: skip
        note = None
        if not self.has_stack:
            note = "No entity declares a stack."
            self.b.missing("stack declarations (entities[].stack)", "the stack inventory and the stack findings")
        self.b.table("inventory", "Stack inventory", columns, rows, note=note)

    # --- security -------------------------------------------------------------------------------------------
    def security_section(self) -> None:
        """Counts, then security findings most severe first."""
        ids = ["security.findings.total", *(f"security.findings.{s}" for s in SEVERITY_ORDER)]
        ids += ["security.repos.scanned", "security.files.scanned", "security.commits.scanned"]
        note = None
        if not self.has_repos:
            note = "No entity lists git repositories, so no secret scan was run."
            self.b.missing("git repositories to audit (entities[].repos)", "the secret scan of files and history")
        kinds = "secrets in files and history, committed environment files, unauthenticated endpoints, no WAF, no "
        counted = f"Counts are of security findings only ({kinds}rate limit); no staging and manual deploys are "
        counted += "delivery findings, counted under Delivery."
        self.b.figures_section("security-counts", "Security overview", ids,
                               note=" ".join(n for n in (note, counted) if n))  # fmt: skip
        self.secrets_table()
        findings = by_severity(f for f in self.security.findings if f.kind in SECURITY_KINDS)
        self.b.findings_section("security-findings", "Security findings", findings)

    def secrets_table(self) -> None:
        """One row per secret finding: what to rotate (the variable), where, and how long it has been exposed."""
        rows: list[list[Any]] = []
        order = {id(f): i for i, f in enumerate(by_severity(r.finding for r in self.security.secrets))}
        for row in sorted(self.security.secrets, key=lambda r: order[id(r.finding)]):
            finding = row.finding
            place = (finding.file or "") + (f":{finding.line}" if finding.line is not None else "")
            where = "in the files" if finding.kind == "hardcoded-secret" else "history only"
            rows.append([finding.severity, row.label, where, place, (finding.commit or "")[:12],
                         None if row.age is None else row.age.days])  # fmt: skip
        if not rows:
            return
        self.b.table("secrets", "Secrets to rotate", [("Severity", ""), ("Secret", ""), ("Where", ""),
                     ("File", ""), ("Commit", ""), ("Days exposed", "days")], rows,
                     note="Days exposed: from the first commit that added the secret to that file (committer date) "
                     "to as_of. Rotate first, then remove.")  # fmt: skip

    # --- cloud ----------------------------------------------------------------------------------------------
    def cloud_section(self) -> None:
        """Average, trend and savings; spend by month; spend by service; savings findings."""
        figures = self.cloud.figures
        if not figures:
            self.b.missing("cloud costs (cloud_costs in the manifest)", "cloud spend, trend and savings")
            self.b.text("cloud", "Cloud cost", [], note="No cloud cost data up to the report date.")
            return
        ids = ["cloud.spend.monthly", "cloud.spend.monthly.previous", "cloud.spend.trend", "cloud.savings.monthly",
               "cloud.coverage.months"]  # fmt: skip
        months = ", ".join(self.ctx.complete_months(3))
        notes: list[str] = []
        if "cloud.spend.monthly" not in figures:
            notes.append(f"No cloud cost rows for {months}, so there is no 3-month average, trend or savings estimate.")
        covered = figures.get("cloud.coverage.months")
        if covered is not None and covered.value != 3:
            notes.append(f"The cost data covers {show_figure(covered)} of {months}: the average counts the months it "
                         "does not reach as 0 (as the contract defines it), so it understates the bill.")  # fmt: skip
        if "cloud.spend.monthly.previous" in figures and "cloud.spend.trend" not in figures:
            notes.append("No trend: the cost data does not cover all 6 months it compares.")
        self.b.figures_section("cloud-overview", "Cloud cost", ids, note=" ".join(notes) or None)
        partial = [f for f in self.cloud.findings if f.kind == "cloud-costs-partial"]
        if partial:
            self.b.findings_section("cloud-data", "Cloud cost data", partial)
        month_ids = sorted(f for f in figures if f.startswith("cloud.spend.month."))[-MONTHS_SHOWN:]
        current = f"cloud.spend.month.{self.ctx.as_of:%Y-%m}"
        self.b.table(
            "cloud-months",
            "Cloud spend by month",
            [("Month", ""), ("Spend", self.cur)],
            [[fid.removeprefix("cloud.spend.month."), figures[fid].value] for fid in month_ids],
            note=f"{self.ctx.as_of:%Y-%m} is the month of as_of: billed so far." if current in month_ids else None,
        )
        self.by_service()
        self.by_entity()
        self.savings()

    def savings(self) -> None:
        """One row per savings suggestion with its estimated saving in currency a month (the findings' amounts)."""
        found = sorted(
            (f for f in self.cloud.findings if f.kind == "cloud-savings"), key=lambda f: -(f.amount or Decimal(0))
        )
        rows: list[list[Any]] = []
        for finding in found:
            self.b.finding(finding)  # in the JSON with its evidence and source rows; shown here as a row
            rule_id, service = finding.subject.split("|", 1)
            rule = RULES_BY_ID[rule_id]
            entity = self.ctx.entities[finding.entity].name if finding.entity in self.ctx.entities else "Shared"
            basis = next((e.removeprefix("estimate: ") for e in finding.evidence if e.startswith("estimate: ")), "")
            rows.append([rule.title, service, entity, finding.amount, basis, rule.recommendation])
        total = self.cloud.figures.get("cloud.savings.monthly")
        note = "Each estimate is a documented share of billed spend (docs/reports/cto.md lists every rule)."
        if total is not None and found:
            note = f"In all {show_figure(total, self.cur)} a month. " + note
        elif not found:
            note = f"No rule fires on this bill (rules: {', '.join(r.id for r in RULES)})."
        self.b.table("cloud-savings", "Savings suggestions", [("Suggestion", ""), ("Service", ""), ("Entity", ""),
                     ("Saving a month", self.cur), ("Estimate", ""), ("Next step", "")], rows, note=note)  # fmt: skip

    def by_entity(self) -> None:
        """Spend per entity over the last 3 complete months, shared costs apart, with the savings found for each."""
        recent = list(self.ctx.complete_months(3))
        saved: dict[str | None, Decimal] = {}
        for finding in self.cloud.findings:
            if finding.kind == "cloud-savings" and finding.amount is not None:
                saved[finding.entity] = saved.get(finding.entity, Decimal(0)) + finding.amount
        rows: list[list[Any]] = []
        for entity, months in entity_months(self.ctx).items():
            fid = f"cloud.spend.{SHARED}.monthly" if entity is None else f"cloud.spend.entity.{entity}.monthly"
            figure = self.cloud.figures.get(fid)
            if figure is None:
                continue
            self.b.figure(figure)
            name = "Shared (no entity)" if entity is None else self.ctx.entities[entity].name
            rows.append([name, *(months.get(m, Decimal(0)) for m in recent), figure.value, saved.get(entity)])
        columns = [
            ("Entity", ""),
            *((m, self.cur) for m in recent),
            ("Average", self.cur),
            ("Savings a month", self.cur),
        ]
        self.b.table("cloud-entities", "Cloud spend by entity (last 3 complete months)", columns, rows,
                     note="Shared costs are rows of the bill with no entity (no entity tag): not charged to any "
                     "business." if None in entity_months(self.ctx) else None)  # fmt: skip

    def by_service(self) -> None:
        """Spend per service over the last 3 complete months and its average (the service figures)."""
        recent = list(self.ctx.complete_months(3))
        per_service = service_months(self.ctx)
        rows: list[list[Any]] = []
        for service, months in per_service.items():
            if not any(m in months for m in recent):
                continue
            figure = self.cloud.figures.get(f"cloud.spend.service.{slug(service)}.monthly")
            average = None if figure is None else figure.value
            rows.append([service, *(months.get(m, Decimal(0)) for m in recent), average])
        rows.sort(key=lambda r: -(r[-1] or Decimal(0)))
        columns = [("Service", ""), *((m, self.cur) for m in recent), ("Average", self.cur)]
        self.b.table("cloud-services", "Cloud spend by service (last 3 complete months)", columns, rows)
        shown = sorted({m for per in per_service.values() for m in per})[-MONTHS_SHOWN:]
        ranked = sorted(per_service, key=lambda svc: -sum(per_service[svc].get(m, Decimal(0)) for m in shown))
        top, rest = ranked[:TOP_SERVICES], ranked[TOP_SERVICES:]
        series = [(svc, [per_service[svc].get(m, Decimal(0)) for m in shown]) for svc in top]
        if rest:
            series.append(("Other", [sum((per_service[s].get(m, Decimal(0)) for s in rest), Decimal(0))
                                     for m in shown]))  # fmt: skip
        self.b.chart("cloud-chart", "Cloud spend by service", "stacked-bar", self.cur, shown, series=series)

    # --- delivery -------------------------------------------------------------------------------------------
    def delivery(self) -> None:
        """No staging and manual deploys, quiet repositories, and handoffs with blockers."""
        findings = by_severity(f for f in self.security.findings if f.kind in DELIVERY_KINDS)
        if "delivery.findings.total" in self.security.figures:
            ids = ["delivery.findings.total", *(f"delivery.findings.{s}" for s in SEVERITY_ORDER)]
            self.b.figures_section("delivery-counts", "Delivery overview", [i for i in ids if i in
                                   self.security.figures and (i.endswith("total") or self.security.figures[i].value)],
                                   note="Delivery findings are about how changes reach production (no staging, "
                                   "manual deploys): process risks, not security gaps.")  # fmt: skip
            self.b.figures_from(self.security, "delivery.findings.")
        self.b.findings_section("delivery-findings", "Delivery findings (process, not security)", findings)
        if self.has_repos:
            stale = stale_repos(self.ctx)
            self.b.table(
                "stale-repos",
                f"Repositories with no commit in {STALE_REPO_DAYS} days",
                [("Entity", ""), ("Repository", ""), ("Last commit", "date"), ("Days since", "days")],
                [[a.entity or "", a.repo, a.last_commit.isoformat(), a.days] for a in stale],
            )
        self.blocked_handoffs()

    def blocked_handoffs(self) -> None:
        """Projects whose handoff lists blockers (CTO context)."""
        if self.ctx.manifest.handoffs is None:
            self.b.missing("handoff files (handoffs: in the manifest)", "project blockers in the CTO report")
            return
        rows = []
        for project, entity, status, updated, blockers in self.ctx.query(
            "SELECT project, entity, status, updated, blockers FROM handoffs ORDER BY project"
        ):
            items = _json_list(blockers)
            if items:
                rows.append([project, entity or "", status or "", updated.isoformat() if updated else "",
                             "; ".join(items)])  # fmt: skip
        self.b.table(
            "blockers",
            "Projects with blockers (handoffs)",
            [("Project", ""), ("Entity", ""), ("Status", ""), ("Updated", "date"), ("Blockers", "")],
            rows,
        )


def build(ctx: Context) -> Document:
    """Build the CTO report."""
    return _Cto(ctx).build()
