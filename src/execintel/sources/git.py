"""Git repositories: commits, tracked files and every added line of history, via the ``git`` CLI.

Nothing is scanned here; the CTO analysis looks for secrets in the
``repo_files`` and ``repo_changes`` tables this connector fills.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from execintel.errors import SourceError
from execintel.facts import Facts, column_names
from execintel.sources.base import Source, SourceReport, register

MAX_FILE_BYTES = 1_000_000
_SEP, _END = "\x1f", "\x1e"
_LOG_FORMAT = _SEP.join(("%H", "%P", "%an", "%ae", "%aI", "%cI", "%s")) + _END
# Pin every setting that changes the output we parse, whatever the user's git config says.
_ISOLATE = (
    "-c", "core.quotepath=off", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false", "-c", "log.showSignature=false", "-c", "color.ui=never",
    "-c", "i18n.logOutputEncoding=UTF-8", "-c", "log.showRoot=true",
)  # fmt: skip
_COMMIT_MARK = "\x00commit "  # printed by git for the %x00 placeholder (argv cannot hold NUL)


@register
class GitRepo(Source):
    """A git working tree: its tracked files as on disk, and its whole history (all refs)."""

    kind = "git"
    table = "repo_commits"

    @property
    def path(self) -> Path:
        """The working tree's folder."""
        if self.spec.path is None:
            raise self.fail("is not a local folder")
        return self.spec.path

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        if shutil.which("git") is None:
            raise self.fail("cannot be read: the git command is not installed")
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", *_ISOLATE, "-C", str(self.path), *args],  # noqa: S607
            capture_output=True,
            check=False,
        )
        if check and result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise self.fail(f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
        return result

    def _check_repository(self) -> bool:
        """True when the folder is a repository's top level with at least one commit."""
        top = self._git("rev-parse", "--show-toplevel", check=False)
        detail = top.stderr.decode("utf-8", "replace").strip().splitlines()
        if top.returncode != 0 and detail and "not a git repository" not in detail[0]:
            # e.g. "detected dubious ownership": a repository git refuses to read
            raise self.fail(f"cannot be read by git: {detail[0].removeprefix('fatal: ')}")
        if top.returncode != 0 or Path(top.stdout.decode().strip()).resolve() != self.path.resolve():
            raise self.fail("is not a git repository (no .git at its top); list the folder that holds .git")
        if self._git("rev-parse", "--verify", "-q", "HEAD", check=False).returncode != 0:
            has_refs = self._git("for-each-ref", "--count=1", check=False).stdout.strip()
            if not has_refs:
                self.problem("has no commits yet", warning=True)
                return False
        return True

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per commit reachable from any ref."""
        out = self._git("log", "--all", "--date-order", f"--format={_LOG_FORMAT}").stdout.decode("utf-8", "replace")
        entity, repo = self.spec.entity, self.spec.display
        for raw in out.split(_END):
            record = raw.strip("\n")
            if not record:
                continue
            sha, parents, name, email, authored, committed, subject = record.split(_SEP, 6)
            yield (
                entity, repo, sha, parents, name, email,
                dt.datetime.fromisoformat(authored), dt.datetime.fromisoformat(committed),
                subject, repo, None,
            )  # fmt: skip

    def files(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per tracked file, with its working-tree content when it is text."""
        listing = self._git("ls-files", "-z").stdout.decode("utf-8", "replace")
        entity, repo = self.spec.entity, self.spec.display
        for name in filter(None, listing.split("\x00")):
            path = self.path / name
            try:
                size = path.stat().st_size
                data = path.read_bytes() if size <= MAX_FILE_BYTES else b""
            except OSError:
                continue  # tracked but deleted from the working tree
            binary = b"\x00" in data[:8192]
            content = None if binary or size > MAX_FILE_BYTES else data.decode("utf-8", "replace")
            yield entity, repo, name, size, binary, content, f"{repo}/{name}", None

    def changes(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per file touched by a commit and one per line it added."""
        args = ("log", "--all", "-p", "-U0", "--no-color", "--no-renames", "--no-ext-diff", "--no-textconv")
        out = self._git(*args, "--src-prefix=a/", "--dst-prefix=b/", "--format=%x00commit %H").stdout.decode(
            "utf-8", "replace"
        )
        entity, repo = self.spec.entity, self.spec.display
        sha = path = ""
        change = "M"
        line_no = 0
        for raw in out.split("\n"):
            if raw.startswith(_COMMIT_MARK):
                if path:  # the previous commit's last file
                    yield entity, repo, sha, path, change, None, None, f"{repo}/{path}", None
                    path = ""
                sha = raw[len(_COMMIT_MARK) :]
            elif raw.startswith("diff --git "):
                if path:
                    yield entity, repo, sha, path, change, None, None, f"{repo}/{path}", None
                path, change = diff_header_path(raw), "M"
            elif raw.startswith("new file mode"):
                change = "A"
            elif raw.startswith("deleted file mode"):
                change = "D"
            elif raw.startswith("@@ "):
                new_range = raw.split(" ")[2]  # +start[,count]
                line_no = int(new_range[1:].split(",")[0])
            elif raw.startswith("+") and not raw.startswith("+++ "):
                yield entity, repo, sha, path, change, line_no, raw[1:], f"{repo}/{path}", line_no
                line_no += 1
        if path:
            yield entity, repo, sha, path, change, None, None, f"{repo}/{path}", None

    def load(self, facts: Facts) -> SourceReport:
        """Load commits, tracked files and history into their three tables."""
        report = self._report
        try:
            if not self._check_repository():
                return report
            report = super().load(facts)
            for table, rows in (("repo_files", self.files()), ("repo_changes", self.changes())):
                columns: list[list[Any]] = [[] for _ in column_names(table)]
                for row in rows:
                    for column, value in zip(columns, row, strict=True):
                        column.append(value)
                facts.append(table, columns)
        except SourceError as exc:
            report.problems.append(exc.problem)
        return report


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(text: str) -> str:
    """Decode a C-quoted name as git writes it (``"a/we\\"ird"``); up to its closing quote."""
    out = bytearray()
    i = 1  # past the opening quote
    while i < len(text) and text[i] != '"':
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            code = text[i + 1]
            if code in _C_ESCAPES:
                out.append(_C_ESCAPES[code])
                i += 2
                continue
            if code in "01234567":
                out.append(int(text[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
        out += char.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "replace")


def diff_header_path(header: str) -> str:
    """The file of a ``diff --git a/X b/X`` header (no renames), unquoting names git had to quote."""
    both = header[len("diff --git ") :]
    if both.startswith('"'):
        return _unquote(both)[2:]  # drop "a/"
    return both[2 : 2 + (len(both) - 5) // 2]
