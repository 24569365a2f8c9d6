"""The plain-text reports: golden files of the demo (normalised for run ids and times), and text that reads on
its own: within 78 columns, hostile values shown as the characters they are.

After an intended change to a report, rewrite the golden files with ``pytest --update-goldens`` and review the
diff (``git diff tests/data/golden``).
"""

from __future__ import annotations

import difflib
import re

import pytest

from conftest import DATA, RunOutput
from execintel.render.text import WIDTH, render_text
from execintel.reports import REPORTS
from hostile import EMOJI, IMAGE, RTL, SCRIPT, TEMPLATE

GOLDEN = DATA / "golden"


def normalise(text: str) -> str:
    """Text with what differs from run to run replaced: run ids and clock times.

    Dates are kept: the demo's are fixed by its ``as_of``, and a date that happened to be today when the golden
    files were written (a payment due on 2026-12-03) made them fail on every other day.
    """
    text = re.sub(r"\b\d{8}T\d{6}Z-[0-9a-f]{4}\b", "<run-id>", text)
    return re.sub(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<time>", text)


@pytest.mark.parametrize("report", REPORTS)
def test_the_demo_text_matches_its_golden_file(
    demo_run: RunOutput, report: str, request: pytest.FixtureRequest
) -> None:
    text = normalise((demo_run.run_dir / f"{report}.txt").read_text(encoding="utf-8"))
    golden = GOLDEN / f"{report}.txt"
    if request.config.getoption("--update-goldens"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file for {report}: run pytest --update-goldens"
    expected = golden.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "now", n=1))
    assert text == expected, f"{report}.txt changed (pytest --update-goldens if intended):\n{diff[:4000]}"


def test_the_text_is_the_rendering_of_the_json(demo_run: RunOutput) -> None:
    """The .txt beside each .json is exactly what the renderer makes of that JSON: it reads nothing else."""
    for report, document in demo_run.documents.items():
        assert render_text(document) == (demo_run.run_dir / f"{report}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("which", ["demo_run", "hostile_run"])
def test_every_line_fits_78_columns(which: str, request: pytest.FixtureRequest) -> None:
    run: RunOutput = request.getfixturevalue(which)
    for report in REPORTS:
        lines = (run.run_dir / f"{report}.txt").read_text(encoding="utf-8").splitlines()
        wide = [f"{report}.txt:{n}: {len(line)} characters" for n, line in enumerate(lines, 1) if len(line) > WIDTH]
        assert wide == [], wide[:5]


def test_hostile_values_read_as_written_and_a_huge_one_is_shortened(hostile_run: RunOutput) -> None:
    texts = {report: (hostile_run.run_dir / f"{report}.txt").read_text(encoding="utf-8") for report in REPORTS}
    ceo = " ".join(texts["ceo"].split())
    for value in (SCRIPT, TEMPLATE, RTL, EMOJI, IMAGE):
        assert " ".join(value.split()) in ceo, value
    assert "49" not in texts["ceo"].splitlines()[0]  # the title's {{7*7}} was not evaluated
    everything = "".join(texts.values())
    # the 10,000-character word appears, shortened with an ellipsis, never whole
    assert "W" * 40 in everything.replace("\n", "").replace(" ", "")
    assert "W" * 3000 not in everything.replace("\n", "").replace(" ", "")
    assert "\u2026" in everything


# --- control characters ----------------------------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]8;;http://evil.test\x07link\x1b]8;;\x07\x08\x9b1m\u202etxt.exe"


def _document(value: str) -> dict[str, object]:
    """A report document with ``value`` in every place a value from data can reach the text."""
    finding = {"kind": "k", "severity": "high", "entity": value, "title": value, "evidence": [value],
               "recommendation": value}  # fmt: skip
    columns = [{"title": "Name", "unit": ""}, {"title": "Amount", "unit": "USD"}]
    return {
        "title": "CEO report", "portfolio": value, "as_of": "2026-11-15", "currency": "USD",
        "summary": [value],
        "figures": {"f": {"name": value, "value": 1, "unit": "USD"}},
        "findings": [finding],
        "sections": [
            {"kind": "figures", "title": value, "figures": ["f"], "note": value},
            {"kind": "table", "title": "Table", "columns": columns, "rows": [[value, 5], ["short", 6]]},
            {"kind": "findings", "title": "Findings", "findings": [0]},
            {"kind": "text", "title": "Text", "paragraphs": [value]},
            {"kind": "list", "title": "List", "items": [value]},
        ],
        "missing": [{"data": value, "needed_for": value}],
    }  # fmt: skip


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\x85", "\x0b"])
def test_control_characters_are_shown_and_a_newline_in_a_value_forges_no_line(newline: str) -> None:
    value = f"Evil {ESCAPES}{newline}FORGED: line"
    text = render_text(_document(value))
    controls = sorted({c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0})
    assert controls == [], controls
    assert "\u202e" not in text  # a right-to-left override would reorder the line
    lines = text.splitlines()
    # wrapped lines go on indented under their first; only a forged line would start at the margin
    assert not any(line.startswith("FORGED") for line in lines), text
    assert all(len(line) <= WIDTH for line in lines)
    assert "␛[2J␛]8;;http://evil.test␇link␛]8;;␇␈" in text.replace("\n", "").replace(" ", "")


def test_the_html_part_shows_control_characters_too() -> None:
    """The HTML of the same email: no bidi override or escape sequence from a value reaches the reader raw."""
    from execintel.render.html import render_html

    page = render_html(_document(f"Evil {ESCAPES}\r\nX"), lambda chart: f"cid:{chart}")
    controls = sorted({c for c in page if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0})
    assert controls == [] and "\u202e" not in page, controls
    assert "␛[2J␛]8;;http://evil.test␇link" in page
