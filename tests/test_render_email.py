"""The email body of the CEO, CFO, CTO and CMO reports in Debian's headless Chromium: at most 5,000 px tall at
600 px wide, on the demo and on a large synthetic portfolio, whatever the number of actions and sections; it
fits a mail pane and a phone like the full page does (tests/test_render_browser.py).

Screenshots go to ``test-artifacts/browser/email-*.png``.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import test_render_browser
from conftest import ARTIFACTS, RunOutput, dry_run
from execintel.render import chart_file
from execintel.render.html import render_html
from execintel.render.layout import Attachments
from test_render_browser import LAYOUT_PROBLEMS, WIDTHS, _open

browser = test_render_browser.browser  # the Chromium fixture, shared

SUMMARY_REPORTS = ("ceo", "cfo", "cto", "cmo")
MAX_HEIGHT = 5000  # CSS pixels at 600 px wide
# Entities of the large synthetic portfolio: 12 for `make test`, 40 for `make test-all`.
ENTITIES = 4 * int(os.environ.get("EXECINTEL_TEST_TRIALS", "3"))


def _synth() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "synth.py"
    spec = importlib.util.spec_from_file_location("synth", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synth", module)
    spec.loader.exec_module(module)
    return module


def _actions(count: int) -> list[dict[str, Any]]:
    """More actions than any email shows, each with a long title, owner and impact (the worst case)."""
    title = "Put a web application firewall and a rate limit in front of every public endpoint of the business "
    return [{"id": f"a{i}", "title": title * 2, "priority": i, "severity": "critical", "owner": "casey",
             "due": "2026-11-17", "impact": {"amount": Decimal("123456.78"), "unit": "USD/month", "basis": "x"},
             "findings": [f"f{i}-{k}" for k in range(9)]} for i in range(1, count + 1)]  # fmt: skip


def _height(browser: Any, page_file: Path, width: int, label: str) -> tuple[int, list[str]]:
    context, page, events = _open(browser, page_file, width)
    try:
        problems = page.evaluate(LAYOUT_PROBLEMS) + events
        shots = ARTIFACTS / "browser"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"email-{label}-{width}.png"), full_page=True)
        return int(page.evaluate("document.documentElement.scrollHeight")), problems
    finally:
        context.close()


def _with_actions(run: RunOutput, report: str) -> Path:
    """The email body of ``report`` with a dozen long actions, written beside its charts."""
    doc = copy.deepcopy(run.documents[report])
    doc["actions"] = _actions(12)
    body = render_html(doc, lambda chart: chart_file(report, chart), attachments=Attachments(f"{report}.pdf"))
    target = run.run_dir / f"{report}.actions.{os.getpid()}.email.html"  # the run is shared by the test workers
    target.write_text(body, encoding="utf-8")
    return target


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("report", SUMMARY_REPORTS)
def test_the_demo_email_body_is_at_most_5000_px_and_fits(
    browser: Any, demo_run: RunOutput, report: str, width: int
) -> None:
    for page_file, label in ((demo_run.run_dir / f"{report}.email.html", f"demo-{report}"),
                             (_with_actions(demo_run, report), f"demo-actions-{report}")):  # fmt: skip
        height, problems = _height(browser, page_file, width, label)
        assert problems == [], "\n".join(problems[:20])
        if width == 600:
            assert height <= MAX_HEIGHT, f"{label}: {height} px"
    if width == 600:
        full, _problems = _height(browser, demo_run.run_dir / f"{report}.html", 600, f"demo-page-{report}")
        assert full > MAX_HEIGHT  # the page holds the detail the email leaves out (else the test proves nothing)


def _large_portfolio(folder: Path) -> Path:
    """A synthetic portfolio of ``ENTITIES`` businesses, each with a stack full of findings, channels, debts,
    equity and cloud costs: every report is as long as it gets."""
    made = _synth().make_portfolio(folder, entities=ENTITIES, ledger_rows=1500 * ENTITIES, events=400 * ENTITIES,
                                   contacts=200 * ENTITIES, seed=13)  # fmt: skip
    manifest = yaml.safe_load(made.manifest.read_text())
    costs = ["month,service,amount,entity"]
    for i, entity in enumerate(manifest["entities"]):
        entity["stack"] = [{"name": f"{entity['id']}-api", "components": ["cloudfront", "api-gateway", "aws-lambda"],
                            "environments": ["production"], "deploy": "manual", "auth": "none", "waf": False,
                            "rate_limit": False}]  # fmt: skip
        entity["channels"] = [{"name": f"OTA {k}", "kind": "ota", "status": "planned", "audience": 1000 * (k + 1),
                               "commission": 0.15, "direct_booking_likelihood": 0.5} for k in range(3)]  # fmt: skip
        entity["debts"] = [{"lender": "Bank", "principal": 25000, "board_approved": False}]
        entity["equity"] = [{"holder": "Partner", "percent": 10, "agreement": "unsigned"}]
        for month in range(1, 25):
            year, mon = divmod(2024 * 12 + 10 + month, 12)
            costs += [f"{year:04d}-{mon + 1:02d},Service {s},{10 + i + s}.25,{entity['id']}" for s in range(8)]
    manifest["cloud_costs"] = "data/costs.csv"
    manifest["policies"] = {"min_runway_days": 400, "debt_requires_board_approval": True, "cash_review": "daily",
                            "capitalize_above": 2500}  # fmt: skip
    manifest["stakeholders"][0]["roles"] = ["ceo", "cfo", "cto", "cmo"]
    (made.manifest.parent / "data" / "costs.csv").write_text("\n".join(costs) + "\n", encoding="utf-8")
    made.manifest.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return made.manifest


@pytest.fixture(scope="module")
def large_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutput:
    """Every summary report of the large synthetic portfolio, without PDFs (the email is what is measured)."""
    folder = tmp_path_factory.mktemp("large-email")
    manifest = _large_portfolio(folder / "portfolio")
    return dry_run(folder, str(manifest), "--no-pdf", "--reports", ",".join(SUMMARY_REPORTS))


@pytest.mark.long
@pytest.mark.parametrize("report", SUMMARY_REPORTS)
def test_a_large_portfolio_email_body_is_still_at_most_5000_px(browser: Any, large_run: RunOutput, report: str) -> None:
    for page_file, label in ((large_run.run_dir / f"{report}.email.html", f"large-{report}"),
                             (_with_actions(large_run, report), f"large-actions-{report}")):  # fmt: skip
        height, problems = _height(browser, page_file, 600, label)
        assert problems == [], "\n".join(problems[:20])
        assert height <= MAX_HEIGHT, f"{label}: {height} px"
    full, _problems = _height(browser, large_run.run_dir / f"{report}.html", 600, f"large-page-{report}")
    assert full > 2 * MAX_HEIGHT
