"""Odd values on the command line get a sentence naming the option and the value, exit 2 and no traceback.

The checks every case shares: the status is 2, the expected sentence is on standard error, there is no
traceback and no "Internal error", and the final line says "nothing was sent" only where the command could have
sent mail (a delivering ``run``, ``schedule``). The table of refusals runs the CLI's ``main()`` in this process
(a subprocess costs a second of imports per case); the tests after it run ``python -m execintel`` as a user would.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli
from execintel.cli import main
from execintel.starter import write_starter

# Reading the data of a portfolio prints this; a refusal of the command line comes before it.
LOADED = "validated"


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A working folder with a small portfolio ``mine`` (and ``far``, dated 9999), a file, a FIFO, dotenv files."""
    write_starter(tmp_path / "mine")
    write_starter(tmp_path / "far")
    manifest = tmp_path / "far" / "portfolio.yaml"
    manifest.write_text(manifest.read_text().replace("# as_of: 2026-11-15", "as_of: 9999-12-30"), encoding="utf-8")
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "latin1.env").write_bytes("EXECINTEL_TRIGGER=caf\xe9\n".encode("latin-1"))
    (tmp_path / "bad-value.env").write_text("# settings\nEXECINTEL_DEBUG=maybe\n", encoding="utf-8")
    (tmp_path / "portfolio.env").write_text("EXECINTEL_PORTFOLIO=nowhere\n", encoding="utf-8")
    return tmp_path


