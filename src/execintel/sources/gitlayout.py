"""Where an audited repository's git data lies, checked before git reads any of it, and the shadow git folder.

A repository comes from anyone. Before git is started, :func:`locate` finds its git folder and checks every
place git will read from:

- ``.git`` may be a folder, a symbolic link or a ``gitdir:`` file (worktrees, submodules); whichever it is,
  the real git folder, its ``commondir``, its object folder and every ``objects/info/alternates`` entry must
  lie inside the portfolio folder (unless ``--allow-outside``);
- the object folders and the index must hold only folders and regular files: a named pipe would make git
  wait forever and ``/dev/zero`` would be read without end. A symbolic link inside them is followed only
  when it stays in the portfolio folder and leads to a folder or a regular file.

The refs, ``HEAD`` and ``shallow`` files are read here, by execintel (regular files only, capped), and written
into a :class:`Shadow`: a private git folder with a configuration execintel writes, where git runs instead of
in the repository. Git then reads nothing of the repository but its objects and its index.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from execintel.safefs import Confinement, UnsafeFile, read_regular, size_text

MAX_REFS = 100_000
"""Refs read per repository (branches, tags, remote branches, stashes); more are skipped with a warning."""
MAX_INDEX_BYTES = 256 << 20
"""The largest index file passed to git (a checkout of 1,000,000 files has an index of about 100 MB)."""
MAX_OBJECT_ENTRIES = 5_000_000
"""Files checked in a repository's object folders (loose objects and packs)."""
_MAX_SMALL_FILE = 64 << 10  # HEAD, a loose ref, a gitdir file, commondir, alternates
_MAX_LIST_FILE = 64 << 20  # packed-refs, shallow
_MAX_ALTERNATE_DEPTH = 5  # as deep as git itself follows alternates
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO): git would wait on it forever"),
    (stat.S_ISCHR, "a character device: git would read it without end"),
    (stat.S_ISBLK, "a block device: git would read it without end"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
)
PLACEHOLDER = b"\x00execintel: this blob is over the size limit and was not read\n"


class NotARepository(Exception):
    """The folder has no ``.git``."""


class RepoRefused(Exception):
    """The repository is not read at all; ``reason`` completes "<repository> ..."."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def special_kind(mode: int) -> str | None:
    """What a file of this mode is when it is neither a regular file nor a folder (None when it is one)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, text in _KINDS:
        if test(mode):
            return text
    return "not a regular file"


@dataclass(frozen=True)
class Layout:
    """The checked places of a repository's git data (real paths, no link left)."""

    worktree: Path
    git_dir: Path  # this working tree's git folder: HEAD, index
    common_dir: Path  # shared by every working tree: objects, refs, packed-refs, shallow
    object_dirs: tuple[Path, ...]  # the object folder and every alternate
    index: Path | None
    shared_indexes: tuple[Path, ...] = ()  # ``sharedindex.*`` files of a split index


@dataclass
class Tips:
    """The object ids the refs point at (what ``git log --all`` starts from), and what could not be read."""

    ids: list[str] = field(default_factory=list)
    shallow: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings, each completing "<repository> ..."
    truncated: bool = False

    @property
    def hash_hex(self) -> int:
        """Hex digits per object id: 40 (SHA-1) or 64 (SHA-256)."""
        return len(self.ids[0]) if self.ids else 40


