"""The CEO report and the daily digest: on the demo portfolio, "what changed", and the operations they read."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis import operations
from execintel.analysis.context import Context
from execintel.delivery.runs import report_record
from execintel.demo import demo_portfolio
from execintel.pipeline import previous_documents
from execintel.reports import Document, ceo, daily, dumps, loads
from execintel.store import RunRecord, Store, open_store
from helpers import context

AS_OF = "2026-11-15"


@pytest.fixture(scope="module")
def demo() -> Context:
    """The demo portfolio's analysis context (analyses are shared by both reports)."""
    return context(demo_portfolio())


@pytest.fixture(scope="module")
def ceo_doc(demo: Context) -> Document:
    return ceo.build(demo)


@pytest.fixture(scope="module")
def daily_doc(demo: Context) -> Document:
    return daily.build(demo)


def _section(doc: Document, sid: str) -> dict[str, Any]:
    return next(s for s in doc.sections if s["id"] == sid)


def _kinds(doc: Document) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {}
    for finding in doc.findings:
        out.setdefault(finding.kind, []).append(finding.entity)
    return out


# --- CEO report on the demo ---------------------------------------------------------------------------------


def test_ceo_demo_asset_inventory(ceo_doc: Document) -> None:
    # 4 active domains, 7 active entities, 7 supporting infrastructure projects (docs/demo.md)
    assert ceo_doc.figures["assets.domains"].value == 4
    assert ceo_doc.figures["assets.entities"].value == 7
    assert ceo_doc.figures["assets.projects"].value == 7
    inventory = _section(ceo_doc, "inventory")
    assert [row[0] for row in inventory["rows"]] == ["jada", "qosd", "quickdumpnow", "dangerouscentaur",
                                                      "rental-3028", "yacht-delivery", "dc-clients"]  # fmt: skip
    assert [inventory["rows"][3][0], inventory["rows"][3][5]] == ["dangerouscentaur", "none"]
    assert len(_section(ceo_doc, "projects")["rows"]) == 7


def test_ceo_demo_shortfalls(ceo_doc: Document) -> None:
    kinds = _kinds(ceo_doc)
    assert kinds["unsigned-equity"] == ["qosd"]
    assert kinds["no-revenue-tracking"] == ["dangerouscentaur"]
    assert kinds["missing-billing-model"] == ["dangerouscentaur"]
    assert kinds["no-ota-listing"] == ["qosd"]
    assert len(kinds["empty-pipeline"]) == 7
    assert "quickdumpnow" in kinds["broken-funnel"]
    funnel = next(f for f in ceo_doc.findings if f.kind == "broken-funnel" and f.entity == "quickdumpnow")
    assert "1,021 leads and 5 bookings in all events up to 2026-11-15" in funnel.evidence
    assert kinds["unapproved-debt"] == ["qosd"]  # from finance
    assert "hardcoded-secret" in kinds  # a high or critical security finding
    severities = [ceo_doc.findings[i].severity for i in _section(ceo_doc, "shortfalls")["findings"]]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)


def test_ceo_demo_headline_and_kpis(ceo_doc: Document) -> None:
    summary = " ".join(ceo_doc.summary)
    assert "$18,769.55" in summary and "128 days" in summary and "$4,376.61" in summary
    assert "This is the first recorded run of this portfolio: there is no earlier report to compare with." in summary
    assert "changes" not in [s["id"] for s in ceo_doc.sections]  # nothing to say what changed against
    missing = ceo_doc.figures["kpis.missing"].value
    assert isinstance(missing, list) and {"id": "churn", "entity": "qosd", "needs": "churn events"} in missing
    kpi_rows = _section(ceo_doc, "kpis")["rows"]
    # every KPI x active entity has a row, with a value or what is missing
    assert len({(r[0], r[1]) for r in kpi_rows if not r[0].startswith("NPS (")}) == 11 * 7 + 4  # + 4 portfolio rows
    assert ["NPS by segment", "jada", "missing: needs nps events (score 0-10) in the last 12 months"] in kpi_rows
    # qosd: 2 charters completed in 2026-10 of 12 -> 16.7 %
    assert ["Unit utilisation", "qosd", "16.7%"] in kpi_rows
    assert ceo_doc.figures["kpi.burn_rate.portfolio"].value == ceo_doc.figures["burn.monthly.portfolio"].value
    json.loads(ceo_doc.dumps())  # the document serialises


# --- what changed -------------------------------------------------------------------------------------------


