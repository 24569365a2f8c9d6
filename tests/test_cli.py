"""The command line as a user runs it: real subprocesses, exit codes, no tracebacks."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import execintel
from conftest import RunOutput, cli


def execintel_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``execintel ARGS`` with this process's environment (a run in ``cwd`` keeps its audit store there)."""
    if env is None and cwd is not None:
        env = {**os.environ, "EXECINTEL_DATA_DIR": str(cwd / ".execintel-data")}
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
    kept = execintel_cli(
        "run", "--dry-run", "--keep-going", "--no-pdf", "--reports", "cfo,ceo", str(target), cwd=tmp_path
    )
    assert kept.returncode == 0, kept.stderr
    [run_dir] = (tmp_path / "out").iterdir()
    assert (run_dir / "cfo.json").is_file() and (run_dir / "ceo.txt").is_file()
    line = next(line for line in kept.stdout.splitlines() if " ledger-csv " in line)
    assert "│           8 │             1 │" in line


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path) -> None:
    quiet = execintel_cli("validate", str(tmp_path / "missing.yaml"))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert f"PATH: '{tmp_path / 'missing.yaml'}' does not exist" in quiet.stderr
    loud = execintel_cli("--debug", "validate", str(tmp_path / "missing.yaml"))
    assert loud.returncode == 2 and "Traceback" in loud.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = execintel_cli("validate", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


def test_shell_completion_script_is_offered() -> None:
    # Typer finds the shell by walking up the process tree, as it would from a user's bash prompt: so the command
    # runs from bash (``; true`` keeps bash its parent), whatever shell started the test run (make uses sh).
    command = f"{shlex.quote(sys.executable)} -m execintel --show-completion; true"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin", "SHELL": "/bin/bash"})  # fmt: skip
    assert result.stderr == "" and "_EXECINTEL_COMPLETE=complete_bash" in result.stdout, result.stderr


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


# --- terminal escapes in data ----------------------------------------------------------------------------------

# What a hostile value may carry: a colour, a clear-screen, an OSC 8 hyperlink ended by BEL, a backspace, a C1
# CSI, a carriage return and a newline that would forge a line of its own.
LINK = "\x1b]8;;http://evil.test\x07click\x1b]8;;\x07"
HOSTILE = f"Evil \x1b[31mRED\x1b[2J {LINK}\x08\x9b1m\r\nFORGED line"
RAW = ("\x1b[2J", "\x1b]8;;", "\x07", "\x08", "\x9b", "RED\x1b", "FORGED line\x1b")  # never in the output


def _hostile(tmp_path: Path) -> Path:
    """The starter portfolio with control characters in its name, an entity name, a file name and a ledger cell."""
    import yaml

    from execintel.starter import write_starter

    root = tmp_path / "mine"
    write_starter(root)
    manifest = yaml.safe_load((root / "portfolio.yaml").read_text(encoding="utf-8"))
    manifest["portfolio"]["name"] = HOSTILE
    manifest["portfolio"]["as_of"] = "2026-11-15"
    manifest["entities"][0]["name"] = f"Shop {HOSTILE}"
    ledger = "data/l\x1b[2Jedger\x07.csv"
    (root / "data" / "ledger.csv").rename(root / ledger)
    manifest["entities"][0]["ledger"] = ledger
    (root / "portfolio.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    with (root / ledger).open("a", encoding="utf-8") as handle:
        handle.write(f"2026-10-30,Expenses:Rent,-10,{LINK} rent\x1b[2J,x,,R-9\n")
        handle.write("2026-10-31,Expenses:Rent,twelve,Bad,,,\n")  # a problem line naming the file
    return root


def _shown_safely(output: str) -> None:
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"
    assert not any(line.startswith("FORGED") for line in output.replace("\r", "\n").splitlines())
    assert "␛[2J" in output  # shown as what it is


def test_control_characters_in_data_never_reach_the_terminal(tmp_path: Path) -> None:
    root = _hostile(tmp_path)
    listed = cli("sources", str(root), "--keep-going", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    _shown_safely(listed.stdout + listed.stderr)
    assert "\x1b" not in listed.stdout + listed.stderr  # not a terminal: Rich writes no escape of its own either
    assert "Sources of Evil ␛[31mRED␛[2J ␛]8;;http://evil.test␇click␛]8;;␇␈�1m␍␊FORGED line" in listed.stdout
    assert "data/l␛[2Jedger␇.csv:" in listed.stderr  # the problem line
    explained = cli("explain", "cash.shop", str(root), "--rows", "100", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    _shown_safely(explained.stdout)
    assert "␛]8;;http://evil.test␇click␛]8;;␇ rent␛[2J" in explained.stdout  # the source row, visibly
    # A terminal (Rich draws the status and progress lines too): only Rich's own escapes are there.
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    ran = cli("run", "--dry-run", str(root), "--keep-going", "--reports", "ceo", "--no-pdf", cwd=tmp_path, env=terminal)
    assert ran.returncode == 0, ran.stderr
    _shown_safely(ran.stdout + ran.stderr)
    assert "Loading ledger-csv data/l␛[2Jedger␇.csv" in ran.stderr
    runs = cli("audit", "list", cwd=tmp_path)
    _shown_safely(runs.stdout)


# --- what changed: the previous run of the same portfolio, from the audit store ----------------------------------


def test_what_changed_compares_with_the_same_portfolio_only(demo_run: RunOutput, tmp_path: Path) -> None:
    """The demo's run in the same out/ (and store) is another portfolio's: a first report lists nothing as resolved."""
    import json

    from execintel.starter import write_starter

    shutil.copytree(demo_run.run_dir, tmp_path / "out" / demo_run.run_dir.name)
    shutil.copytree(demo_run.folder / ".execintel-data", tmp_path / ".execintel-data")  # the store that recorded it
    write_starter(tmp_path / "mine")
    first = cli("run", "--dry-run", "mine", "--reports", "ceo", "--no-pdf", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    newest = sorted((tmp_path / "out").iterdir())[-1]
    text = (newest / "ceo.txt").read_text(encoding="utf-8")
    assert "Resolved" not in text and "What changed" not in text
    assert "This is the first recorded run of this portfolio" in text
    assert "changes" not in [s["id"] for s in json.loads((newest / "ceo.json").read_text())["sections"]]
    # the same portfolio's next run compares with that first (dry) run, and only with it
    second = cli("run", "--dry-run", "mine", "--reports", "ceo", "--no-pdf", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    newest = sorted((tmp_path / "out").iterdir())[-1]
    text = (newest / "ceo.txt").read_text(encoding="utf-8")
    assert "What changed since" in text and "Nothing: every figure and finding is as it was." in text
    assert "Resolved" not in text
    # every dry run is in the audit store, shown as one
    runs = cli("audit", "list", cwd=tmp_path)
    rows = [line for line in runs.stdout.splitlines() if "(dry run)" in line]
    assert [("My Holdings" in row, "Demo Holdings" in row) for row in rows] == [(True, False), (True, False),
                                                                                 (False, True)]  # fmt: skip
