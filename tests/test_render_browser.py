"""Each report's HTML in Debian's headless Chromium (Playwright) at a desktop mail pane (600 px) and a phone
(375 px): no sideways scrolling, every chart loads, nothing sticks out of its box; hostile data stays inert.

Screenshots go to ``test-artifacts/browser/`` for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ARTIFACTS, RunOutput
from execintel.render.html import CARD_COLUMNS
from execintel.reports import REPORTS
from hostile import EMOJI, RTL, SCRIPT, TEMPLATE

CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = (600, 375)
# Flags for a root user in a sandbox with no network (the background-networking ones stop refused connections).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

# Every element and every line of text must lie inside the viewport and inside its table cell; an element that
# hides overflow must not be hiding content; every image must have loaded.
LAYOUT_PROBLEMS = """() => {
  const width = document.documentElement.clientWidth, problems = [];
  const name = (el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '');
  if (document.documentElement.scrollWidth > width)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in ${width} px`);
  for (const img of document.images)
    if (!img.complete || img.naturalWidth === 0) problems.push(`image did not load: ${img.getAttribute('src')}`);
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left < -0.5 || box.right > width + 0.5)
      problems.push(`${name(el)} sticks out: ${box.left.toFixed(0)}..${box.right.toFixed(0)} of ${width}`);
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name(el)} hides ${el.scrollWidth - el.clientWidth} px of its content`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const cell = node.parentElement.closest('td, th, li, p, h1, h2') || document.body;
    const limit = cell.getBoundingClientRect();
    range.selectNodeContents(node);
    for (const line of range.getClientRects()) {
      if (line.right > limit.right + 1 || line.left < limit.left - 1) {
        problems.push(`text overflows its ${name(cell)}: "${node.textContent.slice(0, 40)}"`);
        break;
      }
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, page_file: Path, width: int) -> tuple[Any, Any, list[str]]:
    """A page of ``width`` CSS pixels showing ``page_file``, with every dialog and script error recorded."""
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1,
                                  java_script_enabled=True)  # fmt: skip
    page = context.new_page()
    events: list[str] = []
    page.on("dialog", lambda dialog: (events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: events.append(f"page error: {error}"))
    page.goto(page_file.as_uri(), wait_until="load")
    return context, page, events


def _check(browser: Any, run: RunOutput, report: str, width: int, label: str) -> tuple[list[str], Any, Any]:
    context, page, events = _open(browser, run.run_dir / f"{report}.html", width)
    problems = page.evaluate(LAYOUT_PROBLEMS)
    shots = ARTIFACTS / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{label}-{report}-{width}.png"), full_page=True)
    return problems + events, context, page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("report", REPORTS)
def test_each_report_fits_a_mail_pane_and_a_phone(browser: Any, demo_run: RunOutput, report: str, width: int) -> None:
    problems, context, page = _check(browser, demo_run, report, width, "demo")
    try:
        assert problems == [], "\n".join(problems[:20])
        charts = [s for s in demo_run.documents[report]["sections"] if s["kind"] == "chart"]
        assert page.evaluate("document.images.length") == len(charts)
        # the layout follows the width: the content column is the pane's width, never more than 600 px
        container = page.evaluate("document.querySelector('.container').getBoundingClientRect().width")
        assert container <= min(width, 600)
        assert container >= min(width, 600) - 32
        # what the reader sees is the report: its title and every section heading
        text = page.inner_text("body")
        assert demo_run.documents[report]["title"] in text
        for section in demo_run.documents[report]["sections"]:
            assert " ".join(section["title"].split()) in " ".join(text.split())
        tables = [s for s in demo_run.documents[report]["sections"] if s["kind"] == "table" and s["rows"]]
        wide = [s for s in tables if 3 < len(s["columns"]) < CARD_COLUMNS]
        if width < 480 and wide:  # on a phone a wide table becomes one card per row, each value under its title
            label = page.evaluate("getComputedStyle(document.querySelector('table.wide td'), '::before').content")
            assert label == f'"{wide[0]["columns"][0]["title"]}: "'
            assert page.evaluate("getComputedStyle(document.querySelector('table.wide thead')).display") == "none"
        cards = page.locator("table.card").count()  # the widest tables are cards at every width
        assert cards == sum(len(s["rows"]) for s in tables if len(s["columns"]) >= CARD_COLUMNS)
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("report", REPORTS)
def test_hostile_text_is_shown_as_text_and_keeps_the_layout(
    browser: Any, hostile_run: RunOutput, report: str, width: int
) -> None:
    problems, context, page = _check(browser, hostile_run, report, width, "hostile")
    try:
        assert problems == [], "\n".join(problems[:20])
        active = page.evaluate(
            "document.querySelectorAll('script, iframe, object, embed, [onerror], [onload], [onclick]').length"
        )
        assert active == 0
        # every <img> is one of our charts
        sources = page.evaluate("Array.from(document.images, i => i.getAttribute('src'))")
        assert all(src.startswith(f"{report}-") and src.endswith(".png") for src in sources), sources
    finally:
        context.close()


def test_hostile_values_reach_the_reports_and_read_literally(browser: Any, hostile_run: RunOutput) -> None:
    """The hostile strings are really in the reports (else the checks above prove nothing), shown verbatim."""
    context, page, events = _open(browser, hostile_run.run_dir / "ceo.html", 600)
    try:
        text = page.inner_text("body")
        for value in (SCRIPT, TEMPLATE, RTL, EMOJI):
            assert value in text, value
        assert "49" not in page.inner_text("h1")  # {{7*7}} was not evaluated
        assert events == []
    finally:
        context.close()
    seen = {report: (hostile_run.run_dir / f"{report}.html").read_text() for report in REPORTS}
    assert sum("W" * 20 in html for html in seen.values()) >= 3  # the 10,000-character word reaches reports