def refused(done: subprocess.CompletedProcess[str], expected: str, *, sent: bool = False) -> None:
    """The command stopped with a user error saying ``expected``, and said "nothing was sent" only if ``sent``."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert expected in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in output and "Internal error" not in output, output
    assert ("nothing was sent" in done.stderr) is sent, done.stderr


CASES = [
    # --out: a file, or inside one, for run and preview
    (["run", "--dry-run", "mine", "--out", "afile"], "--out: 'afile' is a file, not a folder"),
    (["run", "--dry-run", "mine", "--out", "afile/runs"], "--out: 'afile/runs' is inside"),
    (["preview", "cfo", "--out", "afile"], "--out: 'afile' is a file, not the folder of the runs"),
    (["preview", "cfo", "--out", "nothing-here"], "--out: 'nothing-here' holds no cfo.html yet"),
    # --env-file: not UTF-8, a folder, missing, a FIFO (which would block), a bad value in it (with its line)
    (["--env-file", "latin1.env", "validate", "mine"], "--env-file: 'latin1.env' is not UTF-8 text (byte 0xe9 on line 1)"),
    (["--env-file", "mine", "validate", "mine"], "--env-file: 'mine' is a folder, not a dotenv file"),
    (["--env-file", "missing.env", "validate", "mine"], "--env-file: 'missing.env' does not exist"),
    (["--env-file", "fifo", "validate", "mine"], "--env-file: 'fifo' is not a regular file"),
    (["--env-file", "bad-value.env", "validate", "mine"], "bad-value.env:2: EXECINTEL_DEBUG: 'maybe' is not valid"),
    # one report id where one is expected; none; an unknown one, with a did-you-mean
    (["preview", "cfo,cto"], "REPORT: 'cfo,cto' names 2 reports; give one report id"),
    (["preview", " "], "REPORT: names no report"),
    (["preview", "cfx"], "REPORT: unknown report 'cfx' (did you mean 'cfo'?)"),
    (["run", "--dry-run", "mine", "--reports", "cfx"], "--reports: unknown report 'cfx' (did you mean 'cfo'?)"),
    (["run", "--dry-run", "mine", "--reports", "zzz"], "--reports: unknown report 'zzz' (known: ceo, cto, cfo,"),
    (["run", "--dry-run", "mine", "--reports", ","], "--reports: names no report"),
    # --as-of: not a date, empty, or a date no report can be about
    (["explain", "cash.portfolio", "mine", "--as-of", "2026-13-01"], "--as-of: '2026-13-01' is not a date"),
    (["explain", "cash.portfolio", "mine", "--as-of", ""], "--as-of: '' is not a date"),
    (["explain", "cash.portfolio", "mine", "--as-of", "9999-12-30"], "--as-of: '9999-12-30' is not a report date"),
    (["run", "--dry-run", "mine", "--as-of", "0001-01-01"], "--as-of: '0001-01-01' is not a report date"),
    (["explain", "cash.portfolio", "far"], "far/portfolio.yaml: portfolio.as_of: '9999-12-30' is not a report date"),
    # the portfolio: missing or a FIFO, named by the way it was given
    (["validate", "nowhere"], "PATH: 'nowhere' does not exist"),
    (["sources", "--portfolio", "nowhere"], "--portfolio: 'nowhere' does not exist"),
    (["validate", "fifo"], "PATH: 'fifo' is not a file or a folder"),
    (["--env-file", "portfolio.env", "validate"], "EXECINTEL_PORTFOLIO (in portfolio.env): 'nowhere' does not exist"),
    # explain: an empty figure id; init into a folder that cannot be made
    (["explain", "", "mine"], "FIGURE_ID: is empty"),
    (["init", "/proc/execintel-test"], "DIRECTORY: '/proc/execintel-test' cannot be written"),
    # usage errors Typer reports for options with ranges
    (["explain", "cash.portfolio", "mine", "--rows", "-1"], "Invalid value for '--rows'"),
    (["run", "--dry-run", "mine", "--wait", "nan"], "Invalid value for '--wait': nan is not a number of seconds"),
    (["run", "--dry-run", "mine", "--mailer", ""], "Invalid value for '--mailer': is empty"),
    (["run", "--dry-run", "mine", "--store", " "], "Invalid value for '--store': is empty"),
]  # fmt: skip


def in_process(args: list[str], place: Path, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``execintel ARGS`` through the CLI's ``main()`` in this process, in ``place``, with a clean environment."""
    for name in [n for n in os.environ if n.startswith("EXECINTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(place / ".execintel-data"))
    monkeypatch.chdir(place)
    monkeypatch.setattr(sys, "argv", ["execintel", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, int(exited.value.code or 0), captured.out, captured.err)


@pytest.mark.timeout(120)  # a FIFO opened by mistake would block forever
@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_bad_value_is_a_sentence_naming_the_option(
    place: Path, args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    done = in_process(args, place, monkeypatch, capsys)
    refused(done, expected)
    assert LOADED not in done.stdout  # refused before any data was read
    assert not (place / "out").exists()


def test_environment_values_are_named_as_environment_variables(place: Path) -> None:
    done = cli("validate", cwd=place, env={"EXECINTEL_PORTFOLIO": "nowhere"})
    refused(done, "EXECINTEL_PORTFOLIO: 'nowhere' does not exist")
    done = cli("run", "mine", "--reports", "ceo", cwd=place, env={"EXECINTEL_MAILER": "carrier-pigeon:coop"})
    refused(done, "EXECINTEL_MAILER: unknown mailer", sent=True)
    done = cli("run", "mine", "--reports", "ceo", "--mailer", "carrier-pigeon:coop", cwd=place)
    refused(done, "--mailer: unknown mailer", sent=True)
    assert "EXECINTEL_MAILER" not in done.stderr


def test_report_ids_are_checked_before_any_source_is_loaded(place: Path) -> None:
    """The ledger has a bad row: only the report id is reported, so the data was never read."""
    with (place / "mine" / "data" / "ledger.csv").open("a", encoding="utf-8") as handle:
        handle.write("2026-10-30,Expenses:Rent,twelve,Bad,,,\n")
    done = cli("run", "mine", "--reports", "ceo,cfx", cwd=place)
    refused(done, "--reports: unknown report 'cfx' (did you mean 'cfo'?)", sent=True)
    assert "twelve" not in done.stderr and LOADED not in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "1 problem found; nothing was sent."


def test_nothing_was_sent_only_where_sending_was_possible(place: Path) -> None:
    with (place / "mine" / "data" / "ledger.csv").open("a", encoding="utf-8") as handle:
        handle.write("2026-10-30,Expenses:Rent,twelve,Bad,,,\n")
    for args in (["validate", "mine"], ["sources", "mine"], ["explain", "cash.portfolio", "mine", "--as-of", "x"],
                 ["run", "--dry-run", "mine"]):  # fmt: skip
        done = cli(*args, cwd=place)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "1 problem found.", args
    delivering = cli("run", "mine", cwd=place)
    assert delivering.returncode == 2
    assert delivering.stderr.strip().splitlines()[-1] == "1 problem found; nothing was sent."
    assert not list(place.glob("outbox/*.eml"))  # the outbox was checked before any work, and nothing went in


def test_out_that_cannot_be_created_is_named(place: Path) -> None:
    """A folder the file system refuses (here under /proc, which nobody can write, root included)."""
    done = cli("run", "--dry-run", "mine", "--reports", "ceo", "--no-pdf", "--out", "/proc/execintel-test", cwd=place)
    refused(done, "--out: '/proc/execintel-test': the run's folder cannot be created")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_out_in_a_folder_without_write_permission(place: Path) -> None:
    locked = place / "locked"
    locked.mkdir(mode=0o500)
    done = cli("run", "--dry-run", "mine", "--out", "locked/runs", cwd=place)
    refused(done, "--out: 'locked/runs' cannot be written")


def test_a_file_system_error_is_a_sentence_not_an_internal_error(place: Path) -> None:
    """A full disk (a 1 KiB file size limit here): the file and the reason, exit 1, no traceback."""

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    base = {"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HOME": str(place),
            "EXECINTEL_DATA_DIR": str(place / "data")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "execintel", "run", "--dry-run", "mine", "--reports", "ceo",
                           "--no-pdf"], cwd=place, env=base, capture_output=True, text=True, timeout=120,
                          preexec_fn=small_files, check=False)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Error: File too large: " in done.stderr and "ceo.json" in done.stderr, done.stderr
    assert "Traceback" not in output and "Internal error" not in output


def test_rows_zero_prints_where_the_rows_are_but_no_rows(place: Path) -> None:
    done = cli("explain", "cash.portfolio", "mine", "--rows", "0", cwd=place)
    assert done.returncode == 0, done.stderr
    assert "    data/ledger.csv:2-" in done.stdout  # the reference
    assert " | " not in done.stdout and "date,account,amount" not in done.stdout  # no row, no CSV header
    three = cli("explain", "cash.portfolio", "mine", "--rows", "3", cwd=place)
    assert three.stdout.count(" | ") == 3 and "more rows (--rows N to see more)" in three.stdout


def test_plurals_read_correctly(place: Path) -> None:
    done = cli("run", "--dry-run", "mine", "--reports", "ceo", "--no-pdf", cwd=place)
    assert done.returncode == 0, done.stderr
    assert "wrote 1 report to " in " ".join(done.stdout.split())
    assert "reports to" not in done.stdout
    (place / "one").mkdir()
    (place / "one" / "portfolio.yaml").write_text((place / "mine" / "portfolio.yaml").read_text().replace(
        "    events: data/events.jsonl", "").replace("    contacts: data/contacts.csv", "").replace(
        "cloud_costs: data/aws-costs.csv", "").replace("handoffs: handoffs/", ""), encoding="utf-8")  # fmt: skip
    (place / "one" / "data").mkdir()
    (place / "one" / "data" / "ledger.csv").write_text("date,account,amount\n2026-09-01,Income:Sales,5\n")
    validated = cli("validate", "one", cwd=place)
    assert validated.returncode == 0, validated.stderr
    assert "is valid: 1 entity, 1 source, 1 row." in validated.stdout
