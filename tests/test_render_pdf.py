"""Each report's PDF, checked with poppler: it opens, its pages render to PNG (kept in ``test-artifacts/pdf/``),
every word lies inside the printable area, and every table row, heading and finding title is on some page."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from conftest import ARTIFACTS, RunOutput
from execintel.formatting import CELL_CHARS, PROSE_CHARS, clip, show_cell
from execintel.reports import REPORTS
from hostile import SCRIPT, TEMPLATE

MM = 72 / 25.4  # points per millimetre
A4 = (595.28, 841.89)
SIDE_MARGIN = 12 * MM  # print.css: @page margin 14mm 12mm
PNG_DPI = 40


def _tool(*args: str) -> str:
    done = subprocess.run(args, check=True, capture_output=True, timeout=120)
    return done.stdout.decode("utf-8", errors="replace")  # pdftotext copies the PDF's title bytes as they are


def _squash(text: str) -> str:
    """Text without any whitespace: line and cell breaks fall in different places in a PDF than in the JSON."""
    return re.sub(r"\s+", "", text)


def _cell(value: Any, unit: str, currency: str) -> str:
    return clip(show_cell(value, unit, currency), CELL_CHARS)


def _pages(pdf: Path) -> tuple[int, tuple[float, float]]:
    info = _tool("pdfinfo", str(pdf))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]
    width, height = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.MULTILINE).groups()  # type: ignore[union-attr]
    return pages, (float(width), float(height))


def _layout(pdf: Path) -> tuple[list[str], list[int]]:
    """Words that reach into the left or right page margin (a table wider than the page would), and words per page."""
    xml = _tool("pdftotext", "-enc", "UTF-8", "-bbox", str(pdf), "-")
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    outside, counts = [], []
    # poppler wrote this XML from our own PDF
    for number, page in enumerate(ET.fromstring(xml).iterfind(".//x:page", ns), start=1):  # noqa: S314
        right = float(page.get("width", A4[0])) - SIDE_MARGIN
        words = page.findall("x:word", ns)
        counts.append(len(words))
        for word in words:
            if float(word.get("xMin", 0)) < SIDE_MARGIN - 1 or float(word.get("xMax", 0)) > right + 1:
                outside.append(f"page {number}: {word.text!r} at {word.get('xMin')}..{word.get('xMax')}")
    return outside, counts


def _ink_in_side_margins(png: Path) -> bool:
    """True when a rendered page has anything but white in its outer 8 mm on either side."""
    image = Image.open(png).convert("L")
    strip = round(8 / 25.4 * PNG_DPI)
    for box in ((0, 0, strip, image.height), (image.width - strip, 0, image.width, image.height)):
        low, _high = image.crop(box).getextrema()  # type: ignore[misc]
        if low < 250:
            return True
    return False


def _render_pages(pdf: Path, label: str) -> list[Path]:
    folder = ARTIFACTS / "pdf"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{label}-*.png"):
        old.unlink()
    _tool("pdftoppm", "-r", str(PNG_DPI), "-png", str(pdf), str(folder / label))
    return sorted(folder.glob(f"{label}-*.png"))


def _check_pdf(run: RunOutput, report: str, label: str) -> tuple[int, str]:
    pdf = run.run_dir / f"{report}.pdf"
    pages, size = _pages(pdf)
    assert size == pytest.approx(A4, abs=0.5)
    images = _render_pages(pdf, f"{label}-{report}")
    assert len(images) == pages >= 1  # every page renders
    assert [p.name for p in images if _ink_in_side_margins(p)] == []
    outside, words = _layout(pdf)
    assert outside == []
    assert 0 not in words, words  # no blank page
    # -raw keeps the order of the content stream, where each table cell's lines follow one another
    return pages, _squash(_tool("pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"))


@pytest.mark.parametrize("report", REPORTS)
def test_each_pdf_has_every_table_row_inside_the_page(demo_run: RunOutput, report: str) -> None:
    doc = demo_run.documents[report]
    pages, text = _check_pdf(demo_run, report, "demo")
    assert pages >= 1
    assert _squash(doc["title"]) in text
    for section in doc["sections"]:
        assert _squash(clip(section["title"], PROSE_CHARS)) in text, section["title"]
        if section["kind"] == "table":
            units = [c["unit"] for c in section["columns"]]
            # a worklist shows its first rows (the CSV holds every row: tests/test_render_worklists.py)
            rows = section["rows"][: section["shown"]] if section.get("worklist") else section["rows"]
            for row in rows:  # every cell of every row, first and last column included
                for value, unit in zip(row, units, strict=True):
                    assert _squash(_cell(value, unit, doc["currency"])) in text, (section["id"], row)
    shown = [doc["findings"][i] for s in doc["sections"] if s["kind"] == "findings" for i in s["findings"]]
    for finding in shown:
        assert _squash(clip(finding["title"], PROSE_CHARS)) in text


@pytest.mark.parametrize("report", REPORTS)
def test_a_hostile_pdf_keeps_its_tables_on_the_page(hostile_run: RunOutput, report: str) -> None:
    pages, text = _check_pdf(hostile_run, report, "hostile")
    assert pages <= 60
    if report == "ceo":  # markup and template syntax print as the characters they are
        assert _squash(SCRIPT) in text and _squash(TEMPLATE) in text
