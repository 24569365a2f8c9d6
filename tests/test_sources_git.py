"""Git repositories: commits of all refs, tracked files, and every added line of history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GitRepo, WritePortfolio, base_manifest
from helpers import gitleaks_repo, load

KEY_SHA256 = "a833f87ec2d3eac383f36705e94cb9e080ef98a3c7f199f85ffd9290cf964716"


def _entity(*repos: str) -> dict[str, object]:
    return {"id": "qosd", "name": "Q", "repos": list(repos)}


def test_history_keeps_lines_of_files_no_longer_tracked(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    first = repo.commit("add env", {"repos.env": "AWS_REGION=us-west-2\nTOKEN=abc\n", "app.py": "print(1)\n"})
    repo.commit("remove env", {"repos.env": None, "app.py": "print(1)\nprint(2)\n"})
    result = load(write_portfolio(base_manifest(entities=[_entity("repos/app")])))
    [report] = result.reports
    assert report.errors == [] and report.rows_loaded == 2
    tracked = result.facts.query("SELECT path, content FROM repo_files")
    assert tracked == [("app.py", "print(1)\nprint(2)\n")]
    history = result.facts.query(
        "SELECT sha, line, text, source_file FROM repo_changes WHERE path = 'repos.env' AND line IS NOT NULL ORDER BY line"
    )
    assert history == [
        (first, 1, "AWS_REGION=us-west-2", "repos/app/repos.env"),
        (first, 2, "TOKEN=abc", "repos/app/repos.env"),
    ]
    changes = dict(
        result.facts.query(
            "SELECT change, count(*) FROM repo_changes WHERE path='repos.env' AND line IS NULL GROUP BY change"
        )
    )
    assert changes == {"A": 1, "D": 1}
    line2 = result.facts.query("SELECT sha FROM repo_changes WHERE path='app.py' AND line = 2")
    assert len(line2) == 1 and line2[0][0] != first


def test_public_leak_repository_history_is_read_across_all_refs(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio(base_manifest(entities=[_entity("small")]))
    gitleaks_repo(path.parent)
    result = load(path)
    [report] = result.reports
    assert report.errors == []
    assert report.rows_loaded == 9  # commits across all refs, not only the 7 on main
    hits = result.facts.query(
        "SELECT sha, path, line, text FROM repo_changes WHERE text LIKE '%AKIA%' ORDER BY sha, path"
    )
    places = {(sha, f"{p}:{line}") for sha, p, line, _ in hits}
    assert ("1b6da43b82b22e4eaa10bcf8ee591e91abbfc587", "main.go:20") in places
    assert ("491504d5a31946ce75e22554cc34203d8e5ff3ca", "foo/foo.go:9") in places
    tracked = dict(result.facts.query("SELECT path, content FROM repo_files"))
    for name in ("api/ignoreCommit.go", "api/ignoreGlobal.go"):
        line20 = tracked[name].splitlines()[19]
        key = line20[line20.index("AKIA") : line20.index("AKIA") + 20]
        assert hashlib.sha256(key.encode()).hexdigest() == KEY_SHA256
    assert "main.go" in tracked and "AKIA" not in tracked["main.go"]


def test_plain_folder_listed_as_repo_is_an_error(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio(base_manifest(entities=[_entity("notgit")]), {"notgit/readme.txt": "hi"})
    result = load(path)
    assert [str(p) for p in result.errors] == [
        "notgit: is not a git repository (no .git at its top); list the folder that holds .git"
    ]


def test_user_git_config_does_not_change_what_is_read(
    write_portfolio: WritePortfolio,
    make_repo: Callable[[str], GitRepo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings such as diff.noprefix or diff.mnemonicPrefix in the user's config must not shift paths."""
    repo = make_repo("repos/app")
    sha = repo.commit("add config", {"config/settings.env": "SECRET=one\n"})
    user_config = tmp_path / "user.gitconfig"
    user_config.write_text("[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n[log]\n\tshowSignature = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user_config))
    result = load(write_portfolio(base_manifest(entities=[_entity("repos/app")])))
    assert result.reports[0].errors == []
    assert result.facts.query("SELECT sha, path, line, text FROM repo_changes WHERE line IS NOT NULL") == [
        (sha, "config/settings.env", 1, "SECRET=one")
    ]


def test_each_file_change_is_recorded_under_the_commit_that_made_it(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    added = repo.commit("add env", {"repos.env": "A=1\n", "b.txt": "b\n"})
    removed = repo.commit("stop tracking env", {"repos.env": None})
    later = repo.commit("unrelated", {"c.txt": "c\n"})
    result = load(write_portfolio(base_manifest(entities=[_entity("repos/app")])))
    rows = result.facts.query("SELECT sha, path, change FROM repo_changes WHERE line IS NULL ORDER BY sha, path")
    assert sorted(rows) == sorted(
        [(added, "b.txt", "A"), (added, "repos.env", "A"), (removed, "repos.env", "D"), (later, "c.txt", "A")]
    )
