"""The folder a package is built in: execintel copied in, what Lambda never runs taken out, sizes, and the zip.

A zip is deterministic: entries sorted by name, one fixed timestamp, fixed permissions, so the same inputs give
the same bytes (and an unchanged package is not redeployed). It is written under a temporary name beside its
destination and renamed into place, so a failed build never leaves half a zip under the real name.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import execintel
from execintel.packaging.pip import canonical

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build time leaks into the bytes
CACHE_NAMES = ("__pycache__",)
CACHE_SUFFIXES = (".pyc", ".pyo")
TEST_FOLDERS = ("tests", "test")


def copy_execintel(dest: Path) -> Path:
    """Copy the installed ``execintel`` package folder into ``dest`` without caches and tests; its new folder."""
    source = Path(execintel.__file__).resolve().parent

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n in CACHE_NAMES or n in TEST_FOLDERS or n.endswith(CACHE_SUFFIXES)]

    return Path(shutil.copytree(source, dest / "execintel", ignore=ignore))


def _dist_name(dist_info: Path) -> str:
    """The canonical project name of a ``*.dist-info`` folder (from METADATA, else from the folder's name)."""
    with contextlib.suppress(OSError):
        for text in (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace").splitlines():
            if text.startswith("Name:"):
                return canonical(text.split(":", 1)[1].strip())
            if not text:
                break
    return canonical(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])


def _record(root: Path, dist_info: Path) -> list[Path]:
    """The files a distribution installed (its RECORD), resolved under ``root``; entries outside it are ignored."""
    try:
        with (dist_info / "RECORD").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError:
        return []
    base = root.resolve()
    files = []
    for row in rows:
        if row and row[0]:
            path = (base / row[0]).resolve()
            if path.is_relative_to(base) and path != base:
                files.append(path)
    return files


def remove_distributions(root: Path, names: Iterable[str]) -> list[str]:
    """Delete every file of the named distributions (by their RECORD) from ``root``; the names removed."""
    wanted = {canonical(name) for name in names}
    removed = []
    for dist_info in sorted(root.glob("*.dist-info")):
        name = _dist_name(dist_info)
        if name not in wanted:
            continue
        for path in _record(root, dist_info):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            _remove_empty_parents(path.parent, root)
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.append(name)
    return removed


def _remove_empty_parents(folder: Path, root: Path) -> None:
    base = root.resolve()
    while folder != base and folder.is_relative_to(base):
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): stop climbing
            return
        folder = folder.parent


def prune(root: Path, patterns: Iterable[str] = ()) -> int:
    """Remove what Lambda never runs: caches, ``*.pyc``, tests folders inside packages, ``bin/`` scripts, and
    every path (relative to ``root``, ``/``-separated) matching one of ``patterns``; the bytes removed."""
    globs = tuple(patterns)
    removed = 0
    for folder, dirs, files in os.walk(root, topdown=True):
        here = Path(folder)
        relative = here.relative_to(root).as_posix()
        depth = 0 if relative == "." else relative.count("/") + 1
        keep = []
        for name in sorted(dirs):
            path = here / name
            rel = path.relative_to(root).as_posix()
            # a tests folder inside a package (depth >= 1), never a top-level distribution that is named so
            drop = name in CACHE_NAMES or (name in TEST_FOLDERS and depth >= 1) or (depth == 0 and name == "bin")
            if drop or any(fnmatch.fnmatchcase(rel, glob) for glob in globs):
                removed += tree_size(path)
                shutil.rmtree(path)
            else:
                keep.append(name)
        dirs[:] = keep
        for name in files:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if name.endswith(CACHE_SUFFIXES) or any(fnmatch.fnmatchcase(rel, glob) for glob in globs):
                removed += path.lstat().st_size
                path.unlink()
    return removed


_LIBRARY = re.compile(r"(lib[^/]+\.so)((?:\.\d+)*)")


def drop_library_copies(root: Path) -> int:
    """Delete the copies of a shared library a wheel holds under its other names; the bytes removed.

    A wheel cannot hold symbolic links, so ``libX.so``, ``libX.so.N`` and ``libX.so.N.M.K`` arrive as three
    identical files. Only ``libX.so.N`` (the soname, the name the dynamic linker looks for) is ever loaded: the
    others are for linking new code against the library. A copy is deleted only when its bytes are identical.
    """
    removed = 0
    for folder, _, files in os.walk(root):
        groups: dict[str, dict[str, Path]] = {}
        for name in files:
            if match := _LIBRARY.fullmatch(name):
                groups.setdefault(match.group(1), {})[match.group(2)] = Path(folder) / name
        for versions in groups.values():
            sonames = [v for v in versions if v.count(".") == 1]
            if len(sonames) != 1:
                continue
            kept = versions[sonames[0]]
            for version, path in versions.items():
                if version != sonames[0] and _same_bytes(path, kept):
                    removed += path.stat().st_size
                    path.unlink()
    return removed


def _same_bytes(one: Path, other: Path) -> bool:
    if one.stat().st_size != other.stat().st_size:
        return False
    with one.open("rb") as a, other.open("rb") as b:
        while block := a.read(1 << 20):
            if block != b.read(len(block)):
                return False
    return True


def tree_size(root: Path) -> int:
    """The bytes of every regular file under ``root`` (what Lambda counts as the unzipped size)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            info = (Path(folder) / name).lstat()
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def sizes_by_distribution(root: Path) -> dict[str, int]:
    """Unzipped bytes per installed distribution (by RECORD; files already pruned do not count), plus execintel."""
    sizes: dict[str, int] = {}
    for dist_info in sorted(root.glob("*.dist-info")):
        total = 0
        for path in _record(root, dist_info):
            if path.suffix == ".py" and not path.exists():  # shipped as bytecode instead (packaging.sourceless)
                path = path.with_suffix(".pyc")  # noqa: PLW2901
            with contextlib.suppress(OSError):
                total += path.lstat().st_size
        sizes[_dist_name(dist_info)] = total
    if (root / "execintel").is_dir():
        sizes["execintel"] = tree_size(root / "execintel")
    if (root / "portfolio").is_dir():
        sizes["portfolio/"] = tree_size(root / "portfolio")
    return sizes


def write_zip(root: Path, dest: Path) -> int:
    """Zip the tree under ``root`` into ``dest`` deterministically and atomically; the zip's size in bytes."""
    entries: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        entries.extend(((here / name).relative_to(root).as_posix(), here / name) for name in names)
        if not dirs and not names and here != root:  # an empty folder the manifest names must exist unpacked
            entries.append((here.relative_to(root).as_posix() + "/", here))
    entries.sort()
    handle, scratch = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, path in entries:
                if name.endswith("/"):
                    entry = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                    entry.create_system = 3
                    entry.external_attr = (0o755 | stat.S_IFDIR) << 16 | 0x10  # 0x10: the MS-DOS folder flag
                    archive.writestr(entry, b"")
                    continue
                mode = path.stat().st_mode  # a link to a file inside the tree is stored as that file
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so the permission bits below are honoured when unpacked
                info.external_attr = ((0o755 if mode & 0o111 else 0o644) | stat.S_IFREG) << 16
                with path.open("rb") as source, archive.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
        Path(scratch).chmod(0o644)  # mkstemp made it private; a package is not a secret
        Path(scratch).replace(dest)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return dest.stat().st_size


def unzipped_size(path: Path) -> int:
    """The sum of the uncompressed sizes of a zip's entries."""
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())
