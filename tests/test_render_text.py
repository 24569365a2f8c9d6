"""The plain-text reports: golden files of the demo (normalised for run ids and times), and text that reads on
its own: within 78 columns, hostile values shown as the characters they are.

After an intended change to a report, rewrite the golden files with ``pytest --update-goldens`` and review the
diff (``git diff tests/data/golden``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

import pytest

from conftest import DATA, RunOutput
from execintel.render.text import WIDTH, render_text
from execintel.reports import REPORTS
from hostile import EMOJI, IMAGE, RTL, SCRIPT, TEMPLATE

GOLDEN = DATA / "golden"


def normalise(text: str) -> str:
    """Text with what differs from run to run replaced: run ids, clock times and today's date."""
    text = re.sub(r"\b\d{8}T\d{6}Z-[0-9a-f]{4}\b", "<run-id>", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<time>", text)
    return text.replace(dt.date.today().isoformat(), "<today>")


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
