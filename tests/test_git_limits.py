"""Reading a repository holds bounded memory for a bounded time: big blobs, long lines, long histories, a hung git.

Each cut is said in a warning that names the repository (and the file and commit where there is one), and
everything within the limits is still read.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GIT_ENV, GitRepo, WritePortfolio, base_manifest
from execintel.sources import git as git_source
from execintel.sources.gitcmd import GitRunner, GitTimeout
from git_helpers import fake_aws_key, git
from helpers import load

# ``make test`` reads a short history; the full suite sets EXECINTEL_TEST_HISTORY_COMMITS=110000 to read more
# commits than the default limit of 100,000.
HISTORY_COMMITS = int(os.environ.get("EXECINTEL_TEST_HISTORY_COMMITS", "3000"))


def _manifest() -> dict[str, object]:
    return base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": ["repos/app"]}])


def _limits(monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    monkeypatch.setattr(git_source, "LIMITS", dataclasses.replace(git_source.LIMITS, **changes))


def test_a_50_mb_single_line_blob_in_history_is_set_aside_and_the_rest_is_read(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    key = fake_aws_key("history")
    first = repo.commit("start", {"app.py": "print(1)\n"})
    (repo.path / "bundle.min.js").write_bytes(b"var a=" + b"x" * (50 << 20) + b";\n")
    git(repo.path, "add", "bundle.min.js")
    big = repo.commit("add bundle", {"settings.py": f"KEY = '{key}'\n"})
    repo.commit("drop bundle", {"bundle.min.js": None, "settings.py": "KEY = None\n"})
    result = load(write_portfolio(_manifest()))
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        f"repos/app/bundle.min.js: warning: in commit {big[:12]} is 50 MB, over the 1 MB read from a file in "
        "history; that version is not scanned"
    ]
    facts = result.facts
    assert facts.query("SELECT max(length(text)) FROM repo_changes") == [(len(f"KEY = '{key}'"),)]
    assert facts.query("SELECT count(*) FROM repo_commits") == [(3,)]
    assert facts.query("SELECT sha, text FROM repo_changes WHERE path = 'settings.py' AND line = 1 ORDER BY text") == [
        (big, f"KEY = '{key}'"),
        (facts.query("SELECT sha FROM repo_commits ORDER BY committed_at DESC LIMIT 1")[0][0], "KEY = None"),
    ]
    assert facts.query("SELECT sha, change FROM repo_changes WHERE path = 'bundle.min.js' ORDER BY change") == [
        (big, "A"),
        (facts.query("SELECT sha FROM repo_commits ORDER BY committed_at DESC LIMIT 1")[0][0], "D"),
    ]
    assert ("app.py", first) in {(p, s) for s, p in facts.query("SELECT sha, path FROM repo_changes")}


def test_a_tracked_file_over_the_limit_is_listed_but_not_read(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    (repo.path / "data.json").write_bytes(b"[" + b"1," * 600_000 + b"1]\n")
    git(repo.path, "add", "data.json")
    repo.commit("data", {"app.py": "print(1)\n"})
    result = load(write_portfolio(_manifest()))
    assert result.errors == []
    assert result.facts.query("SELECT path, size, content IS NULL FROM repo_files ORDER BY path") == [
        ("app.py", 9, False),
        ("data.json", 1_200_004, True),
    ]
    assert "repos/app/data.json: warning: is 1.1 MB, over the 1 MB read from a tracked file; it is not scanned" in [
        str(w) for w in result.warnings
    ]


def test_a_line_longer_than_the_line_limit_is_cut_with_a_warning_and_its_start_kept(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("repos/app")
    key = fake_aws_key("long")
    sha = repo.commit("minified", {"dist/app.js": f"var k='{key}';" + "x" * 5000 + "\nshort\n"})
    _limits(monkeypatch, line_bytes=1000)
    result = load(write_portfolio(_manifest()))
    assert result.errors == []
    rows = result.facts.query("SELECT line, text FROM repo_changes WHERE line IS NOT NULL ORDER BY line")
    assert [(line, len(text)) for line, text in rows] == [(1, 1000), (2, 5)]
    assert rows[0][1].startswith(f"var k='{key}';")
    assert [str(w) for w in result.warnings] == [
        f"repos/app/dist/app.js: warning: line 1 in commit {sha[:12]} is 4.9 KB long; only its first 1000 bytes "
        "are kept for the scan"
    ]


def _fast_import(repo: Path, commits: int) -> None:
    """``commits`` commits made by git fast-import in seconds: commit i writes line i into one of 8 files."""
    stream = subprocess.Popen(
        ["git", "-C", str(repo), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        env={**os.environ, **GIT_ENV},
    )
    assert stream.stdin is not None
    write = stream.stdin.write
    for i in range(commits):
        message = b"commit %d\n" % i
        write(b"commit refs/heads/main\ncommitter T <t@example.com> %d +0000\n" % (1_700_000_000 + i * 60))
        write(b"data %d\n%s" % (len(message), message))
        body = b"value %d\n" % i
        write(b"M 100644 inline f%d.txt\ndata %d\n%s\n" % (i % 8, len(body), body))
    write(b"done\n")
    stream.stdin.close()
    assert stream.wait(timeout=600) == 0
    git(repo, "checkout", "-q", "main", "--", ".")


@pytest.mark.slow
def test_a_long_history_is_read_up_to_the_commit_limit_newest_first(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("repos/app")
    _fast_import(repo.path, HISTORY_COMMITS)
    limit = min(git_source.LIMITS.commits, HISTORY_COMMITS * 9 // 10)
    if limit != git_source.LIMITS.commits:
        _limits(monkeypatch, commits=limit)
    result = load(write_portfolio(_manifest()))
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        f"repos/app: warning: has more than {limit:,} commits; only the newest {limit:,} are read"
    ]
    facts = result.facts
    assert facts.query("SELECT count(*), count(DISTINCT sha) FROM repo_commits") == [(limit, limit)]
    assert facts.query("SELECT subject FROM repo_commits ORDER BY committed_at DESC LIMIT 1") == [
        (f"commit {HISTORY_COMMITS - 1}",)
    ]
    assert facts.query("SELECT count(*) FROM repo_commits WHERE subject = 'commit 0'") == [(0,)]
    oldest_read = HISTORY_COMMITS - limit
    added = facts.query("SELECT text FROM repo_changes WHERE line IS NOT NULL")
    assert sorted(text for (text,) in added) == sorted(f"value {i}" for i in range(oldest_read, HISTORY_COMMITS))
    tracked = dict(facts.query("SELECT path, content FROM repo_files"))
    assert tracked["f0.txt"] == f"value {(HISTORY_COMMITS - 1) // 8 * 8}\n"


def test_added_lines_past_the_history_limit_are_not_kept_and_it_is_said(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("repos/app")
    old = repo.commit("old", {"old.txt": "".join(f"old {i}\n" for i in range(40))})
    repo.commit("new", {"new.txt": "".join(f"new {i}\n" for i in range(40))})
    _limits(monkeypatch, history_lines=50)
    result = load(write_portfolio(_manifest()))
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        "repos/app: warning: has more history than execintel reads (50 added lines or 512 MB of them); history "
        f"from commit {old[:12]} back is not scanned"
    ]
    kept = result.facts.query("SELECT path, count(*) FROM repo_changes WHERE line IS NOT NULL GROUP BY path")
    assert sorted(kept) == [("new.txt", 40), ("old.txt", 10)]
    assert result.facts.query("SELECT count(*) FROM repo_commits") == [(2,)]


def test_a_git_command_that_hangs_is_stopped_at_its_deadline_naming_the_repository_and_command(
    write_portfolio: WritePortfolio,
    make_repo: Callable[[str], GitRepo],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    repo = make_repo("repos/app")
    repo.commit("first", {"a.txt": "a\n"})
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper = tmp_path / "bin" / "git"  # the real git, except that ``git log`` never ends
    wrapper.parent.mkdir()
    pid_file = tmp_path / "hung.pid"
    wrapper.write_text(
        f'#!/bin/sh\nfor a in "$@"; do [ "$a" = log ] && echo $$ > {pid_file} && exec sleep 600; done\n'
        f'exec {real_git} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    _limits(monkeypatch, timeout=5.0)
    result = load(write_portfolio(_manifest()))
    assert [str(p) for p in result.errors] == [
        "repos/app: git log was stopped after 5 s (the time limit of a git command)"
    ]
    hung = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # no process is left behind


def test_the_runner_stops_a_command_blocked_on_a_named_pipe_and_leaves_no_process(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow.git"
    subprocess.run(["git", "init", "-q", "--bare", str(shadow)], check=True, env={**os.environ, **GIT_ENV})
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # git waits for a writer that never comes
    runner = GitRunner(shadow, (), timeout=1.0)
    with (
        runner.stream("hash-object", str(fifo)) as stream,
        pytest.raises(GitTimeout, match=r"^git hash-object was stopped after 1 s \(the time limit of a git command\)$"),
    ):
        list(stream.records(b"\n", 100))
    with pytest.raises(ProcessLookupError):
        os.kill(stream.pid, 0)
