"""The CTO report: stack inventory, security findings, cloud spend and savings, and delivery bottlenecks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from execintel.analysis.cloud import RULES, service_months, slug
from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Results
from execintel.analysis.security import STALE_REPO_DAYS, by_severity, stale_repos
from execintel.reports.document import Document, DocumentBuilder
from execintel.reports.format import show_figure
from execintel.reports.summary import trend

TITLE = "CTO report"
SECURITY_KINDS = (
    "hardcoded-secret",
    "secret-in-history",
    "env-file-committed",
    "unauthenticated-endpoint",
    "no-waf",
    "no-rate-limit",
)
DELIVERY_KINDS = ("no-staging", "manual-deploy")
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
        self.security: Results = ctx.results("security")
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
            "security.findings.critical", "security.findings.high",
        )])  # fmt: skip
        spend, savings = known.get("cloud.spend.monthly"), known.get("cloud.savings.monthly")
        before = b.compared("cloud.spend.monthly", "previous")
        b.narrative("Cloud spend averages {spend} a month over the last three complete months, " + trend(spend, before)
                    + " {before} over the three months before.", spend=spend, before=before) or b.narrative(
            "Cloud spend averages {spend} a month over the last three complete months.", spend=spend)  # fmt: skip
        b.narrative("The savings suggestions below are worth about {savings} a month.", savings=savings)
        total, critical, high = (known.get(f"security.findings.{k}") for k in ("total", "critical", "high"))
        b.narrative("The scans and the stack declarations raise {total} findings, {critical} critical and {high} "
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
        self.b.figures_section("security-counts", "Security overview", ids, note=note)
        findings = by_severity(f for f in self.security.findings if f.kind in SECURITY_KINDS)
        self.b.findings_section("security-findings", "Security findings", findings)

    # --- cloud ----------------------------------------------------------------------------------------------
    def cloud_section(self) -> None:
        """Average, trend and savings; spend by month; spend by service; savings findings."""
        figures = self.cloud.figures
        if not figures:
            self.b.missing("cloud costs (cloud_costs in the manifest)", "cloud spend, trend and savings")
            self.b.text("cloud", "Cloud cost", [], note="No cloud cost data up to the report date.")
            return
        ids = ["cloud.spend.monthly", "cloud.spend.monthly.previous", "cloud.spend.trend", "cloud.savings.monthly"]
        note = None
        if "cloud.spend.monthly" not in figures:
            months = ", ".join(self.ctx.complete_months(3))
            note = f"No cloud cost rows for {months}, so there is no 3-month average, trend or savings estimate."
        self.b.figures_section("cloud-overview", "Cloud cost", ids, note=note)
        month_ids = sorted(f for f in figures if f.startswith("cloud.spend.month."))[-MONTHS_SHOWN:]
        self.b.table(
            "cloud-months",
            "Cloud spend by month",
            [("Month", ""), ("Spend", self.cur)],
            [[fid.removeprefix("cloud.spend.month."), figures[fid].value] for fid in month_ids],
        )
        self.by_service()
        savings = sorted(
            (f for f in self.cloud.findings if f.kind == "cloud-savings"), key=lambda f: -(f.amount or Decimal(0))
        )
        rules = "; ".join(f"{r.id}: {r.estimate}" for r in RULES)
        self.b.findings_section(
            "cloud-savings", "Savings", savings, note=f"Estimates by rule ({rules}). Each is a share of billed spend."
        )

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
        self.b.findings_section("delivery-findings", "Delivery bottlenecks", findings)
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
