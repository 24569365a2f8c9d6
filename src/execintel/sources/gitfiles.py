"""Reading the tracked files of a working tree without following a single symbolic link.

A repository may track a symbolic link (``config.yml -> /etc/shadow``), track files below a folder that is
a link on disk, or have a tracked file replaced by a named pipe or a device. :class:`WorkingTree` opens each
tracked path one folder at a time from the working tree's own folder (``openat`` with ``O_NOFOLLOW`` and
``O_DIRECTORY``), so no component may be a link; it looks at the last one with ``lstat`` before opening it,
opens only a regular file (non-blocking, no controlling terminal), checks on the open descriptor that it is
still that file, and reads at most the size limit. Nothing outside the working tree can be reached.

This is stricter than :func:`execintel.safefs.open_regular`, which follows links that stay in the portfolio
folder: inside a repository, a link is data to report, never a way to another file.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from execintel.sources.gitlayout import special_kind

Kind = Literal["file", "missing", "link", "below-link", "special", "too-big", "bad-name"]
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_BAD_PARTS = (b"", b".", b"..")


@dataclass(frozen=True)
class TrackedFile:
    """What is on disk at a tracked path: its kind, size, content (a regular file within the limit) and detail."""

    kind: Kind
    size: int | None = None
    data: bytes | None = None
    detail: str = ""  # a link's target, the link folder above the file, or what a special file is


class WorkingTree:
    """A working tree's folder, open; tracked paths are read below it without following links."""

    def __init__(self, root: Path) -> None:
        self._root = os.open(root, _DIR_FLAGS)
        self._stack: list[tuple[bytes, int]] = []  # the folders of the previous path, open

    def __enter__(self) -> WorkingTree:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close every open folder."""
        self._unwind(0)
        os.close(self._root)

    def _unwind(self, depth: int) -> None:
        while len(self._stack) > depth:
            os.close(self._stack.pop()[1])

    def _folder(self, parts: list[bytes]) -> tuple[int | None, TrackedFile | None]:
        """The open folder holding a path's last part, or why it cannot be reached without following a link."""
        depth = 0
        while depth < min(len(parts), len(self._stack)) and self._stack[depth][0] == parts[depth]:
            depth += 1
        self._unwind(depth)  # paths come sorted, so the folders of the previous path are mostly reused
        for part in parts[depth:]:
            parent = self._stack[-1][1] if self._stack else self._root
            try:
                fd = os.open(part, _DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                return None, self._unreachable(parent, part, exc)
            self._stack.append((part, fd))
        return (self._stack[-1][1] if self._stack else self._root), None

    def _unreachable(self, parent: int, part: bytes, exc: OSError) -> TrackedFile:
        above = b"/".join([name for name, _ in self._stack] + [part]).decode("utf-8", "replace")
        try:
            mode = os.stat(part, dir_fd=parent, follow_symlinks=False).st_mode
        except OSError:
            return TrackedFile("missing")
        if stat.S_ISLNK(mode) or exc.errno == errno.ELOOP:
            return TrackedFile("below-link", detail=above)
        return TrackedFile("missing")  # a file where a folder should be: the tracked file is not there

    def read(self, path: bytes, limit: int) -> TrackedFile:
        """What is at the tracked ``path`` (relative, ``/``-separated) and, for a regular file, its content."""
        parts = path.split(b"/")
        if any(part in _BAD_PARTS or part.lower() == b".git" for part in parts):
            return TrackedFile("bad-name")
        folder, problem = self._folder(parts[:-1])
        if problem is not None or folder is None:
            return problem or TrackedFile("missing")
        name = parts[-1]
        try:
            before = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except OSError:
            return TrackedFile("missing")
        if stat.S_ISLNK(before.st_mode):
            try:
                target = os.readlink(name, dir_fd=folder)
            except OSError:
                target = b""
            return TrackedFile("link", size=before.st_size, detail=os.fsdecode(target))
        kind = special_kind(before.st_mode)
        if kind is not None or stat.S_ISDIR(before.st_mode):
            return TrackedFile("special", detail=(kind or "a folder").split(":")[0])
        if before.st_size > limit:
            return TrackedFile("too-big", size=before.st_size)
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
        except OSError as exc:
            return TrackedFile("link" if exc.errno == errno.ELOOP else "missing", detail="")
        try:
            after = os.fstat(fd)
            if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
                return TrackedFile("special", detail="a file that changed while it was being opened")
            chunks: list[bytes] = []
            total = 0
            while total <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - total))):
                chunks.append(chunk)
                total += len(chunk)
            if total > limit:
                return TrackedFile("too-big", size=max(total, after.st_size))
            return TrackedFile("file", size=total, data=b"".join(chunks))
        except OSError:
            return TrackedFile("missing")
        finally:
            os.close(fd)