def _small(write_portfolio: WritePortfolio) -> Context:
    entities = [
        {"id": "alpha", "name": "Alpha", "domains": ["alpha.example.com"], "revenue_model": "per_unit",
         "ledger": "data/alpha.csv", "pipeline": [{"name": "Deal", "value": 100}]},
        {"id": "beta", "name": "Beta", "domains": ["beta.example.com"]},
    ]  # fmt: skip
    ledger = "date,account,amount\n2026-01-01,Equity:Opening-Balances,5000\n2026-09-03,Income:Sales,1000\n"
    return context(write_portfolio(base_manifest(entities=entities), {"data/alpha.csv": ledger}), as_of=AS_OF)


def test_ceo_what_changed_since_a_previous_report(write_portfolio: WritePortfolio) -> None:
    ctx = _small(write_portfolio)
    current = loads(dumps(ceo.build(ctx).to_json()))
    assert current["figures"]["assets.entities"]["value"] == 2
    # The previous report: one entity fewer, one domain fewer, a finding since resolved, and no beta findings.
    previous = loads(dumps(current))
    previous["as_of"] = "2026-11-08"
    previous["figures"]["assets.entities"]["value"] = 1
    previous["figures"]["assets.domains"]["value"] = 1
    previous["figures"]["cash.portfolio"]["value"] = Decimal("4200.5")
    previous["findings"] = [f for f in previous["findings"] if f["entity"] != "beta" or f["kind"] != "empty-pipeline"]
    previous["findings"].append({"kind": "unsigned-equity", "severity": "high", "entity": "alpha",
                                 "title": "Partner holds 10% of Alpha without a signed agreement", "evidence": []})  # fmt: skip
    ctx.previous = lambda report: previous if report == "ceo" else None
    doc = ceo.build(ctx)
    items = _section(doc, "changes")["items"]
    assert _section(doc, "changes")["title"] == "What changed since 2026-11-08"
    assert "Active entities: 1 -> 2" in items
    assert "Active domains: 1 -> 2" in items
    # cash 4200.50 -> 6000 (5000 opening + 1000 income)
    assert any(i.endswith(": $4,200.50 -> $6,000.00") for i in items)
    assert "New: [MEDIUM] Beta has no open sales opportunities [beta]" in items
    assert "Resolved: [HIGH] Partner holds 10% of Alpha without a signed agreement [alpha]" in items
    # figures whose value did not change are not listed
    assert not any(i.startswith("Burn rate") for i in items)
    assert "What changed since the previous recorded report is listed under What changed." in doc.summary


def test_ceo_first_report_says_so(write_portfolio: WritePortfolio) -> None:
    doc = ceo.build(_small(write_portfolio))
    assert "changes" not in [s["id"] for s in doc.sections]
    assert any(line.startswith("This is the first recorded run") for line in doc.summary)


def _record(store: Store, out: Path, run_id: str, portfolio: str, document: dict[str, Any], *,
            started: dt.datetime, dry_run: bool = True) -> Path:  # fmt: skip
    """A run of ``portfolio`` in the store that wrote and recorded ``document`` (as ``execintel run`` does)."""
    store.start_run(RunRecord(run_id=run_id, portfolio=portfolio, trigger="test", schedule_id=None,
                              period="2026-11-08", started=started, dry_run=dry_run))  # fmt: skip
    path = out / run_id / f"{document['report']}.json"
    path.parent.mkdir(parents=True)
    text = dumps(document) + "\n"
    path.write_text(text, encoding="utf-8")
    store.record_report(report_record(run_id, "2026-11-08", document, text, started))
    store.finish_run(run_id, "ok", {})
    return path


