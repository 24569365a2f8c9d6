"""Opening the files a portfolio names without leaving its folder, blocking, or reading without end.

Every file execintel reads from a portfolio goes through :func:`open_regular` (or :func:`read_regular`):

- the path is resolved with every symlink followed, and refused when the real file lies outside the portfolio
  folder (a :class:`Confinement`), unless the user passed ``--allow-outside``;
- only a regular file is opened: a FIFO would block forever and ``/dev/zero`` would be read until memory runs
  out. The type is checked before opening (``stat`` never blocks) and again on the open descriptor, which is
  opened non-blocking and without following a last symlink, so a file swapped in between is refused too;
- reads are capped: a file larger than its limit is refused before anything is read, and a file that grows
  while it is read stops with an error at the limit.

A folder of files (handoffs) is listed with :func:`walk_folder`, which enters a symlinked subfolder only when its
real folder is inside the portfolio, and each real folder once (a link loop ends).

The errors are :class:`UnsafeFile` with a sentence that completes "<file> ...", for the caller to raise as its
own error kind with the name the user knows the file by.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_FOLDER_ENTRIES",
    "MAX_MANIFEST_BYTES",
    "MAX_STREAM_BYTES",
    "Confinement",
    "UnsafeFile",
    "open_regular",
    "read_regular",
    "size_text",
    "walk_folder",
]

MAX_MANIFEST_BYTES = 4 << 20
"""``portfolio.yaml``: a manifest of hundreds of entities is well under 1 MB."""
MAX_DOCUMENT_BYTES = 256 << 20
"""A file read whole into memory (a handoff, a Cost Explorer JSON response, a beancount ledger)."""
MAX_STREAM_BYTES = 16 << 30
"""A file read a batch at a time (ledger, events and contacts files); memory stays bounded, this bounds time."""
MAX_FOLDER_ENTRIES = 100_000
"""Entries listed under one folder source (handoffs), subfolders included."""

_KINDS = (
    (stat.S_ISDIR, "is a folder; a file is expected"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file; execintel reads only regular files"),
    (stat.S_ISCHR, "is a character device, not a regular file; execintel reads only regular files"),
    (stat.S_ISBLK, "is a block device, not a regular file; execintel reads only regular files"),
    (stat.S_ISSOCK, "is a socket, not a regular file; execintel reads only regular files"),
)


class UnsafeFile(Exception):
    """A file that is not read: outside the portfolio, not a regular file, too large, or unreadable."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def size_text(size: int) -> str:
    """A byte count for people: ``4 MB``, ``1.5 GB``."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Confinement:
    """The folder a portfolio's files must really be in (symlinks followed); ``allow_outside`` lifts the rule."""

    root: Path
    allow_outside: bool = False

    @classmethod
    def of(cls, root: Path, *, allow_outside: bool = False) -> Confinement:
        """The confinement of the folder ``root`` (resolved now, once)."""
        return cls(root.resolve(), allow_outside)

    def contains(self, path: Path) -> bool:
        """True when ``path``, with every symlink followed, is inside the root (always, with ``allow_outside``)."""
        return self.allow_outside or _real(path).is_relative_to(self.root)

    def check(self, path: Path) -> Path:
        """``path`` with every symlink followed; :class:`UnsafeFile` when that is outside the root."""
        real = _real(path)
        if not self.allow_outside and not real.is_relative_to(self.root):
            link = " through a symbolic link" if path.absolute() != real else ""
            raise UnsafeFile(
                f"leads outside the portfolio folder{link} (to {real}); move the data into {self.root} "
                "or pass --allow-outside"
            )
        return real


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise UnsafeFile(f"cannot be resolved: {getattr(exc, 'strerror', None) or exc}") from None


def _kind_problem(mode: int) -> str | None:
    for test, message in _KINDS:
        if test(mode):
            return message
    return None if stat.S_ISREG(mode) else "is not a regular file; execintel reads only regular files"


