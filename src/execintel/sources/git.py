"""Git repositories: commits, tracked files and every added line of history, read without trusting the repository.

Nothing is scanned here; the CTO analysis looks for secrets in the ``repo_files`` and ``repo_changes`` tables
this connector fills. An audited repository comes from anyone, so reading one:

- runs no program it names: git runs in a shadow git folder with execintel's own configuration, never the
  repository's (:mod:`.gitcmd`, :mod:`.gitlayout`);
- reads nothing outside the portfolio folder and no special file: the git data is checked before git starts
  (:mod:`.gitlayout`) and tracked files are opened without following any link (:mod:`.gitfiles`);
- holds bounded memory for a bounded time: every git command has a deadline, output is streamed, blobs over
  :attr:`GitLimits.file_bytes` are replaced by a stand-in before git diffs them, and commits, added lines
  and bytes kept per repository are capped (see :class:`GitLimits`), each cut said in a warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execintel.errors import Problem, SourceError
from execintel.facts import Facts
from execintel.safefs import size_text
from execintel.sources.base import BATCH_ROWS, Source, SourceReport, register
from execintel.sources.gitcmd import GIT_TIMEOUT, GitError, GitRunner, GitTimeout
from execintel.sources.gitfiles import TrackedFile, WorkingTree
from execintel.sources.gitlayout import (
    MAX_REFS,
    Layout,
    NotARepository,
    RepoRefused,
    Shadow,
    locate,
    read_tips,
    unquote_c,
)

MAX_FILE_BYTES = 1 << 20
_SEP = "\x1f"
_LOG_FORMAT = _SEP.join(("%H", "%P", "%aI", "%cI", "%an", "%ae", "%s"))  # fixed-shape fields first
_COMMIT_MARK = b"\x00commit "  # printed by git for the %x00 placeholder (argv cannot hold NUL)
_RECORD_BYTES = 64 << 10  # a commit's line of ``git log`` or an ``ls-files`` entry
_BATCH_TEXT = 64 << 20  # text held before a batch of changes is inserted
_SHOWN = 10  # per-file warnings of one kind shown one by one; the rest are counted


@dataclass(frozen=True)
class GitLimits:
    """What execintel reads at most from one repository; past each, it stops and says so in a warning."""

    file_bytes: int = MAX_FILE_BYTES  # a tracked file or a version of a file in history
    line_bytes: int = 1 << 20  # an added line kept in repo_changes (longer lines are cut)
    commits: int = 100_000  # commits read, newest first
    history_lines: int = 5_000_000  # added lines kept
    history_bytes: int = 512 << 20  # added text kept
    tracked_bytes: int = 512 << 20  # tracked files' content kept
    object_bytes: int = 64 << 20  # a commit, tree or tag object git may load
    big_blobs: int = 100_000  # blobs over file_bytes that can be set aside
    refs: int = MAX_REFS
    timeout: float = GIT_TIMEOUT  # seconds, per git command


LIMITS = GitLimits()


class _Notes:
    """Warnings about single files: the first few of each kind one by one, then how many more there were."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._counts: dict[str, int] = {}
        self._summaries: dict[str, str] = {}

    def add(self, kind: str, file: str, message: str, summary: str) -> None:
        """Warn about ``file``; past :data:`_SHOWN` of ``kind``, count it under ``summary`` ({n} is the count)."""
        count = self._counts[kind] = self._counts.get(kind, 0) + 1
        self._summaries[kind] = summary
        if count <= _SHOWN:
            self._source.problem_at(file, message)

    def flush(self) -> None:
        """Add the counts of warnings not shown one by one."""
        for kind, count in self._counts.items():
            if count > _SHOWN:
                self._source.problem(self._summaries[kind].format(n=f"{count - _SHOWN:,}"), warning=True)
        self._counts.clear()


