"""The command line as a user runs it: real subprocesses, exit codes, no tracebacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import execintel
from conftest import RunOutput, cli


def execintel_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execintel", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_version() -> None:
    result = execintel_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"execintel {execintel.__version__}"


def test_init_writes_a_starter_that_validates_and_lists_its_sources(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    assert execintel_cli("init", str(target)).returncode == 0
    validated = execintel_cli("validate", str(target))
    assert validated.returncode == 0, validated.stderr
    assert "is valid: 1 entity, 5 sources" in validated.stdout
    listed = execintel_cli("sources", "--portfolio", str(target))
    assert listed.returncode == 0
    for kind, path in (("ledger-csv", "data/ledger.csv"), ("events-jsonl", "data/events.jsonl"),
                       ("contacts-csv", "data/contacts.csv"), ("costs-csv", "data/aws-costs.csv"),
                       ("handoffs", "handoffs")):  # fmt: skip
        line = next(line for line in listed.stdout.splitlines() if f" {kind} " in line)
        assert path in line and " ok " in line
    again = execintel_cli("init", str(target))
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr


def test_bad_rows_fail_unless_keep_going(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    execintel_cli("init", str(target))
    with (target / "data" / "ledger.csv").open("a", encoding="utf-8") as handle:
        handle.write("2026-10-30,Expenses:Rent,twelve,Bad,,,\n")
    failed = execintel_cli("run", "--dry-run", str(target), cwd=tmp_path)
    assert failed.returncode == 2
    assert not (tmp_path / "out").exists()  # invalid input: nothing is written
    assert "data/ledger.csv:10: amount: amount 'twelve' is not a number" in failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout
    kept = execintel_cli("run", "--dry-run", "--keep-going", str(target), cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    [run_dir] = (tmp_path / "out").iterdir()
    assert (run_dir / "cfo.json").is_file() and (run_dir / "ceo.txt").is_file()
    line = next(line for line in kept.stdout.splitlines() if " ledger-csv " in line)
    assert "│           8 │             1 │" in line


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path) -> None:
    quiet = execintel_cli("validate", str(tmp_path / "missing.yaml"))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert "missing.yaml: file not found" in quiet.stderr
    loud = execintel_cli("--debug", "validate", str(tmp_path / "missing.yaml"))
    assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = execintel_cli("validate", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


def test_shell_completion_script_is_offered() -> None:
    result = execintel_cli("--show-completion", "bash", env={"PATH": "/usr/bin:/bin", "SHELL": "/bin/bash"})
    assert result.returncode == 0, result.stderr
    assert "_EXECINTEL_COMPLETE" in result.stdout or "complete" in result.stdout


def test_preview_opens_the_newest_run_of_a_report(demo_run: RunOutput, tmp_path: Path) -> None:
    older = tmp_path / "out" / "20200101T000000Z-0000"
    older.mkdir(parents=True)
    (older / "cfo.html").write_text("<p>old</p>")
    shutil.copytree(demo_run.run_dir, tmp_path / "out" / demo_run.run_dir.name)
    newest = (tmp_path / "out" / demo_run.run_dir.name / "cfo.html").resolve()
    # no display: the path is printed
    printed = cli("preview", "cfo", cwd=tmp_path, env={"DISPLAY": ""})
    assert printed.returncode == 0, printed.stderr
    assert f"No browser here; the report is at {newest}" in " ".join(printed.stdout.split())
    # with a display, the browser the user chose (BROWSER) gets the page's file URL
    opened_file = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened_file}\n')
    browser.chmod(0o755)
    opened = cli("preview", "cfo", cwd=tmp_path, env={"DISPLAY": ":0", "BROWSER": str(browser)})
    assert opened.returncode == 0, opened.stderr
    assert opened_file.read_text().strip() == newest.as_uri()


def test_preview_before_any_run_says_how_to_make_one(tmp_path: Path) -> None:
    done = cli("preview", "ceo", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2
    assert "no ceo.html yet; run: execintel run --dry-run --out runs" in done.stderr
    unknown = cli("preview", "cfoo", cwd=tmp_path)
    assert unknown.returncode == 2 and "cfo" in unknown.stderr and "Traceback" not in unknown.stderr