def open_regular(path: Path, *, confine: Confinement | None = None, limit: int | None = None) -> BinaryIO:
    """``path`` opened for reading as a buffered binary file, after the checks in the module docstring.

    ``confine`` None reads a file the user named directly (a manifest given on the command line); ``limit``
    None leaves the size unbounded (only for files the user named directly).
    """
    real = confine.check(path) if confine is not None else path
    try:
        before = real.stat()
    except FileNotFoundError:
        raise UnsafeFile("file not found") from None
    except OSError as exc:
        raise UnsafeFile(f"cannot be read: {exc.strerror}") from None
    problem = _kind_problem(before.st_mode)
    if problem is not None:
        raise UnsafeFile(problem)
    _check_size(before.st_size, limit)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if confine is not None:
        flags |= getattr(os, "O_NOFOLLOW", 0)  # ``real`` has no symlink left: one now is a swap
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise UnsafeFile(f"cannot be read: {exc.strerror}") from None
    try:
        after = os.fstat(fd)
        problem = _kind_problem(after.st_mode)
        if problem is None and (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            problem = "changed while it was being opened; try again"
        if problem is not None:
            raise UnsafeFile(problem)
        _check_size(after.st_size, limit)
        return io.BufferedReader(_CappedFile(fd, limit), buffer_size=1 << 16)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, *, confine: Confinement | None = None, limit: int | None = None) -> bytes:
    """The whole content of ``path``, read through :func:`open_regular`."""
    with open_regular(path, confine=confine, limit=limit) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise UnsafeFile(f"cannot be read: {exc.strerror}") from None


def _check_size(size: int, limit: int | None) -> None:
    if limit is not None and size > limit:
        raise UnsafeFile(f"is {size_text(size)}, over the {size_text(limit)} execintel reads from a file of this kind")


class _CappedFile(io.RawIOBase):
    """A raw file on a descriptor that raises :class:`UnsafeFile` instead of reading past ``limit`` bytes."""

    def __init__(self, fd: int, limit: int | None) -> None:
        self._fd = fd
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = len(view)
        if self._limit is not None:
            if self._read > self._limit:
                raise UnsafeFile(f"grew past {size_text(self._limit)} while it was being read")
            want = min(want, self._limit + 1 - self._read)  # one byte more tells whether the file grew past it
        data = os.read(self._fd, want)
        view[: len(data)] = data
        self._read += len(data)
        if self._limit is not None and self._read > self._limit:
            raise UnsafeFile(f"grew past {size_text(self._limit)} while it was being read")
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def walk_folder(
    folder: Path, *, confine: Confinement | None = None, limit: int = MAX_FOLDER_ENTRIES
) -> list[tuple[Path, str | None]]:
    """Every entry under ``folder`` that is not a folder, sorted, as ``(path, None)``; and ``(path, why)`` for
    each subfolder that is not entered.

    A symlinked subfolder is entered only when its real folder is inside ``confine``; each real folder is
    entered once, so a link back up ends the walk instead of looping. Entries are not opened: a file listed
    here is still to be read through :func:`open_regular`, which checks it. More than ``limit`` entries is
    :class:`UnsafeFile`.
    """
    found: list[tuple[Path, str | None]] = []
    seen: set[tuple[int, int]] = set()
    try:
        top = folder.stat()
    except OSError as exc:
        raise UnsafeFile(f"cannot be read: {exc.strerror}") from None
    seen.add((top.st_dev, top.st_ino))
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as scan:
                entries = list(scan)
        except OSError as exc:
            found.append((current, f"cannot be read: {exc.strerror}"))
            continue
        for entry in entries:
            if len(found) + len(pending) >= limit:
                raise UnsafeFile(f"holds more than {limit:,} files and folders, the most execintel lists")
            path = current / entry.name
            try:
                info = entry.stat()  # follows a link: the kind of what it points at
            except OSError:
                found.append((path, None))  # a dangling link: the reader says what is wrong with it
                continue
            if not stat.S_ISDIR(info.st_mode):
                found.append((path, None))
                continue
            if confine is not None and entry.is_symlink():
                try:
                    confine.check(path)
                except UnsafeFile as exc:
                    found.append((path, exc.reason))
                    continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                pending.append(path)
    return sorted(found)
