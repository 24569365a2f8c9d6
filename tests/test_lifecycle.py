"""The findings lifecycle (CONTRACT section 8): stable ids, first_seen and status from the audit store's earlier runs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import RunOutput, WritePortfolio, base_manifest, cli, dry_run
from execintel.analysis import security
from execintel.analysis.lifecycle import History, PastFinding, PastRun
from execintel.analysis.model import Finding, Results
from execintel.config.settings import Settings
from execintel.pipeline import load_history
from execintel.store import open_store
from helpers import context

DAY = dt.date.fromisoformat


def _run(run_id: str, started: str, as_of: str, reports: dict[str, dict[str, str]]) -> PastRun:
    """An earlier run: report id -> finding id -> severity."""
    moment = dt.datetime.fromisoformat(f"{started}T07:00:00+00:00")
    return PastRun(
        run_id, moment, DAY(as_of), {r: {i: PastFinding(i, s) for i, s in f.items()} for r, f in reports.items()}
    )


# --- the rules, on a history made by hand -------------------------------------------------------------------------


def test_first_seen_and_status_over_three_runs() -> None:
    # x: reported in run 1, gone in run 2, back now; y: in every run; z: only in a run that built the CTO report.
    history = History([
        _run("r2", "2026-10-31", "2026-10-31", {"ceo": {"y-1": "medium"}}),
        _run("r1", "2026-09-30", "2026-09-30", {"ceo": {"x-1": "high", "y-1": "medium"}}),
        _run("r2b", "2026-11-05", "2026-11-05", {"cto": {"z-1": "low"}}),
    ])  # fmt: skip
    assert [r.run_id for r in history.runs] == ["r1", "r2", "r2b"]  # by start, whatever order they came in
    now = DAY("2026-11-30")
    # first_seen: the as_of of the earliest earlier run that reported the id (in any report)
    assert history.first_seen("x-1", now) == DAY("2026-09-30")
    assert history.first_seen("y-1", now) == DAY("2026-09-30")
    assert history.first_seen("z-1", now) == DAY("2026-11-05")
    assert history.first_seen("w-1", now) == now  # never reported: this run's as_of
    # status: against the latest earlier run that recorded the report (r2 for the CEO report, r2b for the CTO's)
    assert history.status("ceo", "x-1") == "new"  # disappeared in r2 and came back: new again, first seen r1
    assert history.status("ceo", "y-1") == "open"
    assert history.status("ceo", "z-1") == "new"  # r2, the CEO's previous run, did not report it
    assert history.status("cto", "z-1") == "open"
    assert history.status("cmo", "y-1") == "new"  # no earlier run built the CMO report
    assert history.previous_run("ceo") is history.runs[1] and history.previous_run("cmo") is None


def test_an_older_period_run_later_is_never_first_seen_after_its_as_of() -> None:
    history = History([_run("r1", "2026-11-20", "2026-11-15", {"ceo": {"x-1": "high"}})])
    assert history.first_seen("x-1", DAY("2026-10-31")) == DAY("2026-10-31")
    assert history.first_seen("x-1", DAY("2026-11-30")) == DAY("2026-11-15")


def test_without_earlier_runs_everything_is_new_and_first_seen_now() -> None:
    finding = Finding("no-waf", "high", "t", "qosd", subject="stack site")
    [annotated] = History().annotate("cto", [finding], DAY("2026-11-15"))
    assert (annotated.status, annotated.first_seen, annotated.id) == ("new", DAY("2026-11-15"), finding.id)
    assert annotated.to_json()["first_seen"] == "2026-11-15" and annotated.to_json()["status"] == "new"


# --- stable ids ---------------------------------------------------------------------------------------------------


def test_an_id_is_kind_entity_and_subject_only() -> None:
    a = Finding("missing-receipt", "low", "No receipt for $12.00 on 2026-11-01", "qosd", amount=Decimal(12),
                file="l.csv", line=7, subject="row l.csv:7")  # fmt: skip
    b = Finding("missing-receipt", "medium", "another title", "qosd", amount=Decimal(99), subject="row l.csv:7")
    assert a.id == b.id and a.id.startswith("missing-receipt-") and len(a.id) == len("missing-receipt-") + 12
    assert a.id != Finding("missing-receipt", "low", "t", "jada", subject="row l.csv:7").id  # another entity
    assert a.id != Finding("uncategorized-expense", "low", "t", "qosd", subject="row l.csv:7").id  # another kind


def test_two_things_named_alike_keep_apart_ids_in_every_run(write_portfolio: WritePortfolio) -> None:
    item = {"name": "site", "components": ["cloudfront"], "waf": False}
    manifest = base_manifest(entities=[{"id": "qosd", "name": "Q", "stack": [item, item]}])
    path = write_portfolio(manifest)
    ids = [[f.id for f in security.analyze(context(path, as_of=d)).findings] for d in ("2026-10-01", "2026-11-15")]
    assert len(ids[0]) == 2 and len(set(ids[0])) == 2  # two stack items of one name: two ids
    assert ids[0] == ids[1]  # the same two in another run
    results = Results()
    twin = Finding("no-waf", "high", "t", "qosd", subject="stack site")
    assert results.find(twin).id == twin.id and results.find(twin).id != twin.id  # the second gets its own id


def _by_title(document: dict[str, Any]) -> dict[tuple[str, str | None, str], str]:
    return {(f["kind"], f["entity"], f["title"]): f["id"] for f in document["findings"]}


def test_demo_ids_are_unique_per_report_and_do_not_move_with_as_of(demo_run: RunOutput, tmp_path: Path) -> None:
    other = dry_run(tmp_path / "earlier", "--as-of", "2026-10-20", "--no-pdf")
    for run in (demo_run, other):
        for report, document in run.documents.items():
            counts = Counter(f["id"] for f in document["findings"])
            assert [i for i, n in counts.items() if n > 1] == [], report
            assert all(f.get("status") == "new" for f in document["findings"]), report  # each a first run
    compared = 0
    for report, now in demo_run.documents.items():
        before = other.documents[report]
        same = _by_title(now).keys() & _by_title(before).keys()  # the same condition, word for word, on both dates
        assert all(_by_title(now)[k] == _by_title(before)[k] for k in same), report
        compared += len(same)
    assert compared > 100  # most of the demo's conditions hold on both dates
    # a condition whose amount moves with as_of keeps its id: deferred revenue of one entity on both dates
    deferred = [{f["entity"]: (f["id"], f["amount"]) for f in run.documents["accounting"]["findings"]
                 if f["kind"] == "deferred-revenue"} for run in (demo_run, other)]  # fmt: skip
    common = deferred[0].keys() & deferred[1].keys()
    assert common and all(deferred[0][e][0] == deferred[1][e][0] for e in common)
    assert any(deferred[0][e][1] != deferred[1][e][1] for e in common)


# --- first_seen and status through the CLI, from the store alone ---------------------------------------------------


def _portfolio(root: Path, pipeline: list[dict[str, Any]]) -> Path:
    manifest = base_manifest(
        stakeholders=[{"id": "casey", "name": "Casey", "email": "ceo@example.com", "roles": ["ceo", "cto"]}],
        entities=[{"id": "alpha", "name": "Alpha", "revenue_model": "per_unit", "ledger": "ledger.csv",
                   "pipeline": pipeline,
                   "stack": [{"name": "site", "components": ["cloudfront"], "waf": False}]}],
    )  # fmt: skip
    del manifest["portfolio"]["as_of"]
    root.mkdir(exist_ok=True)
    (root / "ledger.csv").write_text("date,account,amount\n2026-09-01,Equity:Opening-Balances,5000\n", "utf-8")
    (root / "portfolio.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), "utf-8")
    return root


def _run_cli(folder: Path, as_of: str, *reports: str) -> dict[str, Any]:
    """A dry run of the portfolio in ``folder/p``; out/ is deleted afterwards: only the store remembers it."""
    done = cli("run", "--dry-run", "p", "--out", "out", "--as-of", as_of, "--no-pdf", "--reports",
               ",".join(reports or ("ceo", "cto")), cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [run_dir] = (folder / "out").iterdir()
    documents = {p.stem: json.loads(p.read_text(), parse_float=Decimal) for p in run_dir.glob("*.json")}
    shutil.rmtree(folder / "out")
    return documents


def _finding(document: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in document["findings"] if f["kind"] == kind)


def test_first_seen_and_status_across_three_runs_from_the_store_alone(tmp_path: Path) -> None:
    deal = [{"name": "Retreat", "value": 12000}]
    _portfolio(tmp_path / "p", [])
    first = _run_cli(tmp_path, "2026-09-30")
    waf, pipeline = _finding(first["cto"], "no-waf"), _finding(first["ceo"], "empty-pipeline")
    assert (waf["status"], waf["first_seen"], pipeline["status"]) == ("new", "2026-09-30", "new")

    _portfolio(tmp_path / "p", deal)  # a deal is recorded: the empty pipeline is resolved
    second = _run_cli(tmp_path, "2026-10-31")
    assert "empty-pipeline" not in {f["kind"] for f in second["ceo"]["findings"]}
    again = _finding(second["cto"], "no-waf")
    assert (again["id"], again["status"], again["first_seen"]) == (waf["id"], "open", "2026-09-30")
    changed = next(s for s in second["ceo"]["sections"] if s["id"] == "changes")
    assert changed["title"] == "What changed since 2026-09-30"
    assert "Resolved: [MEDIUM] Alpha has no open sales opportunities [alpha]" in changed["items"]

    _run_cli(tmp_path, "2026-11-05", "cfo")  # a run that built another report only
    _portfolio(tmp_path / "p", [])  # the deal is gone again: the condition comes back
    third = _run_cli(tmp_path, "2026-11-30")
    back = _finding(third["ceo"], "empty-pipeline")
    # the same id as in the first run; first seen then; new, for the CEO's previous run (the second) lacked it
    assert (back["id"], back["first_seen"], back["status"]) == (pipeline["id"], "2026-09-30", "new")
    assert _finding(third["cto"], "no-waf")["status"] == "open"  # the CTO's previous run: the second
    changed = next(s for s in third["ceo"]["sections"] if s["id"] == "changes")
    assert changed["title"] == "What changed since 2026-10-31"
    assert "New: [MEDIUM] Alpha has no open sales opportunities [alpha]" in changed["items"]
    # what the store keeps of each report: its as_of and findings, whatever became of out/
    with open_store(f"sqlite:///{tmp_path / '.execintel-data' / 'execintel.db'}", Settings(), mode="read") as store:
        history = load_history(store, "Test Holdings", exclude="none")
    assert [(r.as_of.isoformat(), sorted(r.reports)) for r in history.runs] == [
        ("2026-09-30", ["ceo", "cto"]), ("2026-10-31", ["ceo", "cto"]), ("2026-11-05", ["cfo"]),
        ("2026-11-30", ["ceo", "cto"]),
    ]  # fmt: skip
    recorded = history.runs[0].reports["ceo"][pipeline["id"]]
    assert (recorded.severity, recorded.entity, recorded.title) == ("medium", "alpha", pipeline["title"])


@pytest.mark.parametrize("report", ["ceo", "cto", "cfo", "cmo", "accounting", "daily"])
def test_every_demo_finding_has_first_seen_and_status(demo_run: RunOutput, report: str) -> None:
    as_of = demo_run.documents[report]["as_of"]
    for finding in demo_run.documents[report]["findings"]:
        assert finding["first_seen"] == as_of and finding["status"] == "new"
