"""Actions (CONTRACT section 8): one per remedy, owner, due date, impact, priority; the CEO's top 7; the manifest keys."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import RunOutput, WritePortfolio, base_manifest
from execintel.analysis.actions import REMEDIES, actions
from execintel.analysis.model import Finding
from execintel.config import load_portfolio
from execintel.config.areas import AREA_OF_KIND
from execintel.errors import ConfigError
from execintel.reports import accounting, ceo, cto
from helpers import context

AS_OF = "2026-11-15"
PEOPLE = [
    {"id": "casey", "name": "Casey", "email": "ceo@example.com", "roles": ["ceo"]},
    {"id": "taylor", "name": "Taylor", "email": "cto@example.com", "roles": ["cto"]},
    {"id": "frances", "name": "Frances", "email": "cfo@example.com", "roles": ["cfo", "admin"]},
]  # nobody holds cmo or accounting


def _stack_portfolio(write_portfolio: WritePortfolio, **overrides: Any) -> Path:
    entities = [
        {"id": "alpha", "name": "Alpha", "revenue_model": "per_unit",
         "stack": [{"name": "site", "components": ["cloudfront"], "waf": False, "deploy": "manual"}]},
        {"id": "beta", "name": "Beta", "revenue_model": "per_unit",
         "stack": [{"name": "api", "components": ["api-gateway"], "rate_limit": False, "deploy": "manual"}]},
        {"id": "gamma", "name": "Gamma", "revenue_model": "per_unit"},
    ]  # fmt: skip
    return write_portfolio(base_manifest(stakeholders=PEOPLE, entities=entities, **overrides))


def _by_id(document: Any) -> dict[str, Any]:
    return {a.id: a for a in document.actions}


def test_cto_actions_group_by_kind_with_owner_and_due(write_portfolio: WritePortfolio) -> None:
    doc = cto.build(context(_stack_portfolio(write_portfolio, owners={"no-rate-limit": "casey"}), as_of=AS_OF))
    got = [(a.id, a.priority, a.severity, a.owner, a.due.isoformat(), len(a.findings)) for a in doc.actions]
    assert got == [
        ("action-no-waf", 1, "high", "taylor", "2026-11-29", 1),  # security: the CTO; 2026-11-15 + 14 days
        ("action-no-rate-limit", 2, "medium", "casey", "2026-12-15", 1),  # owners: {no-rate-limit: casey}; + 30
        ("action-manual-deploy", 3, "low", "taylor", "2027-02-13", 2),  # stack: the CTO; + 90; both systems
    ]
    deploy = _by_id(doc)["action-manual-deploy"]
    assert deploy.title == "Deploy from CI instead of by hand (2 systems in 2 entities)"
    assert set(deploy.findings) == {f.id for f in doc.findings if f.kind == "manual-deploy"}
    assert doc.to_json()["actions"][0] == {
        "id": "action-no-waf", "title": "Put a web application firewall in front of CloudFront (Alpha)",
        "priority": 1, "severity": "high", "owner": "taylor", "due": "2026-11-29", "impact": None,
        "findings": [next(f.id for f in doc.findings if f.kind == "no-waf")],
    }  # fmt: skip


def test_policy_action_days_and_an_owner_by_area(write_portfolio: WritePortfolio) -> None:
    policies = {"action_days": {"high": 7, "low": 45}}
    path = _stack_portfolio(write_portfolio, policies=policies, owners={"stack": "frances"})
    doc = cto.build(context(path, as_of=AS_OF))
    due = {a.id: (a.due.isoformat(), a.owner) for a in doc.actions}
    assert due == {
        "action-no-waf": ("2026-11-22", "taylor"),  # high: 7 days; security is not the area overridden
        "action-no-rate-limit": ("2026-12-15", "taylor"),  # medium keeps its default, 30 days
        "action-manual-deploy": ("2026-12-30", "frances"),  # low: 45 days; owners: {stack: frances}
    }


def test_an_area_nobody_owns_has_a_null_owner(write_portfolio: WritePortfolio) -> None:
    # No stakeholder holds "accounting": the books' actions have no owner; a kind override names one.
    ledger = ("date,account,amount,receipt\n2026-11-01,Equity:Opening-Balances,5000,\n"
              "2026-11-09,Expenses:Software,-49.99,\n2026-11-10,Expenses:Hosting,-20.01,\n")  # fmt: skip
    entities = [{"id": "alpha", "name": "Alpha", "revenue_model": "per_unit", "ledger": "l.csv"}]
    path = write_portfolio(base_manifest(stakeholders=PEOPLE, entities=entities), {"l.csv": ledger})
    [receipts] = accounting.build(context(path, as_of=AS_OF)).actions
    assert (receipts.id, receipts.owner, receipts.severity) == ("action-missing-receipt", None, "low")
    assert receipts.to_json()["owner"] is None


def test_impact_sums_the_findings_money(write_portfolio: WritePortfolio) -> None:
    ledger = (
        "date,account,amount,service_date,receipt\n"
        "2026-01-01,Equity:Opening-Balances,10000,,\n"
        "2026-10-01,Income:Sales,500,2026-10-15,\n"  # earned before as_of
        "2026-11-01,Income:Sales,1200,2026-12-10,\n"  # deferred
        "2026-11-02,Income:Sales,300,2027-01-05,\n"  # deferred
        "2026-11-05,Expenses:Uncategorized,-2000,,r-1\n"
        "2026-11-10,Expenses:Software,-49.99,,\n"
        "2026-11-12,Expenses:Hosting,-20.01,,\n"
    )
    people = [*PEOPLE, {"id": "ana", "name": "Ana", "email": "books@example.com", "roles": ["accounting"]}]
    entities = [{"id": "alpha", "name": "Alpha", "revenue_model": "per_unit", "ledger": "l.csv"}]
    path = write_portfolio(base_manifest(stakeholders=people, entities=entities), {"l.csv": ledger})
    doc = accounting.build(context(path, as_of=AS_OF))
    got = [(a.id, a.severity, a.owner, a.impact.amount if a.impact else None, a.impact.unit if a.impact else None)
           for a in doc.actions]  # fmt: skip
    assert got == [
        ("action-uncategorized-expense", "medium", "ana", Decimal(2000), "USD"),  # medium, the larger impact
        ("action-deferred-revenue", "medium", "ana", Decimal(1500), "USD"),  # 1200 + 300 received for later
        ("action-missing-receipt", "low", "ana", Decimal("70.00"), "USD"),  # 49.99 + 20.01 without receipt
    ]
    deferred = _by_id(doc)["action-deferred-revenue"].impact
    assert deferred is not None and deferred.basis.startswith("revenue received for services not yet delivered")


def _f(kind: str, severity: Any, amount: str | None = None, entity: str = "alpha", n: int = 1) -> Finding:
    return Finding(kind, severity, f"{kind} {n}", entity, amount=None if amount is None else Decimal(amount),
                   subject=f"thing {n}")  # fmt: skip


def test_priority_is_severity_then_yearly_impact_then_kind(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest(stakeholders=PEOPLE)), as_of=AS_OF)
    findings = [
        _f("manual-deploy", "low"),
        _f("missing-receipt", "low", "400"),  # 400 once
        _f("cloud-savings", "low", "12.5", n=1), _f("cloud-savings", "low", "30", n=2),  # 42.50 a month = 510 a year
        _f("cloud-savings", "info", "2", n=3),  # info: a note, in no action
        _f("no-staging", "medium"), _f("empty-pipeline", "medium"),  # no impact: by kind
        _f("no-waf", "high"),
    ]  # fmt: skip
    got = actions(ctx, findings)
    assert [(a.priority, a.id) for a in got] == [
        (1, "action-no-waf"), (2, "action-empty-pipeline"), (3, "action-no-staging"),
        (4, "action-cloud-savings"), (5, "action-missing-receipt"), (6, "action-manual-deploy"),
    ]  # fmt: skip
    savings = got[3]
    assert savings.impact is not None and (savings.impact.amount, savings.impact.unit) == (Decimal("42.5"), "USD/month")
    assert len(savings.findings) == 2  # the info suggestion is not in it
    assert savings.title == "Apply the cloud savings suggestions (2 suggestions)"


def _top_portfolio(write_portfolio: WritePortfolio) -> Path:
    # alpha: burns 1,000 a month (Aug, Sep, Oct) from 10,000: cash 7,000 at as_of, runway floor(7000/1000*30) = 210
    # days, under the 400-day policy: cash needed 3000 * 400 / 90 - 7000 = 6,333.33...; a 25,000 unapproved loan.
    ledger = ("date,account,amount,receipt\n2026-06-01,Equity:Opening-Balances,10000,\n"
              "2026-08-15,Expenses:Rent,-1000,r1\n2026-09-15,Expenses:Rent,-1000,r2\n"
              "2026-10-15,Expenses:Rent,-1000,r3\n")  # fmt: skip
    entities = [
        {"id": "alpha", "name": "Alpha", "revenue_model": "per_unit", "ledger": "l.csv",
         "pipeline": [{"name": "Deal", "value": 100}],
         "equity": [{"holder": "Partner", "percent": 10, "agreement": "unsigned"}],
         "debts": [{"lender": "Bank", "principal": 25000, "board_approved": False}],
         "stack": [{"name": "site", "components": ["cloudfront", "api-gateway", "lambda"], "waf": False,
                    "auth": "none", "rate_limit": False, "environments": ["production"], "deploy": "manual"}],
         "channels": [{"name": "Sailo", "kind": "ota", "status": "planned"}]},
        {"id": "beta", "name": "Beta"},  # no ledger, no billing model, no pipeline
    ]  # fmt: skip
    manifest = base_manifest(stakeholders=PEOPLE, entities=entities, handoffs="handoffs",
                             policies={"min_runway_days": 400, "debt_requires_board_approval": True})  # fmt: skip
    handoff = "project: launch\nentity: beta\nstatus: blocked\nupdated: 2026-11-10\nblockers: [Money]\n"
    return write_portfolio(manifest, {"l.csv": ledger, "handoffs/launch.yaml": handoff})


def test_the_ceo_actions_are_the_portfolios_top_seven(write_portfolio: WritePortfolio) -> None:
    doc = ceo.build(context(_top_portfolio(write_portfolio), as_of=AS_OF))
    got = [(a.priority, a.id, a.severity, a.owner) for a in doc.actions]
    assert got == [
        (1, "action-unapproved-debt", "high", "frances"),  # impact 25,000
        (2, "action-runway-below-policy", "high", "frances"),  # impact 6,333.33
        (3, "action-missing-billing-model", "high", "casey"),  # then the high ones without impact, by kind
        (4, "action-no-revenue-tracking", "high", None),  # the books: nobody holds accounting
        (5, "action-no-waf", "high", "taylor"),
        (6, "action-project-blocked", "high", "casey"),
        (7, "action-unauthenticated-endpoint", "high", "taylor"),
    ]  # the 8th high action, unsigned equity, and the medium and low ones are in the area reports
    runway = doc.actions[1].impact
    assert runway is not None and runway.amount.quantize(Decimal("0.01")) == Decimal("6333.33")
    shown = {f.id: f for f in doc.findings}
    in_actions = [fid for a in doc.actions for fid in a.findings]
    assert len(in_actions) == len(set(in_actions)) and set(in_actions) <= set(shown)  # CEO shows those findings
    severe = [f for f in doc.findings if f.severity in ("critical", "high")]
    assert severe and all(f.id in in_actions for f in severe)  # every critical or high one is in an action
    assert "unsigned-equity" not in {f.kind for f in doc.findings}
    more = next(s for s in doc.sections if s["id"] == "more-actions")
    assert more["items"][0] == "[HIGH] Sign the equity agreements (Alpha): owner casey, due 2026-11-29"
    # the findings of every section point into the findings list after the top-7 rule dropped some
    for section in doc.sections:
        if section["kind"] == "findings":
            assert all(0 <= i < len(doc.findings) for i in section["findings"])


SEVERE = ("critical", "high")
DAYS = {"critical": 2, "high": 14, "medium": 30, "low": 90}


@pytest.mark.parametrize("report", ["ceo", "cto", "cfo", "cmo", "accounting", "property", "delivery-ops",
                                    "billing-audit", "daily"])  # fmt: skip
def test_every_demo_report_has_actions_by_the_contract(demo_run: RunOutput, report: str) -> None:
    document = demo_run.documents[report]
    found = {f["id"]: f for f in document["findings"]}
    listed = [fid for a in document["actions"] for fid in a["findings"]]
    assert len(listed) == len(set(listed)) and set(listed) <= set(found)  # one action each, of this report
    assert all(f["id"] in listed for f in found.values() if f["severity"] in SEVERE)
    assert [a["priority"] for a in document["actions"]] == list(range(1, len(document["actions"]) + 1))
    as_of = dt.date.fromisoformat(document["as_of"])
    for action in document["actions"]:
        assert set(action) == {"id", "title", "priority", "severity", "owner", "due", "impact", "findings"}
        assert action["due"] == (as_of + dt.timedelta(days=DAYS[action["severity"]])).isoformat()
        assert action["owner"] in (None, "ceo", "cto", "cfo", "cmo", "accounting")  # the demo's stakeholder ids
        if action["impact"] is not None:
            assert set(action["impact"]) == {"amount", "unit", "basis"}
    if report == "ceo":
        assert len(document["actions"]) == 7


def test_the_manifests_action_keys_are_checked(write_portfolio: WritePortfolio) -> None:
    manifest = base_manifest(owners={"no-wav": "casey", "security": "nobody", "marketting": "casey"},
                             policies={"action_days": {"info": 5, "high": -1}, "max_source_age_days": "week"})  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_portfolio(write_portfolio(manifest))
    found = [str(p) for p in info.value.problems]
    assert any("owners.no-wav: 'no-wav' is neither a finding kind nor an area (did you mean 'no-waf'?)" in p
               for p in found)  # fmt: skip
    assert any("owners.marketting: 'marketting' is neither a finding kind nor an area (did you mean 'marketing'?)"
               in p for p in found)  # fmt: skip
    assert any("owners.security: no stakeholder has id 'nobody'" in p for p in found)
    assert any("policies.action_days.info: unknown key" in p for p in found)
    assert any("policies.action_days.high: " in p and "-1" in p for p in found)
    assert any("policies.max_source_age_days: must be a whole number, not 'week'" in p for p in found)


def test_every_finding_kind_the_analyses_raise_has_an_area_and_a_remedy() -> None:
    # a kind missing from the tables would fall to the CEO with a title made from its first recommendation
    source = Path(__file__).resolve().parent.parent / "src" / "execintel" / "analysis"
    pattern = re.compile(r'Finding\(\s*(?:kind=)?"([a-z]+(?:-[a-z]+)+)"')
    kinds = {k for path in source.glob("*.py") for k in pattern.findall(path.read_text(encoding="utf-8"))}
    assert {"hardcoded-secret", "forecast-below-minimum", "low-dscr", "stale-source"} <= kinds  # the scan works
    assert sorted(kinds - set(AREA_OF_KIND)) == []
    assert sorted(kinds - set(REMEDIES)) == []
