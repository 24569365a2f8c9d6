"""The CEO's declared rules: asset counts and each shortfall/risk rule, on small hand-made portfolios."""

from __future__ import annotations

import json
from typing import Any

from conftest import WritePortfolio, base_manifest
from execintel.analysis import rules
from execintel.analysis.model import Finding
from helpers import context

AS_OF = "2026-11-15"  # the 12-month window is 2025-11-15 < date <= 2026-11-15


def _events(entity: str, kind: str, count: int, day: str) -> list[str]:
    return [json.dumps({"ts": f"{day}T12:00:00Z", "entity": entity, "type": kind, "customer": f"{entity}-{kind}-{i}"})
            for i in range(count)]  # fmt: skip


def _portfolio() -> tuple[dict[str, Any], dict[str, str | bytes]]:
    entities = [
        {
            "id": "alpha",
            "name": "Alpha",
            "status": "active",
            "domains": ["Alpha.example.com", "alpha.example.com"],
            "revenue_model": "per_unit",
            "ledger": "data/alpha.csv",
            "events": "data/alpha.jsonl",
            "equity": [
                {"holder": "Founder", "percent": 90, "agreement": "signed"},
                {"holder": "Partner", "percent": 10, "agreement": "unsigned"},
            ],
            "pipeline": [{"name": "Retreat", "value": 1000}],
            "channels": [{"name": "OTA one", "kind": "ota", "status": "planned"},
                         {"name": "OTA two", "kind": "ota", "status": "live"}],
        },
        {
            "id": "beta",
            "name": "Beta",
            "status": "active",
            "domains": ["beta.example.com", "ALPHA.example.com"],
            "events": "data/beta.jsonl",
            "channels": [{"name": "Sailo", "kind": "ota", "status": "planned"},
                         {"name": "Email", "kind": "email", "status": "live"}],
        },
        {
            "id": "gamma",
            "name": "Gamma",
            "status": "paused",
            "domains": ["gamma.example.com"],
            "revenue_model": "none",
            "events": "data/gamma.jsonl",
        },
    ]  # fmt: skip
    files: dict[str, str | bytes] = {
        "data/alpha.csv": "date,account,amount\n2026-01-02,Income:Sales,100\n",
        # alpha: 50 leads, 1 booking in the window = exactly 2 % -> not broken
        "data/alpha.jsonl": "\n".join(_events("alpha", "lead", 50, "2026-03-01") + _events("alpha", "booking", 1, "2026-03-02")),
        # beta: 60 leads, 1 booking = 1.67 % -> broken; 5 old bookings before the window do not count
        "data/beta.jsonl": "\n".join(
            _events("beta", "lead", 60, "2026-06-01") + _events("beta", "booking", 1, "2026-06-02")
            + _events("beta", "booking", 5, "2025-06-01")
        ),
        # gamma: 49 leads in the window (+20 before it), no bookings -> below the 50-lead threshold
        "data/gamma.jsonl": "\n".join(_events("gamma", "lead", 49, "2026-02-01") + _events("gamma", "lead", 20, "2025-01-01")),
        "handoffs/funnel.yaml": "project: funnel\nentity: beta\nstatus: blocked\nupdated: 2026-10-01\n"
                                "blockers: [No one calls leads back]\nrisks: [Leads go cold]\n",
        "handoffs/site.yaml": "project: site\nentity: alpha\nstatus: at-risk\nupdated: 2026-11-01\nrisks: [No staging]\n",
        "handoffs/books.yaml": "project: books\nstatus: on-track\nupdated: 2026-11-10\n",
    }  # fmt: skip
    return base_manifest(entities=entities, handoffs="handoffs"), files


