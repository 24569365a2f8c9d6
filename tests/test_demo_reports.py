"""The whole run on the bundled demo: every report written, the seeds' headline facts computed from the data,
every figure id of the contract in its report, and ``explain`` tracing a figure to its rows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import RunOutput, cli
from execintel.reports import REPORTS

ENTITIES = ("jada", "qosd", "quickdumpnow", "rental-3028", "yacht-delivery", "dc-clients")  # those with a ledger


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, timeout=120)


@pytest.fixture
def run(demo_run: RunOutput) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    return demo_run.done, demo_run.documents, demo_run.folder


def test_a_dry_run_writes_every_format_of_every_report(run: Any) -> None:
    done, documents, folder = run
    assert done.returncode == 0, done.stderr
    assert sorted(documents) == sorted(REPORTS)
    [run_dir] = (folder / "out").iterdir()  # one run only
    for suffix in (".txt", ".html", ".pdf"):
        written = [p.name.removesuffix(suffix) for p in run_dir.glob(f"*{suffix}") if ".email." not in p.name]
        assert sorted(written) == sorted(REPORTS), suffix
    # the email body of a summary report, beside its full page
    assert sorted(p.name for p in run_dir.glob("*.email.html") if p.name.count(".") == 2) == [
        f"{r}.email.html" for r in ("ceo", "cfo", "cmo", "cto")
    ]
    for report in REPORTS:
        # the summary table names each report's files
        row = next(line for line in done.stdout.splitlines() if line.startswith(f"│ {report} "))
        assert f"{report}.json, {report}.html, {report}.txt, " in row and f"{report}.pdf" in done.stdout
        assert documents[report]["as_of"] == "2026-11-15" and documents[report]["portfolio"] == "Demo Holdings"
        assert (run_dir / f"{report}.pdf").read_bytes().startswith(b"%PDF-")
        charts = [s["id"] for s in documents[report]["sections"] if s["kind"] == "chart"]
        html = (run_dir / f"{report}.html").read_text()
        for chart in charts:  # each chart is a PNG beside the HTML, which shows it
            assert (run_dir / f"{report}-{chart}.png").read_bytes().startswith(b"\x89PNG")
            assert f'src="{report}-{chart}.png"' in html
    assert {"cash-chart", "runway-chart"} <= {s["id"] for s in documents["cfo"]["sections"] if s["kind"] == "chart"}
    assert "cloud-chart" in {s["id"] for s in documents["cto"]["sections"] if s["kind"] == "chart"}
    assert any(s["id"].startswith("revenue-target-") for s in documents["cfo"]["sections"] if s["kind"] == "chart")
    assert not list(run_dir.glob("*.tmp"))


def test_every_contract_figure_is_in_its_report(run: Any) -> None:
    _, documents, _ = run
    cfo, cto, cmo, ceo = (documents[r]["figures"] for r in ("cfo", "cto", "cmo", "ceo"))
    for entity in ENTITIES:
        assert {f"cash.{entity}", f"revenue.ttm.{entity}", f"expenses.ttm.{entity}"} <= cfo.keys()
    assert {"cash.portfolio", "burn.monthly.portfolio", "runway.days.portfolio"} <= cfo.keys()
    assert {"break_even.units.qosd", "break_even.units.quickdumpnow", "break_even.units.yacht-delivery"} <= cfo.keys()
    assert {"cloud.spend.monthly", "cloud.spend.month.2026-10", "cloud.spend.month.2024-11"} <= cto.keys()
    assert {"contacts.total", "contacts.valid", "contacts.duplicates", "contacts.subscribed"} <= cmo.keys()
    assert {"assets.entities", "assets.domains", "kpis.missing"} <= ceo.keys()
    for figures in (cfo, cto, cmo, ceo):
        for figure_id, figure in figures.items():
            assert figure["formula"], figure_id
            assert set(figure) >= {"value", "unit", "formula", "sources"}


def test_the_seeds_headline_facts_come_out_of_the_demo_data(run: Any) -> None:
    _, documents, _ = run
    cfo, cto, cmo, ceo = (documents[r]["figures"] for r in ("cfo", "cto", "cmo", "ceo"))
    assert cfo["cash.portfolio"]["value"] == Decimal("18769.55")
    assert cfo["runway.days.portfolio"]["value"] == 128
    assert cfo["break_even.units.qosd"]["value"] == 6  # break-even at 6 charters a month
    assert ceo["assets.domains"]["value"] == 4 and ceo["assets.entities"]["value"] == 7
    assert ceo["assets.projects"]["value"] == 7  # supporting infrastructure projects (handoffs)
    assert cmo["contacts.total"]["value"] == 3676
    assert Decimal(50) <= cto["cloud.spend.monthly"]["value"] <= Decimal(84)
    assert Decimal(15) <= cto["cloud.savings.monthly"]["value"] <= Decimal(30)
    cto_kinds = {f["kind"] for f in documents["cto"]["findings"]}
    # the six security gaps: hard-coded key, repos.env in history, unauthenticated Apps Script, CloudFront without
    # WAF, API without rate limiting, a plaintext JWT secret in a committed environment file
    assert {
        "hardcoded-secret",
        "env-file-committed",
        "unauthenticated-endpoint",
        "no-waf",
        "no-rate-limit",
    } <= cto_kinds
    titles = " ".join(f["title"] for f in documents["cto"]["findings"])
    assert "repos.env" in titles and ".env.production" in titles
    ceo_findings = {(f["kind"], f["entity"]) for f in documents["ceo"]["findings"]}
    assert {
        ("no-ota-listing", "qosd"),
        ("missing-billing-model", "dangerouscentaur"),
        ("broken-funnel", "quickdumpnow"),
        ("empty-pipeline", "qosd"),
        ("unapproved-debt", "qosd"),
    } <= ceo_findings
    # the high findings outside the portfolio's top 7 actions are in their area reports (CONTRACT section 8)
    more = next(s for s in documents["ceo"]["sections"] if s["id"] == "more-actions")["items"]
    assert any("Sign the equity agreements" in item for item in more)  # governance: the CEO's own list
    assert any("Keep a ledger for every active entity" in item for item in more)


def test_no_report_leaks_a_secret_of_the_demo_repositories(run: Any) -> None:
    _, documents, _ = run
    text = json.dumps(documents, default=str) + "".join(
        p.read_text() for p in (run[2] / "out").glob("*/*") if p.suffix in (".txt", ".html")
    )
    # at most the first 4 characters of a secret may appear (CONTRACT section 7)
    for pattern in (r"AKIA[0-9A-Z]{4,}", r"sk_(live|test)_[0-9A-Za-z]{4,}", r"JWT_SECRET=\S{5,}"):
        assert re.search(pattern, text) is None, pattern


def test_explain_traces_runway_to_the_ledger_rows(run: Any) -> None:
    _, _, folder = run
    done = _cli("explain", "runway.days.portfolio", "--rows", "3", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("runway.days.portfolio: 128 days\n")
    assert "  formula:  " in done.stdout
    assert "data/qosd/ledger.csv:" in done.stdout
    assert "date,account,amount,description,counterparty,service_date,receipt" in done.stdout  # the CSV header
    assert "more rows (--rows N to see more)" in done.stdout


def test_explain_an_unknown_figure_suggests_the_close_ones(run: Any) -> None:
    _, _, folder = run
    done = _cli("explain", "runway.day.portfolio", cwd=folder)
    assert done.returncode == 2
    assert "did you mean runway.days.portfolio" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_second_run_says_what_changed_since_the_first(demo_run: RunOutput, tmp_path: Path) -> None:
    folder = tmp_path
    shutil.copytree(demo_run.run_dir, folder / "out" / demo_run.run_dir.name)  # the first run, in its own out/
    shutil.copytree(demo_run.folder / ".execintel-data", folder / ".execintel-data")  # and the store recording it
    again = _cli("run", "--dry-run", "--out", "out", "--reports", "ceo", "--as-of", "2026-11-16", cwd=folder)
    assert again.returncode == 0, again.stderr
    newest = sorted((folder / "out").iterdir())[-1]
    text = (newest / "ceo.txt").read_text()
    assert "This is the first" not in text
    assert "What changed" in text
