"""``make bench``'s runner (benchmarks/run.py): a crash is told from a missed target, an explained miss does not
fail the run, and the docs' results section is rewritten between its markers, a subset run keeping the other
benchmarks' rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import load_module

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


run = load_module("bench_run", BENCHMARKS / "run.py")


def _figure(figure_id: str, samples: list[float], target: float | None) -> dict[str, object]:
    median = sorted(samples)[len(samples) // 2]
    return {"id": figure_id, "title": f"the {figure_id}", "unit": "s", "samples": samples, "target": target,
            "command": f".venv/bin/python benchmarks/x.py # {figure_id}", "detail": "", "extra": {},
            "median": median, "passed": None if target is None else median <= target}  # fmt: skip


DOC = """# Benchmarks

Hand-written intro.

<!-- bench:results:begin -->
<!-- bench:results:end -->

## Loading

Hand-written section.
"""


def test_docs_section_is_rewritten_and_a_subset_keeps_the_other_rows(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOC, encoding="utf-8")
    load, store = run.Bench("load", "bench_load.py"), run.Bench("store", "bench_store.py")
    first = [run.Outcome(load, [_figure("load.seconds", [3.0, 3.2, 3.1, 3.3, 3.4], 10.0)]),
             run.Outcome(store, [_figure("store.transition_ms", [0.2] * 5, 2.0)])]  # fmt: skip
    run.update_docs(first, ["Last run: make bench."], docs)
    text = docs.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nHand-written intro.\n\n<!-- bench:results:begin -->")
    assert text.endswith("<!-- bench:results:end -->\n\n## Loading\n\nHand-written section.\n")
    rows = [line for line in text.splitlines() if line.startswith("| load") or line.startswith("| store")]
    assert (
        len(rows) == 2 and "`load.seconds`" in rows[0] and "| 3.20 s | 3.00 | 3.40 | 5 | <= 10.0 s | PASS |" in rows[0]
    )
    # a later run of `store` alone: its row is new, load's is kept as it was (with its own date and commit)
    second = [run.Outcome(store, [_figure("store.transition_ms", [2.5] * 5, 2.0)])]
    run.update_docs(second, ["Last run: --only store."], docs)
    text = docs.read_text(encoding="utf-8")
    assert rows[0] in text.splitlines() and rows[1] not in text
    assert "| 2.50 s |" in text and "**FAIL**" in text and "Last run: --only store." in text
    assert text.count("<!-- bench:results:begin -->") == 1 and "Hand-written section." in text


def test_docs_without_markers_is_an_error_naming_them(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="bench:results:begin"):
        run.update_docs([], [], docs)


def test_explained_miss_links_its_docs_and_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "EXPLAINED", {"package.import_ms": "packaging.md#cold-start"})
    package = run.Bench("package", "bench_package.py")
    explained = run.Outcome(package, [_figure("package.import_ms", [1000.0] * 5, 400.0)])
    assert run.failures([explained]) == []
    assert "([explained](packaging.md#cold-start))" in run.figure_row("package", explained.figures[0], "today")
    missed = run.Outcome(package, [_figure("package.api_zip_mb", [16.0], 15.0)])
    assert run.failures([missed]) == ["package.api_zip_mb: median 16.0 s over its target 15.0 s"]


SCRIPTS = {
    # a target missed: exit 1 after reporting the failing figure
    "bench_missed.py": "report({'passed': False, 'median': 2.0, 'target': 1.0}); raise SystemExit(1)",
    # a crash after a figure that passed: a traceback
    "bench_crash.py": "report({'passed': True, 'median': 1.0, 'target': 2.0}); raise RuntimeError('boom')",
    # exit 1 with every target met: something else went wrong
    "bench_quiet.py": "report({'passed': True, 'median': 1.0, 'target': 2.0}); raise SystemExit(1)",
}
PRELUDE = """import json, os
def report(fields):
    figure = {'id': 'x.s', 'title': 'x', 'unit': 's', 'samples': [fields['median']], 'command': '', 'detail': '',
              'extra': {}, **fields}
    with open(os.environ['EXECINTEL_BENCH_RESULTS'], 'a') as handle:
        handle.write(json.dumps(figure) + '\\n')
"""


def test_a_crash_is_told_from_a_missed_target_and_a_missing_script_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "benchmarks").mkdir()
    for name, body in SCRIPTS.items():
        (tmp_path / "benchmarks" / name).write_text(PRELUDE + body + "\n", encoding="utf-8")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    outcomes = {name: run.run_bench(run.Bench(name, name)) for name in [*SCRIPTS, "bench_absent.py"]}
    assert outcomes["bench_missed.py"].crashed == [] and outcomes["bench_missed.py"].figures[0]["passed"] is False
    assert outcomes["bench_crash.py"].crashed == ["bench_crash.py exited 1 with a traceback"]
    assert outcomes["bench_quiet.py"].crashed == ["bench_quiet.py exited 1"]
    assert outcomes["bench_absent.py"].missing and "bench_absent.py not present: skipped" in capsys.readouterr().out
    assert json.dumps(outcomes["bench_crash.py"].figures[0]["median"]) == "1.0"  # the figure before the crash kept


def test_every_explained_miss_links_to_a_heading_that_exists() -> None:
    """A miss listed as explained must lead to its explanation: the page exists and has the heading (GitHub's
    anchors: lower case, punctuation dropped, spaces as hyphens)."""
    import re

    docs = run.ROOT / "docs"
    for figure, link in run.EXPLAINED.items():
        page, _, anchor = link.partition("#")
        text = (docs / (page or "benchmarks.md")).read_text(encoding="utf-8")
        headings = {
            re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in text.splitlines()
            if line.startswith("#")
        }
        assert anchor in headings, (figure, link)
