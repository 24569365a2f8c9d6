"""Every report opens the same way in every format: narrative, actions, headline figures with their comparisons,
summary sections (charts), then the detail; the email of a summary report holds only that opening.

The narrative's numbers are all figures of the document, shown with their formatting.
"""

from __future__ import annotations

import copy
import html
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import RunOutput
from execintel.formatting import show
from execintel.render import print_html
from execintel.render.html import render_html
from execintel.render.layout import EMAIL_CHARTS, Attachments, place
from execintel.render.pdf import write_pdf
from execintel.render.text import render_text
from execintel.reports import REPORTS
from execintel.reports.summary import TemplateError, fill

SUMMARY_REPORTS = ("ceo", "cfo", "cto", "cmo")
ACTIONS = [
    {"id": "act-1", "title": "Put a WAF in front of every CloudFront distribution", "priority": 1, "severity": "high",
     "owner": "casey", "due": "2026-11-29", "impact": {"amount": Decimal("20.5"), "unit": "USD/month",
                                                      "basis": "AWS WAF price"}, "findings": ["no-waf-1", "no-waf-2"]},
    {"id": "act-2", "title": "Sign the equity agreement", "priority": 2, "severity": "medium", "owner": None,
     "due": "2026-12-15", "impact": None, "findings": ["unsigned-equity-1"]},
]  # fmt: skip


