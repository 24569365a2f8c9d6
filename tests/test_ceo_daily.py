"""The CEO report and the daily digest: on the demo portfolio, "what changed", and the operations they read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis import operations
from execintel.analysis.context import Context
from execintel.analysis.lifecycle import History, PastRun, past_finding
from execintel.delivery.runs import report_record
from execintel.demo import demo_portfolio
from execintel.pipeline import previous_documents
from execintel.reports import Document, ceo, daily, dumps, loads
from execintel.store import RunRecord, Store, open_store
from execintel.store.records import findings_snapshot
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
    assert kinds["missing-billing-model"] == ["dangerouscentaur"]
    assert kinds["no-ota-listing"] == ["qosd"]
    assert len(kinds["empty-pipeline"]) == 7
    assert "quickdumpnow" in kinds["broken-funnel"]
    funnel = next(f for f in ceo_doc.findings if f.kind == "broken-funnel" and f.entity == "quickdumpnow")
    assert "1,021 leads and 5 bookings in all events up to 2026-11-15" in funnel.evidence
    assert kinds["unapproved-debt"] == ["qosd"]  # from finance
    assert "hardcoded-secret" in kinds  # a high or critical security finding
    # CONTRACT section 8: the CEO's actions are the portfolio's first 7; a high finding outside them (unsigned
    # equity, 8th or later) is in its area's report and in the list of further actions, not among the findings
    assert "unsigned-equity" not in kinds and "no-revenue-tracking" not in kinds
    more = _section(ceo_doc, "more-actions")["items"]
    assert any("Sign the equity agreements" in item for item in more)
    assert any("Keep a ledger for every active entity" in item for item in more)
    severities = [ceo_doc.findings[i].severity for i in _section(ceo_doc, "shortfalls")["findings"]]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)


def test_ceo_demo_headline_and_kpis(ceo_doc: Document) -> None:
    summary = " ".join(ceo_doc.summary)
    assert "$18,769.55" in summary and "128 days" in summary and "$4,376.61" in summary
    assert "This is the first recorded run of this portfolio: there is no earlier report to compare with." in summary
    assert "changes" not in [s["id"] for s in ceo_doc.sections]  # nothing to say what changed against
    missing = ceo_doc.figures["kpis.missing"].value
    unfit = ceo_doc.figures["kpis.not_applicable"].value
    assert isinstance(missing, list) and isinstance(unfit, list)
    # qosd sells charters: churn does not fit it (not "missing churn events"), NPS is computed
    assert any(m["id"] == "churn" and m["entity"] == "qosd" for m in unfit)
    assert not any(m["entity"] == "qosd" for m in missing)
    kpi_rows = _section(ceo_doc, "kpis")["rows"]
    # qosd: 2 charters completed in 2026-10 of 12 -> 16.7 %
    assert ["Charter utilisation", "QueenofSanDiego", "16.7%"] in kpi_rows
    assert ceo_doc.figures["kpi.burn_rate.portfolio"].value == ceo_doc.figures["burn.monthly.portfolio"].value
    # the scorecard: the 7 active entities and the portfolio, six KPIs each
    scorecard = _section(ceo_doc, "scorecard")
    assert [r["entity"] for r in scorecard["rows"]] == [*(r[0] for r in _section(ceo_doc, "inventory")["rows"]),
                                                        "portfolio"]  # fmt: skip
    assert {len(r["cells"]) for r in scorecard["rows"]} == {6}
    assert len(_section(ceo_doc, "kpi-gaps")["items"]) <= 7 + 1  # one line per entity, one for what does not fit


def test_ceo_demo_has_no_kpi_that_misleads(ceo_doc: Document) -> None:
    """NRR and month-over-month growth only where revenue recurs; churn with its period; NPS with its sample."""
    figures = ceo_doc.figures
    per_unit = ("qosd", "quickdumpnow", "yacht-delivery")  # per-unit businesses of the demo
    for entity in (*per_unit, "rental-3028", "dangerouscentaur"):
        assert f"kpi.nrr.{entity}" not in figures and f"kpi.churn.{entity}" not in figures
    for entity in (*per_unit, "dangerouscentaur", "portfolio"):
        assert f"kpi.revenue_growth_mom.{entity}" not in figures
    assert "kpi.nrr.dc-clients" in figures and "kpi.churn.jada" in figures
    rows = {(r[0], r[1]): r[2] for r in _section(ceo_doc, "kpis")["rows"]}
    assert rows[("Churn, last 12 months", "JADA")] == "48.3% over 12 months"
    # qosd's wedding segment: 3 responses (33.33 points) is flagged; its local segment has exactly 10
    assert rows[("NPS (wedding)", "QueenofSanDiego")].endswith("(3 responses: fewer than 10, too few to rely on)")
    assert rows[("NPS (local)", "QueenofSanDiego")].endswith("(10 responses)")
    # per-unit revenue of one month is not rated; JADA's is, against its 12 months' average month
    cells = {r["entity"]: r["cells"] for r in _section(ceo_doc, "scorecard")["rows"]}
    assert all(cells[e][0]["rating"] == "none" and "lumpy" in cells[e][0]["basis"] for e in per_unit)
    assert cells["jada"][0]["rating"] != "none"
    json.loads(ceo_doc.dumps())  # the document serialises


# --- what changed -------------------------------------------------------------------------------------------


def _small(write_portfolio: WritePortfolio) -> Context:
    entities = [
        {"id": "alpha", "name": "Alpha", "domains": ["alpha.example.com"], "revenue_model": "per_unit",
         "ledger": "data/alpha.csv", "pipeline": [{"name": "Deal", "value": 100}],
         "equity": [{"holder": "Partner", "percent": 10, "agreement": "unsigned"}]},
        {"id": "beta", "name": "Beta", "domains": ["beta.example.com"]},
    ]  # fmt: skip
    ledger = "date,account,amount\n2026-01-01,Equity:Opening-Balances,5000\n2026-09-03,Income:Sales,1000\n"
    return context(write_portfolio(base_manifest(entities=entities), {"data/alpha.csv": ledger}), as_of=AS_OF)


def _earlier(doc: dict[str, Any], as_of: str, report: str = "ceo") -> PastRun:
    """An earlier run that recorded ``doc`` (a report JSON) as the store keeps it."""
    recorded = findings_snapshot(doc["findings"])
    findings = {fid: past_finding(fid, item) for fid, item in recorded.items()}
    started = dt.datetime.fromisoformat(f"{as_of}T07:00:00+00:00")
    return PastRun("run-" + as_of, started, dt.date.fromisoformat(as_of), {report: findings})


def test_ceo_what_changed_since_a_previous_report(write_portfolio: WritePortfolio) -> None:
    ctx = _small(write_portfolio)
    current = loads(dumps(ceo.build(ctx).to_json()))
    assert current["figures"]["assets.entities"]["value"] == 2
    # The previous run: one entity and domain fewer, less cash, no beta findings, a finding since resolved, and
    # the unsigned equity then only medium.
    previous = loads(dumps(current))
    previous["findings"] = [f for f in previous["findings"] if f["entity"] != "beta"]
    equity = next(f for f in previous["findings"] if f["kind"] == "unsigned-equity")
    equity["severity"] = "medium"
    gone = {"id": "no-waf-000000000001", "kind": "no-waf", "severity": "high", "entity": "alpha",
            "title": "Alpha / site: CloudFront distribution without a web application firewall"}  # fmt: skip
    previous["findings"].append(gone)
    snapshot = {**{fid: f["value"] for fid, f in previous["figures"].items()},
                "assets.entities": 1, "assets.domains": 1, "cash.portfolio": "4200.5"}  # fmt: skip
    run = _earlier(previous, "2026-11-08")
    ctx.history = History([run], lambda run_id, report: snapshot if report == "ceo" else {})
    doc = ceo.build(ctx)
    items = _section(doc, "changes")["items"]
    assert _section(doc, "changes")["title"] == "What changed since 2026-11-08"
    assert "Active entities: 1 -> 2" in items
    assert "Active domains: 1 -> 2" in items
    # cash 4200.50 -> 6000 (5000 opening + 1000 income)
    assert any(i.endswith(": $4,200.50 -> $6,000.00") for i in items)
    # beta's findings were not in that run: new (and the status of the finding says so)
    assert "New: [MEDIUM] Beta has no open sales opportunities [beta]" in items
    assert next(f for f in doc.findings if f.entity == "beta" and f.kind == "empty-pipeline").status == "new"
    assert "Worsened: [HIGH] Partner holds 10% of Alpha without a signed agreement [alpha] (was medium)" in items
    assert next(f for f in doc.findings if f.kind == "unsigned-equity").status == "open"
    assert "Resolved: [HIGH] Alpha / site: CloudFront distribution without a web application firewall [alpha]" in items
    assert gone["id"] not in {f.id for f in doc.findings}  # resolved: listed there, never in findings
    # figures whose value did not change are not listed
    assert not any(i.startswith("Monthly burn") or i.startswith("Runway") for i in items)
    assert "What changed since the previous recorded report is listed under What changed." in doc.summary


def test_ceo_first_report_says_so(write_portfolio: WritePortfolio) -> None:
    doc = ceo.build(_small(write_portfolio))
    assert "changes" not in [s["id"] for s in doc.sections]
    assert any(line.startswith("This is the first recorded run") for line in doc.summary)
    assert {f.status for f in doc.findings} == {"new"}
    assert {f.first_seen for f in doc.findings} == {dt.date(2026, 11, 15)}


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
                 "findings": [{"id": "no-waf-0123456789ab", "kind": "no-waf", "severity": "high", "entity": "x",
                               "title": "Other's finding"}]}  # fmt: skip
        _record(store, out, "20261114T070000Z-cccc", "Other Holdings", other, started=t0 + dt.timedelta(days=6))
        # a run of this portfolio that started after this one (and this run itself) are not "earlier"
        _record(store, out, "20261120T070000Z-dddd", "Test Holdings", {**mine, "as_of": "2026-11-20"},
                started=t0 + dt.timedelta(days=12))  # fmt: skip
        previous = previous_documents(store, "Test Holdings", out, exclude="20261115T070000Z-eeee",
                                      before=t0 + dt.timedelta(days=7))  # fmt: skip
        assert previous("ceo") == kept
        assert previous("cfo") is None  # no run recorded that report
        assert [run.run_id for run in previous.history.runs] == ["20261101T070000Z-aaaa", "20261108T070000Z-bbbb"]
        ctx.history = previous.history
        doc = ceo.build(ctx)
        assert _section(doc, "changes")["title"] == "What changed since 2026-11-08"
        assert not any("Other's finding" in item for item in _section(doc, "changes")["items"])
        # every finding was in the previous run: open, first seen in the first run
        assert {(f.status, f.first_seen) for f in doc.findings} == {("open", dt.date(2026, 11, 1))}
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
    # entity names, not ids
    assert _section(daily_doc, "yesterday")["rows"] == [["DangerousCentaur Client Portfolio", "work", 2],
                                                        ["JADA", "login", 3]]  # fmt: skip
    cash_rows = _section(daily_doc, "cash-by-entity")["rows"]
    assert sum(row[1] for row in cash_rows) == daily_doc.figures["cash.portfolio"].value
    assert "JADA" in [row[0] for row in cash_rows] and "jada" not in [row[0] for row in cash_rows]
    alerts = _section(daily_doc, "alerts")
    assert alerts["kind"] == "table" and 0 < len(alerts["rows"]) <= 5
    assert all(row[1] in ("critical", "high") for row in alerts["rows"])
    assert "the most severe" in alerts["note"]
    # every alert is in the JSON (the next digest compares with them), not only the five shown
    alerting = [f for f in daily_doc.findings if f.kind != "stale-source"]  # stale sources: the freshness section's
    assert len(alerting) > 5 and all(f.severity in ("critical", "high") for f in alerting)
    # the first digest has nothing to compare with: nothing is marked new
    assert all(row[0] == "" for row in alerts["rows"])
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


def _digest_portfolio(write_portfolio: WritePortfolio) -> Context:
    """Two high alerts: Alpha's unsigned equity and Beta's debt the board has not approved."""
    books = {"revenue_model": "per_unit", "ledger": "ledger.csv"}
    entities = [
        {"id": "alpha", "name": "Alpha Charters", **books, "equity": [{"holder": "Partner", "percent": 10,
                                                                       "agreement": "unsigned"}]},
        {"id": "beta", "name": "Beta Rentals", **books, "debts": [{"lender": "Bank", "principal": 25000,
                                                                   "board_approved": False}]},
    ]  # fmt: skip
    manifest = base_manifest(entities=entities, policies={"debt_requires_board_approval": True})
    ledger = (
        "date,account,amount\n2026-01-01,Equity:Opening-Balances,5000\n2026-09-03,Income:Sales,1000\n"
        "2026-11-14,Income:Sales,10\n"
    )  # fresh: no stale-source finding
    return context(write_portfolio(manifest, {"ledger.csv": ledger}), as_of=AS_OF)


def test_daily_marks_what_is_new_since_the_previous_digest(write_portfolio: WritePortfolio) -> None:
    ctx = _digest_portfolio(write_portfolio)
    first = loads(dumps(daily.build(ctx).to_json()))
    assert {(f["kind"], f["entity"]) for f in first["findings"]} == {("unsigned-equity", "alpha"),
                                                                     ("unapproved-debt", "beta")}  # fmt: skip
    # yesterday's digest had only Alpha's unsigned equity: Beta's unapproved debt is new today
    yesterday_doc = {**first, "as_of": "2026-11-14",
                     "findings": [f for f in first["findings"] if f["kind"] == "unsigned-equity"]}  # fmt: skip
    ctx.previous = lambda report: yesterday_doc if report == "daily" else None
    doc = daily.build(ctx)
    alerts = _section(doc, "alerts")
    assert [(row[0], row[2]) for row in alerts["rows"]] == [("new", "Beta Rentals"), ("", "Alpha Charters")]
    assert [c["title"] for c in alerts["columns"]] == ["New", "Severity", "Entity", "Alert", "First seen"]
    assert "There are 2 critical and high alerts, 1 of them new since the previous digest." in doc.summary
    assert (doc.figures["daily.alerts.total"].value, doc.figures["daily.alerts.new"].value) == (2, 1)
    assert "New: not in the digest of 2026-11-14." in alerts["note"]
    # a digest written before findings had ids is compared by kind and entity
    legacy = {**yesterday_doc, "findings": [{k: v for k, v in f.items() if k != "id"}
                                            for f in yesterday_doc["findings"]]}  # fmt: skip
    ctx.previous = lambda report: legacy if report == "daily" else None
    assert [row[0] for row in _section(daily.build(ctx), "alerts")["rows"]] == ["new", ""]


def test_daily_uses_the_finding_status_when_the_store_set_it(write_portfolio: WritePortfolio) -> None:
    ctx = _digest_portfolio(write_portfolio)
    # the audit store's lifecycle (CONTRACT section 8) says Alpha's equity is new and Beta's debt open since 11-01
    for name in ("finance", "rules"):
        results = ctx.results(name)
        results.findings[:] = [
            dataclasses.replace(f, status="new" if f.kind == "unsigned-equity" else "open",
                                first_seen=dt.date(2026, 11, 15) if f.kind == "unsigned-equity" else dt.date(2026, 11, 1))
            for f in results.findings
        ]  # fmt: skip
    rows = _section(daily.build(ctx), "alerts")["rows"]
    assert [(row[0], row[2], row[4]) for row in rows] == [("new", "Alpha Charters", "2026-11-15"),
                                                          ("", "Beta Rentals", "2026-11-01")]  # fmt: skip