def _by_kind(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def test_asset_figures(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(*_portfolio()), as_of=AS_OF)
    results = rules.analyze(ctx)
    # active: alpha, beta (gamma is paused)
    assert results.figures["assets.entities"].value == 2
    # alpha.example.com (3 spellings, case-insensitive) + beta.example.com; gamma's domain is not active
    assert results.figures["assets.domains"].value == 2
    assert results.figures["assets.projects"].value == 3
    assert results.figures["assets.domains"].sources == ("portfolio.yaml:entities[0].domains",
                                                         "portfolio.yaml:entities[1].domains")  # fmt: skip


def test_each_rule_fires_on_its_condition_only(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(*_portfolio()), as_of=AS_OF)
    findings = rules.analyze(ctx).findings

    (equity,) = _by_kind(findings, "unsigned-equity")
    assert (equity.entity, equity.severity) == ("alpha", "high")
    assert "Partner" in equity.title and "10" in equity.title
    assert equity.evidence == ("portfolio.yaml:entities[0].equity[1]: agreement: unsigned",)

    # beta has no ledger and no rows elsewhere; gamma has none either but is paused
    assert [f.entity for f in _by_kind(findings, "no-revenue-tracking")] == ["beta"]
    # beta gives no revenue_model; gamma says none but is paused
    assert [f.entity for f in _by_kind(findings, "missing-billing-model")] == ["beta"]
    (pipeline,) = _by_kind(findings, "empty-pipeline")
    assert (pipeline.entity, pipeline.severity) == ("beta", "medium")
    # alpha has one live OTA; beta's only OTA is planned
    (ota,) = _by_kind(findings, "no-ota-listing")
    assert ota.entity == "beta" and "Sailo (planned)" in ota.evidence[0]

    (funnel,) = _by_kind(findings, "broken-funnel")
    assert funnel.entity == "beta"
    assert funnel.evidence[0] == "60 leads and 1 bookings in the 12 months ending 2026-11-15"
    assert funnel.evidence[1] == "60 leads and 6 bookings in all events up to 2026-11-15"
    assert "1.7%" in funnel.title  # 1 / 60 = 1.67 %

    (blocked,) = _by_kind(findings, "project-blocked")
    assert (blocked.entity, blocked.severity, blocked.file) == ("beta", "high", "handoffs/funnel.yaml")
    assert "blocker: No one calls leads back" in blocked.evidence and "risk: Leads go cold" in blocked.evidence
    (at_risk,) = _by_kind(findings, "project-at-risk")
    assert (at_risk.entity, at_risk.severity) == ("alpha", "medium")
    assert "risk: No staging" in at_risk.evidence


def test_rows_in_a_portfolio_ledger_count_as_revenue_tracking(write_portfolio: WritePortfolio) -> None:
    entities = [{"id": "alpha", "name": "Alpha", "revenue_model": "retainer"},
                {"id": "beta", "name": "Beta", "revenue_model": "retainer"}]  # fmt: skip
    manifest = base_manifest(entities=entities, ledger="data/ledger.csv")
    ledger = "date,entity,account,amount\n2026-01-02,alpha,Income:Fees,100\n2026-12-01,beta,Income:Fees,50\n"
    ctx = context(write_portfolio(manifest, {"data/ledger.csv": ledger}), as_of=AS_OF)
    findings = _by_kind(rules.analyze(ctx).findings, "no-revenue-tracking")
    # beta's only row is dated after as_of, so as of 2026-11-15 nothing tracks it
    assert [f.entity for f in findings] == ["beta"]
    assert "no rows in the portfolio-wide ledger for beta" in findings[0].evidence


def test_rules_are_declared_for_the_docs() -> None:
    kinds = [r.kind for r in rules.RULES]
    assert kinds == ["unsigned-equity", "no-revenue-tracking", "missing-billing-model", "empty-pipeline",
                     "no-ota-listing", "broken-funnel", "project-blocked", "project-at-risk"]  # fmt: skip
    assert all(r.description and r.severity in ("critical", "high", "medium", "low", "info") for r in rules.RULES)


def test_no_handoffs_means_no_project_figure(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of=AS_OF)
    results = rules.analyze(ctx)
    assert "assets.projects" not in results.figures
    assert results.figures["assets.entities"].value == 1
    assert results.figures["assets.domains"].value == 0