def test_the_previous_report_is_the_same_portfolios_recorded_one(write_portfolio: WritePortfolio,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    """From the store: never another portfolio's run in the same out/, never a file changed since it was recorded."""
    ctx = _small(write_portfolio)
    mine = loads(dumps(ceo.build(ctx).to_json()))
    out = tmp_path / "out"
    t0 = dt.datetime(2026, 11, 8, 7, tzinfo=dt.UTC)
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        older = {**mine, "as_of": "2026-11-01"}
        _record(store, out, "20261101T070000Z-aaaa", "Test Holdings", older, started=t0 - dt.timedelta(days=7))
        kept = {**mine, "as_of": "2026-11-08"}
        kept_path = _record(store, out, "20261108T070000Z-bbbb", "Test Holdings", kept, started=t0, dry_run=False)
        other = {**mine, "portfolio": "Other Holdings", "as_of": "2026-11-14",
                 "findings": [{"kind": "no-waf", "severity": "high", "entity": "x", "title": "Other's finding"}]}  # fmt: skip
        _record(store, out, "20261114T070000Z-cccc", "Other Holdings", other, started=t0 + dt.timedelta(days=6))
        # a run of this portfolio that started after this one (and this run itself) are not "earlier"
        _record(store, out, "20261120T070000Z-dddd", "Test Holdings", {**mine, "as_of": "2026-11-20"},
                started=t0 + dt.timedelta(days=12))  # fmt: skip
        previous = previous_documents(store, "Test Holdings", out, exclude="20261115T070000Z-eeee",
                                      before=t0 + dt.timedelta(days=7))  # fmt: skip
        assert previous("ceo") == kept
        assert previous("cfo") is None  # no run recorded that report
        ctx.previous = previous
        doc = ceo.build(ctx)
        assert _section(doc, "changes")["title"] == "What changed since 2026-11-08"
        assert not any("Other's finding" in item for item in _section(doc, "changes")["items"])
        # the newest recorded file was changed after it was recorded: the one before it is the previous report
        kept_path.write_text(kept_path.read_text(encoding="utf-8").replace("2026-11-08", "2026-11-09"))
        again = previous_documents(store, "Test Holdings", out, exclude="x", before=t0 + dt.timedelta(days=7))
        assert again("ceo") == older
    # no store: no previous report, whatever out/ holds
    assert previous_documents(None, "Test Holdings", out, exclude="x")("ceo") is None


# --- daily digest ---------------------------------------------------------------------------------------------


def test_daily_demo(daily_doc: Document) -> None:
    summary = " ".join(daily_doc.summary)
    assert "Cash on hand is $18,769.55" in summary
    assert "Runway is 128 days, above the policy minimum of 90 days" in summary
    assert "Yesterday brought 5 events." in summary
    assert _section(daily_doc, "yesterday")["rows"] == [["dc-clients", "work", 2], ["jada", "login", 3]]
    cash_rows = _section(daily_doc, "cash-by-entity")["rows"]
    assert sum(row[1] for row in cash_rows) == daily_doc.figures["cash.portfolio"].value
    alerts = _section(daily_doc, "alerts")
    assert 0 < len(alerts["findings"]) <= 5
    assert all(daily_doc.findings[i].severity in ("critical", "high") for i in alerts["findings"])
    assert "most severe are shown" in alerts["note"]
    # handoffs updated 2026-11-09..2026-11-15: exec-reports (11-12) and shipcaptaincrew (11-10)
    assert [row[0] for row in _section(daily_doc, "handoffs")["rows"]] == ["exec-reports", "shipcaptaincrew"]


def test_yesterday_is_the_utc_day_before_as_of(write_portfolio: WritePortfolio) -> None:
    lines = [
        {"ts": "2026-11-13T23:59:59Z", "entity": "qosd", "type": "lead"},  # the day before yesterday
        {"ts": "2026-11-14T00:00:00Z", "entity": "qosd", "type": "lead"},
        {"ts": "2026-11-14T23:30:00Z", "entity": "qosd", "type": "lead"},
        {"ts": "2026-11-14T12:00:00Z", "entity": "qosd", "type": "booking", "customer": "c1"},
        {"ts": "2026-11-15T00:10:00Z", "entity": "qosd", "type": "lead"},  # today
    ]
    manifest = base_manifest(entities=[{"id": "qosd", "name": "Charters", "events": "e.jsonl"}])
    ctx = context(write_portfolio(manifest, {"e.jsonl": "\n".join(json.dumps(e) for e in lines)}), as_of=AS_OF)
    assert operations.yesterday(ctx) == [operations.Activity("qosd", "booking", 1),
                                         operations.Activity("qosd", "lead", 2)]  # fmt: skip
    assert operations.analyze(ctx).figures["activity.yesterday"].value == 3
    assert operations.analyze(ctx).figures["data.latest.events"].value == "2026-11-15"


def test_projects_and_recent_updates(write_portfolio: WritePortfolio) -> None:
    files: dict[str, str | bytes] = {
        "handoffs/a.yaml": "project: a\nstatus: on-track\nupdated: 2026-11-08\nnext_steps: [Ship]\n",  # 7 days: out
        "handoffs/b.yaml": "project: b\nstatus: blocked\nupdated: 2026-11-09\nblockers: [Money]\n",
        "handoffs/c.yaml": "project: c\nstatus: at-risk\nupdated: 2026-11-15\n",
    }
    ctx = context(write_portfolio(base_manifest(handoffs="handoffs"), files), as_of=AS_OF)
    assert [p.project for p in operations.projects(ctx)] == ["b", "c", "a"]  # blocked, at-risk, on-track
    assert [p.project for p in operations.recently_updated(ctx)] == ["c", "b"]
    figures = operations.analyze(ctx).figures
    assert [figures[f"projects.{s}"].value for s in operations.STATUSES] == [1, 1, 1]
    assert operations.projects(ctx)[0].blockers == ("Money",)
    assert ctx.as_of == dt.date(2026, 11, 15)