class _Batches:
    """Rows of one facts table, inserted a batch at a time (by rows and by bytes of text)."""

    def __init__(self, facts: Facts, table: str) -> None:
        self._facts, self._table = facts, table
        self._rows: list[tuple[Any, ...]] = []
        self._text = 0
        self.inserted = 0

    def add(self, row: tuple[Any, ...], text: int = 0) -> None:
        """Queue a row (``text``: the bytes it holds); insert the batch when it is full."""
        self._rows.append(row)
        self._text += text
        if len(self._rows) >= BATCH_ROWS or self._text >= _BATCH_TEXT:
            self.flush()

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()  # rows read before an error are kept: the error is reported beside them

    def flush(self) -> None:
        """Insert the queued rows."""
        if self._rows:
            columns = [list(column) for column in zip(*self._rows, strict=True)]
            self.inserted += self._facts.append(self._table, columns)
            self._rows, self._text = [], 0


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

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Not used: a repository fills three tables (see :meth:`load`)."""
        return iter(())

    def load(self, facts: Facts) -> SourceReport:
        """Load commits, tracked files and history into their three tables."""
        report = self._report
        self._notes = _Notes(self)
        try:
            self._load(facts, LIMITS)
        except SourceError as exc:
            report.problems.append(exc.problem)
        except (RepoRefused, GitError) as exc:
            report.problems.append(Problem(self.spec.display, exc.reason))
        finally:
            self._notes.flush()
        if report.rows_loaded:
            report.date_range = facts.date_range(self.table, self.spec.display)
        return report

    def _load(self, facts: Facts, limits: GitLimits) -> None:
        if not self.path.is_dir():
            raise RepoRefused("does not exist or is not a folder")
        try:
            layout = locate(self.path, self.spec.confine)
            tips = read_tips(layout, self.spec.confine, limits.refs)
        except NotARepository:
            raise RepoRefused("is not a git repository (no .git at its top); list the folder that holds .git") from None
        except OSError as exc:  # a folder of the git data that cannot be listed, a file that vanished meanwhile
            where = f" ({exc.filename})" if exc.filename else ""
            raise RepoRefused(f"cannot be read: {exc.strerror or exc}{where}") from None
        for note in tips.notes:
            self.problem(note, warning=True)
        if tips.truncated:
            self.problem(f"has over {limits.refs:,} refs; only the first {limits.refs:,} are read", warning=True)
        if not tips.ids:
            self.problem("has no commits yet", warning=True)
            return
        shadow = Shadow(tips, layout)
        try:
            runner = GitRunner(
                shadow.path, layout.object_dirs, tips.hash_hex, layout.index, (self.path.parent,), limits.timeout
            )
            big = self._set_aside_big_blobs(runner, shadow, limits)
            self._commits(runner, facts, limits)
            try:
                self._files(runner, layout, facts, limits)
            except GitTimeout:
                raise
            except GitError as exc:  # a damaged index: the history can still be read
                self.problem(
                    f"has an index git cannot read ({exc.reason}); its tracked files are not read", warning=True
                )
            self._changes(runner, facts, limits, big)
        finally:
            shadow.close()

    def _set_aside_big_blobs(self, runner: GitRunner, shadow: Shadow, limits: GitLimits) -> dict[bytes, int]:
        """Blobs over the file limit (id -> size), each replaced by a small stand-in for ``git log -p``."""
        big: dict[bytes, int] = {}
        check = "--batch-check=%(objectname) %(objecttype) %(objectsize)"
        with runner.stream("cat-file", check, "--batch-all-objects", "--unordered") as out:
            for record, _length in out.records(b"\n", 256):
                sha, kind, size_field = [*record.split(b" "), b"", b""][:3]
                size = int(size_field) if size_field.isdigit() else 0
                if kind == b"blob":
                    if size > limits.file_bytes:
                        big[sha] = size
                        if len(big) > limits.big_blobs:
                            raise RepoRefused(
                                f"holds over {limits.big_blobs:,} files over {size_text(limits.file_bytes)}; "
                                "the repository is not read"
                            )
                elif size > limits.object_bytes:
                    raise RepoRefused(
                        f"holds a {kind.decode('ascii', 'replace')} object of {size_text(size)} "
                        f"({sha[:12].decode('ascii', 'replace')}), over the {size_text(limits.object_bytes)} execintel "
                        "lets git load; the repository is not read"
                    )
        if big:
            stand_in = shadow.placeholder()
            shadow.write_refs({sha.decode("ascii"): stand_in for sha in big})
        return big

    def _commits(self, runner: GitRunner, facts: Facts, limits: GitLimits) -> None:
        """One row per commit reachable from any ref, newest first, up to the commit limit."""
        entity, repo = self.spec.entity, self.spec.display
        rows = _Batches(facts, "repo_commits")
        args = ("log", "--glob=refs/execintel/*", "--date-order", f"--max-count={limits.commits + 1}")
        count = 0
        with rows, runner.stream(*args, f"--format={_LOG_FORMAT}") as out:
            for record, _length in out.records(b"\n", _RECORD_BYTES):
                count += 1
                if count > limits.commits:
                    self.problem(
                        f"has more than {limits.commits:,} commits; only the newest {limits.commits:,} are read",
                        warning=True,
                    )
                    break
                fields = record.decode("utf-8", "replace").split(_SEP, 6)
                sha, parents, authored, committed, name, email, subject = (fields + [""] * 7)[:7]
                rows.add((
                    entity, repo, sha, parents, name, email, self._when(authored, sha), self._when(committed, sha),
                    subject, repo, None,
                ))  # fmt: skip
        self._report.rows_loaded += rows.inserted

    def _when(self, text: str, sha: str) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            self._notes.add(
                "date", self.spec.display, f"commit {sha[:12]} has a date git cannot read ({text!r}); it is left empty",
                "{n} more commits have a date git cannot read",
            )  # fmt: skip
            return None

    def _files(self, runner: GitRunner, layout: Layout, facts: Facts, limits: GitLimits) -> None:
        """One row per tracked file, with its working-tree content when it is text within the limits."""
        if layout.index is None:
            return  # never checked out: nothing is tracked in a working tree
        entity, repo = self.spec.entity, self.spec.display
        rows = _Batches(facts, "repo_files")
        kept = 0
        previous = b""
        with rows, runner.stream("ls-files", "--stage", "-z", index=True) as out, WorkingTree(layout.worktree) as tree:
            for record, length in out.records(b"\x00", _RECORD_BYTES):
                meta, _tab, raw = record.partition(b"\t")
                if length > _RECORD_BYTES or not raw or raw == previous:
                    continue  # a path longer than any file system allows; a conflict's second stage
                previous = raw
                name = raw.decode("utf-8", "replace")
                mode = meta.split(b" ", 1)[0]
                file = f"{repo}/{name}"
                if mode == b"160000":
                    self._notes.add(
                        "submodule", file, "is a submodule (a repository of its own); it is not read: list it under "
                        "repos to audit it", "{n} more submodules are not read",
                    )  # fmt: skip
                    continue
                found = tree.read(raw, limits.file_bytes if kept <= limits.tracked_bytes else -1)
                if found.kind == "file" and found.data is not None:
                    kept += len(found.data)
                    binary = b"\x00" in found.data[:8192]
                    content = None if binary else found.data.decode("utf-8", "replace")
                    rows.add((entity, repo, name, found.size, binary, content, file, None), len(found.data))
                elif found.kind != "missing":  # a file deleted from the working tree is simply not there
                    self._unread(found, file, limits, over_total=kept > limits.tracked_bytes)
                    size = found.size if found.kind in ("link", "too-big") else None
                    unread = False if found.kind in ("link", "too-big") else None
                    rows.add((entity, repo, name, size, unread, None, file, None))

    def _unread(self, found: TrackedFile, file: str, limits: GitLimits, *, over_total: bool) -> None:
        """Warn about a tracked path whose content is not read."""
        if found.kind == "link":
            message = f"is a symbolic link (to {found.detail!r}); links in a repository are never followed"
            self._notes.add("link", file, message, "{n} more tracked files are symbolic links; none is followed")
        elif found.kind == "below-link":
            message = f"is below {found.detail!r}, a symbolic link; links in a repository are never followed"
            self._notes.add("below-link", file, message, "{n} more tracked files below symbolic links are not read")
        elif found.kind == "special":
            message = f"is {found.detail} in the working tree, not a regular file; it is not read"
            self._notes.add("special", file, message, "{n} more tracked paths are not regular files; none is read")
        elif found.kind == "bad-name":
            message = "has a path git itself refuses (an empty, '.', '..' or '.git' part); it is not read"
            self._notes.add("bad-name", file, message, "{n} more tracked paths git refuses are not read")
        elif over_total:
            message = f"is not scanned: the repository's tracked files already hold {size_text(limits.tracked_bytes)}"
            self._notes.add("total", file, message, "{n} more tracked files are not scanned (size of the repository)")
        else:
            size = size_text(found.size or 0)
            message = f"is {size}, over the {size_text(limits.file_bytes)} read from a tracked file; it is not scanned"
            self._notes.add("too-big", file, message, "{n} more tracked files over the size limit are not scanned")

    def _changes(self, runner: GitRunner, facts: Facts, limits: GitLimits, big: dict[bytes, int]) -> None:
        """One row per file a commit touched and one per line it added, within the history limits."""
        entity, repo = self.spec.entity, self.spec.display
        rows = _Batches(facts, "repo_changes")
        args = (
            "log", "--glob=refs/execintel/*", "--date-order", f"--max-count={limits.commits}", "-p", "-U0",
            "--full-index", "--no-color", "--no-renames", "--no-ext-diff", "--no-textconv", "--irreversible-delete",
            "--src-prefix=a/", "--dst-prefix=b/", "--format=%x00commit %H",
        )  # fmt: skip
        sha = path = ""
        change, blob, in_hunk, line_no = "M", b"", False, 0
        lines = text_bytes = 0
        big_file_threshold = limits.file_bytes
        with (
            rows,
            runner.stream(*args, replacements=True, big_file_threshold=big_file_threshold, label="git log -p") as out,
        ):
            for record, length in out.records(b"\n", limits.line_bytes + 1):
                if in_hunk and record[:1] == b"+":
                    if lines >= limits.history_lines or text_bytes >= limits.history_bytes:
                        self._history_cut(limits, sha)
                        break
                    if length > limits.line_bytes + 1:
                        self._line_cut(f"{repo}/{path}", line_no, sha, length - 1, limits)
                    text = record[1:].decode("utf-8", "replace")
                    rows.add((entity, repo, sha, path, change, line_no, text, f"{repo}/{path}", line_no), len(record))
                    line_no += 1
                    lines += 1
                    text_bytes += len(record)
                elif record.startswith(b"@@ "):
                    in_hunk = True
                    new_range = record.split(b" ")[2]  # +start[,count]
                    line_no = int(new_range[1:].split(b",")[0] or b"0")
                elif in_hunk and record[:1] in (b"-", b"\\"):
                    continue
                elif record.startswith(_COMMIT_MARK):
                    if path:
                        rows.add((entity, repo, sha, path, change, None, None, f"{repo}/{path}", None))
                    sha, path, in_hunk = record[len(_COMMIT_MARK) :].decode("ascii", "replace"), "", False
                elif record.startswith(b"diff --git "):
                    if path:
                        rows.add((entity, repo, sha, path, change, None, None, f"{repo}/{path}", None))
                    path, change, blob, in_hunk = diff_header_path(record.decode("utf-8", "replace")), "M", b"", False
                elif record.startswith(b"new file mode"):
                    change = "A"
                elif record.startswith(b"deleted file mode"):
                    change = "D"
                elif record.startswith(b"index "):
                    blob = record[6:].split(b"..", 1)[-1].split(b" ", 1)[0]
                elif record.startswith(b"Binary files ") and blob in big:
                    self._notes.add(
                        "big-blob", f"{repo}/{path}", f"in commit {sha[:12]} is {size_text(big[blob])}, over the "
                        f"{size_text(limits.file_bytes)} read from a file in history; that version is not scanned",
                        "{n} more file versions in history over the size limit are not scanned",
                    )  # fmt: skip
            if path:
                rows.add((entity, repo, sha, path, change, None, None, f"{repo}/{path}", None))

    def _history_cut(self, limits: GitLimits, sha: str) -> None:
        self.problem(
            f"has more history than execintel reads ({limits.history_lines:,} added lines or "
            f"{size_text(limits.history_bytes)} of them); history from commit {sha[:12]} back is not scanned",
            warning=True,
        )

    def _line_cut(self, file: str, line: int, sha: str, length: int, limits: GitLimits) -> None:
        self._notes.add(
            "long-line", file, f"line {line} in commit {sha[:12]} is {size_text(length)} long; only its first "
            f"{size_text(limits.line_bytes)} are kept for the scan", "{n} more lines in history were cut to "
            f"{size_text(limits.line_bytes)}",
        )  # fmt: skip


def diff_header_path(header: str) -> str:
    """The file of a ``diff --git a/X b/X`` header (no renames), unquoting names git had to quote."""
    both = header[len("diff --git ") :]
    if both.startswith('"'):
        return unquote_c(both)[2:]  # drop "a/"
    return both[2 : 2 + (len(both) - 5) // 2]