class _Checker:
    """Resolves paths of one repository and refuses what lies outside the portfolio or is not a plain file."""

    def __init__(self, worktree: Path, confine: Confinement | None) -> None:
        self.worktree = worktree
        self.confine = confine

    def name(self, path: Path) -> str:
        """``path`` as users know it: relative to the repository's folder when inside it."""
        return str(path.relative_to(self.worktree)) if path.is_relative_to(self.worktree) else str(path)

    def real(self, path: Path, what: str | None = None) -> Path:
        """``path`` with links followed; :class:`RepoRefused` when that leaves the portfolio folder."""
        what = what or self.name(path)
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            raise RepoRefused(f"has {what} pointing at {path}, which does not exist") from None
        except (OSError, RuntimeError) as exc:
            raise RepoRefused(
                f"has {what}, which cannot be resolved: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if self.confine is not None and not self.confine.contains(real):
            link = " through a symbolic link" if path.absolute() != real else ""
            raise RepoRefused(
                f"has {what} leading outside the portfolio folder{link} (to {real}); git data outside "
                f"{self.confine.root} is not read unless you pass --allow-outside"
            )
        return real

    def folder(self, path: Path, what: str | None = None) -> Path:
        """A checked folder."""
        real = self.real(path, what)
        if not real.is_dir():
            raise RepoRefused(f"has {what or self.name(path)}, which is not a folder")
        return real

    def plain_file(self, path: Path, limit: int) -> Path:
        """A checked regular file git may read, at most ``limit`` bytes."""
        real = self.real(path)
        info = real.stat()
        kind = special_kind(info.st_mode)
        if kind is not None or stat.S_ISDIR(info.st_mode):
            raise RepoRefused(f"has {self.name(path)}, which is {kind or 'a folder'}; the repository is not read")
        if info.st_size > limit:
            raise RepoRefused(f"has {self.name(path)} of {size_text(info.st_size)}, over the {size_text(limit)} read")
        return real

    def text(self, path: Path, limit: int = _MAX_SMALL_FILE) -> str:
        """The content of a small git file execintel reads itself; :class:`UnsafeFile` when it cannot be."""
        return read_regular(path, confine=self.confine, limit=limit).decode("utf-8", "replace")

    def check_objects(self, root: Path) -> None:
        """Refuse an object folder holding anything git could block on or read without end."""
        stack, seen, count = [root], {root}, 0
        while stack:
            folder = stack.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    count += 1
                    if count > MAX_OBJECT_ENTRIES:
                        raise RepoRefused(f"has over {MAX_OBJECT_ENTRIES:,} files in its object folders")
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                        continue
                    if entry.is_file(follow_symlinks=False):
                        continue
                    path = Path(entry.path)
                    real = self.real(path) if entry.is_symlink() else path
                    mode = real.stat().st_mode
                    kind = special_kind(mode)
                    if kind is not None:
                        raise RepoRefused(f"has {self.name(path)}, which is {kind}; the repository is not read")
                    if stat.S_ISDIR(mode) and real not in seen:
                        seen.add(real)
                        stack.append(real)


def _gitdir_of(checker: _Checker, dotgit: Path) -> Path:
    """The git folder a ``.git`` names: itself (a folder, maybe through a link) or a ``gitdir:`` file's target."""
    real = checker.real(dotgit, ".git")
    if real.is_dir():
        return real
    try:
        text = checker.text(dotgit)
    except UnsafeFile as exc:
        raise RepoRefused(f"has a .git that {exc.reason}") from None
    first = text.splitlines()[0].strip() if text.strip() else ""
    if not first.startswith("gitdir:"):
        raise RepoRefused("has a .git file that does not start with 'gitdir:'; it is not a repository execintel reads")
    target = Path(first.removeprefix("gitdir:").strip())
    return checker.folder(real.parent / target, f".git (gitdir: {target})")


def locate(worktree: Path, confine: Confinement | None) -> Layout:
    """Find and check a working tree's git data; :class:`RepoRefused` when git must not read it."""
    try:
        worktree = confine.check(worktree) if confine is not None else worktree.resolve()
    except UnsafeFile as exc:
        raise RepoRefused(exc.reason) from None
    checker = _Checker(worktree, confine)
    dotgit = worktree / ".git"
    if not dotgit.exists() and not dotgit.is_symlink():
        raise NotARepository(worktree)
    git_dir = _gitdir_of(checker, dotgit)
    common_dir = git_dir
    if (git_dir / "commondir").exists():
        try:
            named = checker.text(git_dir / "commondir").strip()
        except UnsafeFile as exc:
            raise RepoRefused(f"has a commondir file that {exc.reason}") from None
        common_dir = checker.folder(git_dir / named, f"{checker.name(git_dir / 'commondir')} ({named})")
    objects = checker.folder(common_dir / "objects", checker.name(common_dir / "objects"))
    object_dirs = _with_alternates(checker, objects)
    for folder in object_dirs:
        checker.check_objects(folder)
    index = git_dir / "index"
    checked_index = checker.plain_file(index, MAX_INDEX_BYTES) if index.exists() or index.is_symlink() else None
    shared = tuple(
        checker.plain_file(path, MAX_INDEX_BYTES) for path in sorted(git_dir.glob("sharedindex.*")) if checked_index
    )
    return Layout(worktree, git_dir, common_dir, object_dirs, checked_index, shared)


def _with_alternates(checker: _Checker, objects: Path) -> tuple[Path, ...]:
    """``objects`` and every object folder its ``info/alternates`` names, recursively, each checked."""
    found = [objects]
    queue = [(objects, 0)]
    while queue:
        folder, depth = queue.pop(0)
        listing = folder / "info" / "alternates"
        if not listing.exists() and not listing.is_symlink():
            continue
        try:
            text = checker.text(listing)
        except UnsafeFile as exc:
            raise RepoRefused(f"has {checker.name(listing)}, which {exc.reason}") from None
        for line in text.splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if entry.startswith('"'):
                entry = unquote_c(entry)
            where = f"{checker.name(listing)} entry {entry!r}"
            if depth >= _MAX_ALTERNATE_DEPTH:
                raise RepoRefused(f"has alternates nested deeper than {_MAX_ALTERNATE_DEPTH} ({where})")
            alternate = checker.folder(folder / entry, where)
            if alternate not in found:
                found.append(alternate)
                queue.append((alternate, depth + 1))
    return tuple(found)


def read_tips(layout: Layout, confine: Confinement | None, max_refs: int = MAX_REFS) -> Tips:
    """Every object id a ref or a ``HEAD`` of the repository points at, read without git."""
    checker = _Checker(layout.worktree, confine)
    tips = Tips()
    seen: dict[str, None] = {}

    def read(path: Path, limit: int = _MAX_SMALL_FILE) -> str | None:
        try:
            return checker.text(path, limit)
        except UnsafeFile as exc:
            tips.notes.append(f"has {checker.name(path)}, which {exc.reason}; that ref is skipped")
            return None

    def add(text: str, path: Path) -> None:
        if text.startswith("ref:"):
            return  # a symbolic ref: its target is read as a ref of its own
        if not _OBJECT_ID.fullmatch(text) or (seen and len(text) != len(next(iter(seen)))):
            tips.notes.append(f"has {checker.name(path)}, which does not hold an object id; that ref is skipped")
        elif len(seen) >= max_refs:
            tips.truncated = True
        else:
            seen[text] = None

    heads = [layout.git_dir / "HEAD", layout.common_dir / "HEAD"]
    worktrees = layout.common_dir / "worktrees"
    if worktrees.is_dir() and not worktrees.is_symlink():
        heads += sorted(worktrees.glob("*/HEAD"))
    for head in dict.fromkeys(heads):
        if head.exists() and (text := read(head)) is not None:
            add(text.strip(), head)
    refs = layout.common_dir / "refs"
    if refs.is_dir() and not refs.is_symlink():
        for folder, folders, files in os.walk(refs):
            folders.sort()
            if tips.truncated:
                break
            for name in sorted(files):
                if (text := read(Path(folder) / name)) is not None:
                    add(text.strip(), Path(folder) / name)
    packed = layout.common_dir / "packed-refs"
    if packed.exists() and (text := read(packed, _MAX_LIST_FILE)) is not None:
        for line in text.splitlines():
            if line and line[0] not in "#^":
                add(line.split(" ", 1)[0], packed)
    tips.ids = list(seen)
    shallow = layout.common_dir / "shallow"
    if shallow.exists() and (text := read(shallow, _MAX_LIST_FILE)) is not None:
        tips.shallow = [line.strip() for line in text.splitlines() if _OBJECT_ID.fullmatch(line.strip())]
    return tips


class Shadow:
    """A private git folder in the system's temporary folder: execintel's configuration, refs and HEAD only."""

    def __init__(self, tips: Tips, layout: Layout) -> None:
        self.hash_hex = tips.hash_hex
        self.path = Path(tempfile.mkdtemp(prefix="execintel-git-"))
        try:
            (self.path / "refs").mkdir()
            (self.path / "objects").mkdir()
            (self.path / "HEAD").write_text("ref: refs/heads/execintel-none\n", encoding="ascii")
            extensions = "[extensions]\n\tobjectformat = sha256\n" if self.hash_hex == 64 else ""
            version = 1 if extensions else 0
            config = f"[core]\n\trepositoryformatversion = {version}\n\tbare = true\n{extensions}"
            (self.path / "config").write_text(config, encoding="ascii")
            if tips.shallow:
                (self.path / "shallow").write_text("".join(f"{sha}\n" for sha in tips.shallow), encoding="ascii")
            for shared in layout.shared_indexes:
                (self.path / shared.name).symlink_to(shared)
            self.tips = tips.ids
            self.write_refs({})
        except BaseException:
            self.close()
            raise

    def write_refs(self, replacements: dict[str, str]) -> None:
        """Write the tips as ``refs/execintel/N`` and ``replacements`` (blob id -> stand-in id) as replace refs."""
        lines = [f"{sha} refs/execintel/{n:08d}\n" for n, sha in enumerate(self.tips)]
        lines += [f"{new} refs/replace/{old}\n" for old, new in sorted(replacements.items())]
        (self.path / "packed-refs").write_text("".join(sorted(lines, key=lambda line: line.split(" ")[1])))

    def placeholder(self) -> str:
        """Store the blob that stands in for blobs over the size limit; return its id."""
        header = b"blob %d\x00" % len(PLACEHOLDER)
        digest = (hashlib.sha256 if self.hash_hex == 64 else hashlib.sha1)(header + PLACEHOLDER).hexdigest()
        target = self.path / "objects" / digest[:2] / digest[2:]
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(zlib.compress(header + PLACEHOLDER))
        return digest

    def close(self) -> None:
        """Remove the shadow folder."""
        shutil.rmtree(self.path, ignore_errors=True)


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def unquote_c(text: str) -> str:
    """Decode a C-quoted name as git writes it (``"a/we\\"ird"``), up to its closing quote."""
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
