"""The bad-input corpus: every malformed input gives one line per problem naming its place, exit 2, no traceback.

Each folder of ``tests/data/bad`` is one case, run through the real CLI
(``python -m execintel validate``) in a copy of the folder:

- ``portfolio.yaml`` and the data files it names, wrong in one way;
- ``expected.txt``: lines (or parts of lines) the CLI must print on stderr,
  each one inside a single printed problem line;
- optionally ``generate.yaml``: files written at run time, for bytes that do
  not belong in a text file in git (Latin-1, binary, empty).

The DynamoDB case reads a table that does not exist on a moto server on
loopback; every case gets that server's endpoint, so none can reach AWS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import AWS_TEST_ENV, GitRepo, WritePortfolio, base_manifest
from execintel.sources.git import diff_header_path
from helpers import load

BAD = Path(__file__).parent / "data" / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())
SUMMARY = re.compile(r"^(\d+) problems? found\.$")  # validate cannot send: it does not say "nothing was sent"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def cli_env(moto_endpoint: str) -> dict[str, str]:
    """A clean environment whose AWS endpoint is a moto server on 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EXECINTEL_"))}
    return env | AWS_TEST_ENV | {"AWS_ENDPOINT_URL": moto_endpoint}


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> RunCli:
    """Run ``python -m execintel ARGS`` in a folder with the test environment."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "execintel", *args],
            cwd=cwd, env=cli_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    return run


def materialize(case: str, tmp_path: Path) -> Path:
    """Copy a case to ``tmp_path`` and write the files its ``generate.yaml`` describes."""
    folder = tmp_path / case
    shutil.copytree(BAD / case, folder, ignore=shutil.ignore_patterns("expected.txt", "generate.yaml"))
    description = BAD / case / "generate.yaml"
    if description.exists():
        for name, spec in yaml.safe_load(description.read_text(encoding="utf-8")).items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(spec["text"].encode(spec.get("encoding", "utf-8")))
    return folder


def expected_lines(case: str) -> list[str]:
    """What a case's output must contain, one item per line of ``expected.txt``."""
    return [line for line in (BAD / case / "expected.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_corpus_covers_at_least_forty_inputs() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert expected_lines(case), f"{case} has no expected.txt lines"
        generated = BAD / case / "generate.yaml"
        assert (BAD / case / "portfolio.yaml").exists() or "portfolio.yaml:" in generated.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_reported_line_by_line_with_exit_2(case: str, tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("validate", ".", cwd=materialize(case, tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "Internal error" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    summary = SUMMARY.match(lines[-1])
    assert summary, output
    problems = [line for line in lines[:-1] if ": warning:" not in line]
    # one problem per line: as many lines as the summary counts, none wrapped
    assert len(problems) == int(summary.group(1)), output
    for want in expected_lines(case):
        assert any(want in line for line in problems), f"{want!r} not in:\n{result.stderr}"


def test_keep_going_loads_the_good_rows_and_still_lists_the_bad_ones(tmp_path: Path, run_cli: RunCli) -> None:
    folder = materialize("ledger-non-numeric-amount", tmp_path)
    strict = run_cli("sources", ".", cwd=folder)
    assert strict.returncode == 2
    assert "data/ledger.csv:5: amount: amount '1,200' is not a number" in strict.stderr
    kept = run_cli("sources", ".", "--keep-going", cwd=folder)
    assert kept.returncode == 0, kept.stderr
    row = next(line for line in kept.stdout.splitlines() if " ledger-csv " in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:5] == ["ledger-csv", "data/ledger.csv", "qosd", "4", "1"]
    assert "data/ledger.csv:5: amount: amount '1,200' is not a number" in kept.stderr
    assert "Traceback" not in kept.stdout + kept.stderr


def test_allow_outside_accepts_a_path_outside_the_folder(tmp_path: Path, run_cli: RunCli) -> None:
    folder = materialize("path-escapes-folder", tmp_path)
    (tmp_path / "ledger.csv").write_text("date,account,amount\n2026-10-01,Equity:Opening-Balances,100\n")
    assert run_cli("validate", ".", cwd=folder).returncode == 2
    allowed = run_cli("validate", ".", "--allow-outside", cwd=folder)
    assert allowed.returncode == 0, allowed.stderr
    assert "is valid: 1 entity, 1 source, 1 row." in allowed.stdout


def test_an_unreadable_source_does_not_hide_bad_rows_of_the_others(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "ledger": "ledger.csv", "events": "events.jsonl", "contacts": "contacts.csv"}
    files: dict[str, str | bytes] = {
        "ledger.csv": b"date,account,amount\n2026-10-01,Income:Sales,caf\xe9\n",
        "events.jsonl": '{"ts": "2026-11-02T18:00:00Z", "type": "nps", "score": 11}\n',
        "contacts.csv": "email,subscribed\na@example.com,perhaps\n",
    }
    result = load(write_portfolio(base_manifest(entities=[entity]), files))
    assert [str(p) for p in result.errors] == [
        "ledger.csv:2: is not UTF-8 (byte 0xe9); re-save it as UTF-8",
        "events.jsonl:1: score: score 11 must be a whole number from 0 to 10",
        "contacts.csv:2: subscribed: subscribed 'perhaps' must be true or false",
    ]


def test_history_of_a_file_name_git_has_to_quote_keeps_its_name(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    repo.commit("add", {'we"ird.env': "TOKEN=abc\n", "tab\tname.txt": "x\n", "plain.txt": "y\n"})
    result = load(write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": ["repos/app"]}])))
    assert result.errors == []
    added = result.facts.query("SELECT path, text FROM repo_changes WHERE line IS NOT NULL ORDER BY path")
    assert added == [("plain.txt", "y"), ("tab\tname.txt", "x"), ('we"ird.env', "TOKEN=abc")]


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("diff --git a/app.py b/app.py", "app.py"),
        ("diff --git a/a b/c.txt b/a b/c.txt", "a b/c.txt"),
        ('diff --git "a/caf\\303\\251 \\"x\\".env" "b/caf\\303\\251 \\"x\\".env"', 'café "x".env'),
    ],
)
def test_diff_headers_name_the_file(header: str, path: str) -> None:
    assert diff_header_path(header) == path