def _with_actions(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as it will be once actions are filled (CONTRACT section 8)."""
    filled = copy.deepcopy(doc)
    filled["actions"] = copy.deepcopy(ACTIONS)
    return filled


def _text_of(page: str) -> str:
    """What a reader sees of an HTML page: its text, whitespace folded."""
    body = re.sub(r"<style.*?</style>|<title>.*?</title>", " ", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _markers(doc: dict[str, Any]) -> list[str]:
    """What must appear in this order: the narrative, actions, headline, first summary section, detail."""
    summary = [s for s in doc["sections"] if place(s) == "summary"]
    detail = [s for s in doc["sections"] if place(s) == "detail"]
    marks = [doc["summary"][0][:40], "What to do", ACTIONS[0]["title"], "Headline figures"]
    if summary:
        marks.append(summary[0]["title"])
    if detail:
        marks += ["Full detail", detail[0]["title"]]
    return marks


def _in_order(text: str, marks: list[str]) -> None:
    position = -1
    for mark in marks:
        found = text.find(mark, position + 1)
        assert found > position, f"{mark!r} is not after the previous part"
        position = found


# --- the narrative -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("report", REPORTS)
def test_every_number_of_the_narrative_is_a_figure_of_the_document(demo_run: RunOutput, report: str) -> None:
    doc = demo_run.documents[report]
    narrative = doc["narrative"]
    assert 3 <= len(narrative) <= 5, [n["text"] for n in narrative]
    assert doc["summary"] == [n["text"] for n in narrative]  # no line of the opening escapes the check
    for sentence in narrative:
        assert not re.search(r"\d", sentence["template"])  # the wording holds no number of its own
        shown = {field: show(doc["figures"][fid]["value"], doc["figures"][fid]["unit"], doc["currency"])
                 for field, fid in sentence["figures"].items()}  # fmt: skip
        assert set(shown) | set(sentence["names"]) == set(re.findall(r"{(\w+)}", sentence["template"]))
        # the text is the template with each figure shown with its formatting, and names (of entities) as they are
        assert sentence["text"] == sentence["template"].format(**shown, **sentence["names"])
        assert all(not re.fullmatch(r"[\d.,%$ -]+", n) for n in sentence["names"].values())  # a name is no number


def test_a_template_that_types_a_number_is_refused() -> None:
    with pytest.raises(TemplateError, match="types a number by hand"):
        fill("Runway is {runway}, above the 90-day minimum.", {"runway": None}, "USD")
    with pytest.raises(TemplateError, match="plain name"):
        fill("Cash is {cash:.2f}.", {"cash": None}, "USD")
    assert fill("Cash is {cash}.", {"cash": None}, "USD") is None  # an absent figure: no sentence


# --- the order of the parts, in every format --------------------------------------------------------------


@pytest.mark.parametrize("report", REPORTS)
def test_html_and_text_open_with_narrative_actions_headline_then_summary_then_detail(
    demo_run: RunOutput, report: str
) -> None:
    doc = _with_actions(demo_run.documents[report])
    marks = _markers(doc)
    page = _text_of(render_html(doc, lambda chart: f"{chart}.png"))
    _in_order(page, marks)
    assert "worth $20.50 per month" in page and "no owner (nobody holds the role)" in page
    _in_order(" ".join(render_text(doc).split()), marks)
    headline = doc["headline"][0]
    name = doc["figures"][headline["figure"]].get("name") or headline["figure"]
    assert page.index("Headline figures") < page.index(name)


@pytest.mark.parametrize("report", ["cfo", "accounting"])
def test_the_pdf_has_the_same_order(demo_run: RunOutput, report: str, tmp_path: Path) -> None:
    doc = _with_actions(demo_run.documents[report])
    pdf = write_pdf(print_html(doc), demo_run.run_dir, tmp_path / f"{report}.pdf")
    text = _squash(subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], check=True,
                                  capture_output=True, timeout=120).stdout.decode())  # fmt: skip
    _in_order(text, [_squash(m) for m in _markers(doc)])


@pytest.mark.parametrize("report", REPORTS)
def test_the_demo_pdf_opens_with_the_summary(demo_run: RunOutput, report: str) -> None:
    doc = demo_run.documents[report]
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(demo_run.run_dir / f"{report}.pdf"), "-"],
                          check=True, capture_output=True, timeout=120)  # fmt: skip
    text = _squash(done.stdout.decode())
    marks = [m for m in _markers(doc) if m not in ("What to do", ACTIONS[0]["title"])]
    _in_order(text, [_squash(m) for m in marks])


# --- the email body ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("report", SUMMARY_REPORTS)
def test_a_summary_email_holds_the_opening_and_names_the_attached_report(demo_run: RunOutput, report: str) -> None:
    doc = _with_actions(demo_run.documents[report])
    assert doc["email"] == "summary"
    attached = Attachments(f"{report}.pdf", ("x.csv",))
    body = _text_of(render_html(doc, lambda chart: f"cid:{chart}", attachments=attached))
    plain = " ".join(render_text(doc, attached).split())
    for text in (body, plain):
        assert f"The full report, with every table, finding and worklist, is attached: {report}.pdf." in text
        _in_order(text, [m for m in _markers(doc) if m != "Full detail"][:4])
        assert "Full detail" not in text
        assert "Worklists, one row per item, attached as CSV: x.csv." in text
    detail = [s for s in doc["sections"] if place(s) == "detail"]
    listed = body[body.index("In the attached report:") :]
    for section in detail[:12]:  # each is named where the email says what is attached
        assert " ".join(section["title"].split()) in listed
    raw = render_html(doc, lambda chart: f"cid:{chart}", attachments=attached)
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", raw)
    for section in detail:  # none of them is shown
        assert html.escape(section["title"], quote=False) not in headings
    charts = [s for s in doc["sections"] if s["kind"] == "chart" and place(s) == "summary"]
    assert raw.count("<img") == min(len(charts), EMAIL_CHARTS)


def test_without_a_pdf_the_email_says_the_full_report_is_not_attached(demo_run: RunOutput) -> None:
    body = _text_of(render_html(demo_run.documents["cfo"], str, attachments=Attachments(None)))
    assert "The full report is not attached because PDF support is not installed" in body
    assert "In the full report:" in body


@pytest.mark.parametrize("report", sorted(set(REPORTS) - set(SUMMARY_REPORTS)))
def test_other_reports_send_everything_opening_the_same_way(demo_run: RunOutput, report: str) -> None:
    doc = _with_actions(demo_run.documents[report])
    assert doc["email"] == "full"
    body = _text_of(render_html(doc, str, attachments=Attachments(f"{report}.pdf")))
    assert body == _text_of(render_html(doc, str))  # the email is the whole report
    _in_order(body, _markers(doc))
    for section in doc["sections"]:
        assert " ".join(section["title"].split()) in body


def test_a_worklist_shows_its_first_rows_and_names_its_csv(demo_run: RunOutput) -> None:
    doc = copy.deepcopy(demo_run.documents["cmo"])
    [worklist] = [s for s in doc["sections"] if s.get("worklist")]
    assert worklist["worklist"] == "cmo-contacts-to-fix.csv" and worklist["shown"] == 25
    rows = len(worklist["rows"])  # 42 invalid and 59 duplicate addresses in the demo's contact files
    assert rows == 42 + 59
    page = render_html(doc, str)
    assert f"The first 25 of {rows} rows; every row is in cmo-contacts-to-fix.csv." in page
    text = render_text(doc)
    assert worklist["rows"][24][1] in text and worklist["rows"][25][1] not in text


def test_a_findings_section_shows_every_severe_finding_and_counts_a_long_tail(demo_run: RunOutput) -> None:
    # A large ledger gives one finding per row (an expense without a receipt): tens of thousands of cards would make
    # the page tens of megabytes. Every critical and high finding is shown, 50 of each other kind, the rest counted.
    doc = copy.deepcopy(demo_run.documents["ceo"])
    [section] = [s for s in doc["sections"] if s["kind"] == "findings"][:1]
    base = len(doc["findings"])

    def finding(kind: str, severity: str, n: int) -> dict[str, Any]:
        return {"id": f"{kind}-{n}", "kind": kind, "severity": severity, "title": f"{kind} number {n:03d} here",
                "entity": None, "evidence": [], "status": "new", "first_seen": doc["as_of"]}  # fmt: skip

    added = [finding("missing-receipt", "low", n) for n in range(120)]
    added += [finding("runway-below-policy", "high", n) for n in range(60)]
    doc["findings"] += added
    section["findings"] = section["findings"] + list(range(base, base + len(added)))
    for page in (" ".join(_text_of(render_html(doc, str)).split()), " ".join(render_text(doc).split())):
        shown = re.findall(r"missing-receipt number (\d{3}) here", page)
        assert shown == [f"{n:03d}" for n in range(50)]
        assert len(re.findall(r"runway-below-policy number \d{3} here", page)) == 60
        assert "Not shown: 70 more missing-receipt findings" in page
        assert "Every finding is in ceo.json." in page
    assert len(doc["findings"]) == base + 180  # the document itself keeps every one
