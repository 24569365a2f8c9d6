"""Reading an audited repository never leaves the portfolio folder and never opens a special file.

The repository's git data (``.git`` as a link or a ``gitdir:`` file, ``commondir``, alternates) must lie inside
the portfolio folder unless ``--allow-outside``; tracked files are read without following any link; named
pipes and devices, in the working tree or among the git data, are never opened.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import GIT_ENV, GitRepo, WritePortfolio, base_manifest, cli
from execintel.facts import Facts
from execintel.safefs import Confinement
from execintel.sources.base import SourceSpec
from execintel.sources.git import GitRepo as GitSource
from git_helpers import fake_aws_key, git, source_rows
from helpers import load


def _manifest(*repos: str) -> dict[str, object]:
    return base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": list(repos)}])


@pytest.fixture
def outside(tmp_path: Path) -> GitRepo:
    """A repository outside the portfolio folder, holding a secret that must never be read."""
    repo = GitRepo(tmp_path / "outside")
    repo.commit("outside", {"private.txt": f"KEY = '{fake_aws_key('outside')}'\n"})
    return repo


def _no_outside_data(result: object) -> None:
    facts = result.facts  # type: ignore[attr-defined]
    key = fake_aws_key("outside")
    assert facts.query("SELECT count(*) FROM repo_files WHERE content LIKE ?", [f"%{key}%"]) == [(0,)]
    assert facts.query("SELECT count(*) FROM repo_changes WHERE text LIKE ?", [f"%{key}%"]) == [(0,)]
    assert facts.query("SELECT count(*) FROM repo_files WHERE path = 'private.txt'") == [(0,)]


def test_gitdir_file_pointing_outside_is_refused(
    write_portfolio: WritePortfolio, outside: GitRepo, tmp_path: Path
) -> None:
    manifest = write_portfolio(_manifest("repos/app"), {"repos/app/.git": f"gitdir: {outside.path / '.git'}\n"})
    result = load(manifest)
    [problem] = result.errors
    assert problem.file == "repos/app"
    assert "has .git (gitdir: " in problem.message and "leading outside the portfolio folder" in problem.message
    assert "--allow-outside" in problem.message
    _no_outside_data(result)
    allowed = load(manifest, allow_outside=True)
    assert allowed.errors == []
    assert allowed.facts.query("SELECT count(*) FROM repo_commits") == [(1,)]


def test_dot_git_symlink_leading_outside_is_refused(write_portfolio: WritePortfolio, outside: GitRepo) -> None:
    manifest = write_portfolio(_manifest("repos/app"), {"repos/app/readme.txt": "hi\n"})
    (manifest.parent / "repos" / "app" / ".git").symlink_to(outside.path / ".git")
    result = load(manifest)
    [problem] = result.errors
    assert problem.message.startswith("has .git leading outside the portfolio folder through a symbolic link")
    _no_outside_data(result)


def test_alternates_outside_are_refused(write_portfolio: WritePortfolio, outside: GitRepo) -> None:
    manifest = write_portfolio(_manifest("repos/app"))
    subprocess.run(
        ["git", "clone", "-q", "--shared", str(outside.path), str(manifest.parent / "repos" / "app")],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
    )
    result = load(manifest)
    [problem] = result.errors
    assert "objects/info/alternates entry" in problem.message
    assert "leading outside the portfolio folder" in problem.message
    _no_outside_data(result)


def test_commondir_outside_is_refused(write_portfolio: WritePortfolio, outside: GitRepo) -> None:
    manifest = write_portfolio(_manifest("repos/wt"))
    root = manifest.parent
    git(outside.path, "worktree", "add", "-q", str(root / "repos" / "wt"))
    # Move the worktree's own git folder inside the portfolio: only its commondir still leads out.
    shutil.move(outside.path / ".git" / "worktrees" / "wt", root / "gitdirs" / "wt")
    (root / "repos" / "wt" / ".git").write_text("gitdir: ../../gitdirs/wt\n")
    (root / "gitdirs" / "wt" / "commondir").write_text(f"{outside.path / '.git'}\n")
    result = load(manifest)
    [problem] = result.errors
    assert "commondir" in problem.message and "leading outside the portfolio folder" in problem.message
    _no_outside_data(result)


def test_worktree_inside_the_portfolio_is_read_with_every_ref(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    main = make_repo("repos/main")
    first = main.commit("first", {"a.txt": "a\n"})
    manifest = write_portfolio(_manifest("repos/wt"))
    git(main.path, "worktree", "add", "-q", "-b", "feature", str(manifest.parent / "repos" / "wt"))
    (manifest.parent / "repos" / "wt" / "b.txt").write_text("b\n")
    git(manifest.parent / "repos" / "wt", "add", "b.txt")
    result = load(manifest)
    assert result.errors == [] and result.warnings == []
    assert result.facts.query("SELECT sha FROM repo_commits") == [(first,)]
    assert result.facts.query("SELECT path FROM repo_files ORDER BY path") == [("a.txt",), ("b.txt",)]


def test_tracked_symlinks_are_never_followed(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], outside: GitRepo
) -> None:
    repo = make_repo("repos/app")
    (repo.path / "settings.py").symlink_to(outside.path / "private.txt")
    (repo.path / "alias.txt").symlink_to("notes.txt")
    repo.commit("links", {"notes.txt": "inside\n"})
    git(repo.path, "add", "settings.py", "alias.txt")
    repo.commit("add links", {})
    result = load(write_portfolio(_manifest("repos/app")))
    assert result.errors == []
    files = {path: (size, content) for path, size, content in result.facts.query(
        "SELECT path, size, content FROM repo_files")}  # fmt: skip
    assert files["notes.txt"] == (7, "inside\n")
    assert files["alias.txt"] == (len("notes.txt"), None)
    assert files["settings.py"][1] is None
    _no_outside_data(result)
    warnings = {p.file: p.message for p in result.warnings}
    assert warnings["repos/app/settings.py"] == (
        f"is a symbolic link (to {str(outside.path / 'private.txt')!r}); links in a repository are never followed"
    )
    assert "repos/app/alias.txt" in warnings


def test_tracked_files_below_a_symlinked_folder_are_not_read(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], outside: GitRepo
) -> None:
    repo = make_repo("repos/app")
    repo.commit("config", {"conf/private.txt": "x\n", "docs/other.txt": "x\n", "top.txt": "top\n"})
    shutil.rmtree(repo.path / "conf")
    (repo.path / "conf").symlink_to(outside.path)  # the index still lists conf/private.txt
    shutil.rmtree(repo.path / "docs")
    elsewhere = repo.path.parent / "elsewhere"  # inside the portfolio, but reached only through a link
    elsewhere.mkdir()
    (elsewhere / "other.txt").write_text("reachable only through a link\n")
    (repo.path / "docs").symlink_to(elsewhere)
    result = load(write_portfolio(_manifest("repos/app")))
    assert result.errors == []
    assert result.facts.query("SELECT path, content FROM repo_files WHERE content IS NOT NULL") == [
        ("top.txt", "top\n")
    ]
    _no_outside_data(result)
    warnings = {p.file: p.message for p in result.warnings}
    assert warnings == {
        "repos/app/conf/private.txt": "is below 'conf', a symbolic link; links in a repository are never followed",
        "repos/app/docs/other.txt": "is below 'docs', a symbolic link; links in a repository are never followed",
    }


def test_fifo_and_device_in_the_working_tree_are_not_opened(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    repo.commit("files", {"pipe.txt": "was a file\n", "zero.txt": "was a file\n", "ok.txt": "ok\n"})
    (repo.path / "pipe.txt").unlink()
    os.mkfifo(repo.path / "pipe.txt")
    (repo.path / "zero.txt").unlink()
    try:
        os.mknod(repo.path / "zero.txt", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is
        device = True
    except PermissionError:
        (repo.path / "zero.txt").symlink_to("/dev/zero")
        device = False
    manifest = write_portfolio(_manifest("repos/app"))
    done = cli("sources", str(manifest), cwd=manifest.parent, timeout=120)  # a blocking read would time out here
    assert done.returncode == 0, done.stdout + done.stderr
    assert source_rows(done.stdout)["repos/app"][-1] == "warnings"
    assert "repos/app/pipe.txt: warning: is a named pipe (FIFO) in the working tree, not a regular file" in done.stderr
    expected = "is a character device in the working tree" if device else "is a symbolic link (to '/dev/zero')"
    assert f"repos/app/zero.txt: warning: {expected}" in done.stderr
    result = load(manifest)
    assert result.facts.query("SELECT path FROM repo_files WHERE content IS NOT NULL") == [("ok.txt",)]


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        (".git/objects/pack/pack-0000.idx", "has .git/objects/pack/pack-0000.idx, which is a named pipe (FIFO)"),
        (".git/index", "has .git/index, which is a named pipe (FIFO)"),
    ],
)
def test_a_fifo_git_would_read_refuses_the_repository_at_once(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo], place: str, expected: str
) -> None:
    repo = make_repo("repos/app")
    repo.commit("first", {"a.txt": "a\n"})
    target = repo.path / place
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    manifest = write_portfolio(_manifest("repos/app"))
    done = cli("sources", str(manifest), cwd=manifest.parent, timeout=120)
    assert done.returncode == 2
    assert (
        f"repos/app: {expected}: git would wait on it forever; the repository is not read" in done.stdout + done.stderr
    )


def test_a_fifo_ref_is_skipped_with_a_warning(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    repo.commit("first", {"a.txt": "a\n"})
    os.mkfifo(repo.path / ".git" / "refs" / "heads" / "stuck")
    manifest = write_portfolio(_manifest("repos/app"))
    done = cli("sources", str(manifest), cwd=manifest.parent, timeout=120)  # git reading the FIFO would block
    assert done.returncode == 0, done.stdout + done.stderr
    assert source_rows(done.stdout)["repos/app"][3] == "1"
    assert "repos/app: warning: has .git/refs/heads/stuck, which is a named pipe (FIFO)" in done.stderr


def test_repository_folder_given_through_a_link_out_of_the_portfolio_is_refused(
    write_portfolio: WritePortfolio, outside: GitRepo, tmp_path: Path
) -> None:
    manifest = write_portfolio(_manifest("repos/app"))
    (manifest.parent / "repos").mkdir()
    (manifest.parent / "repos" / "app").symlink_to(outside.path)
    done = cli("sources", str(manifest), cwd=tmp_path)
    assert done.returncode == 2
    assert "escapes the manifest's folder" in done.stdout + done.stderr
    # The connector checks again by itself (the link may change after the manifest was checked).
    spec = SourceSpec(
        "git", "repos/app", "repos/app", "entities[0].repos[0]", outside.path, "qosd", ("qosd",),
        confine=Confinement.of(manifest.parent),
    )  # fmt: skip
    report = GitSource(spec).load(Facts())
    [problem] = report.errors
    assert problem.message.startswith("leads outside the portfolio folder")
