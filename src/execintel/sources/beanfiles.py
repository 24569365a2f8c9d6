"""What a beancount ledger may reach: the files its ``include`` directives name, and the code its plugins run.

Kept apart from :mod:`.beancount` (which alone imports beancount's API) because these are execintel's rules, not
beancount's: an include is expanded the way beancount's ``glob`` would, but without listing a folder outside
the portfolio or following a symlinked folder in ``**``; a plugin runs only when it is beancount's own code
with a configuration beancount does not evaluate as Python, unless the user passes ``--allow-plugins``.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import os
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

from execintel.safefs import Confinement, UnsafeFile

__all__ = ["BUILTIN_PLUGIN_PACKAGES", "PYTHONPATH_OPTION", "expand_include", "refusals"]

BUILTIN_PLUGIN_PACKAGES = ("beancount.plugins.", "beancount.ops.")
"""Plugins shipped with beancount itself: they run without ``--allow-plugins`` (their code is not in the data)."""
PYTHONPATH_OPTION = "option:insert_pythonpath"
"""Stands for ``option "insert_pythonpath" "TRUE"`` among plugin directives (no module has this name)."""
_MAGIC = re.compile(r"[*?[]")
_ALLOW = "pass --allow-plugins to run it"
_NOT_BEANCOUNT = "it would run Python code that is not part of beancount"


def expand_include(
    folder: Path, pattern: str, confine: Confinement | None, limit: int, show: Callable[[Path], str] = str
) -> list[Path]:
    """The paths an ``include`` pattern names, relative to the including file's ``folder``, sorted.

    Like beancount's ``glob.glob(pattern, recursive=True)``: ``*``, ``?``, ``[...]`` and ``**``; names starting
    with a dot match only a pattern starting with one. Unlike it: a folder is listed only when it is inside
    ``confine`` (:class:`UnsafeFile` otherwise, naming it with ``show``), ``**`` does not descend into symlinked
    folders (a link loop would never end), and more than ``limit`` matches is refused. A pattern without
    wildcards names its path whether or not it exists (the reader says what is wrong with it).
    """
    full = folder / pattern  # an absolute pattern replaces the folder
    if not _MAGIC.search(pattern):
        return [Path(os.path.normpath(full))]
    anchor, *parts = full.parts
    found: list[Path] = []
    for match in _glob(Path(anchor), parts, confine, show):
        found.append(Path(os.path.normpath(match)))
        if len(found) > limit:
            raise UnsafeFile(f"matches more than {limit:,} files, the most execintel reads for one ledger")
    return sorted(set(found))


def _glob(base: Path, parts: list[str], confine: Confinement | None, show: Callable[[Path], str]) -> Iterator[Path]:
    if not parts:
        if os.path.lexists(base):
            yield base
        return
    head, rest = parts[0], parts[1:]
    if not _MAGIC.search(head):
        yield from _glob(base / head, rest, confine, show)
    elif head == "**":
        for path, is_dir in _walk(base, confine, show):
            if is_dir:
                yield from _glob(path, rest, confine, show)
            elif not rest:
                yield path
    else:
        for name, _is_dir in _entries(base, confine, show):
            if (not name.startswith(".") or head.startswith(".")) and fnmatch.fnmatchcase(name, head):
                yield from _glob(base / name, rest, confine, show)


def _entries(folder: Path, confine: Confinement | None, show: Callable[[Path], str]) -> list[tuple[str, bool]]:
    """(name, is a real folder) of each entry of ``folder``; nothing when it is not a folder."""
    if confine is not None:
        try:
            confine.check(folder)
        except UnsafeFile as exc:
            raise UnsafeFile(f"{show(folder)} {exc.reason}") from None
    try:
        with os.scandir(folder) as scan:
            return sorted((e.name, e.is_dir(follow_symlinks=False)) for e in scan)
    except OSError:  # not a folder, or unreadable: it matches nothing, as in glob
        return []


def _walk(folder: Path, confine: Confinement | None, show: Callable[[Path], str]) -> Iterator[tuple[Path, bool]]:
    """``folder`` and everything under it that ``**`` matches: no hidden names, no symlinked folder entered."""
    yield folder, True
    for name, is_dir in _entries(folder, confine, show):
        if name.startswith("."):
            continue
        if is_dir:
            yield from _walk(folder / name, confine, show)
        else:
            yield folder / name, False


def refusals(directives: Iterable[tuple[str, int, str, str | None]], *, allow: bool) -> Iterator[tuple[str, int, str]]:
    """``(file, line, message)`` for each plugin directive that would run code from the data, unless ``allow``.

    ``directives`` are ``(file, line, plugin name, config)``; the name :data:`PYTHONPATH_OPTION` stands for
    ``option "insert_pythonpath" "TRUE"`` (it puts the ledger's folder first on Python's import path).
    """
    if allow:
        return
    for file, line, name, config in directives:
        if name == PYTHONPATH_OPTION:
            yield (
                file,
                line,
                (
                    "option \"insert_pythonpath\" is refused: it puts the ledger's folder on Python's import path, "
                    "so a .py file there could run as a plugin; pass --allow-plugins to allow it"
                ),
            )
        elif not _builtin(name):
            yield file, line, f'plugin "{name}" is refused: {_NOT_BEANCOUNT}; {_ALLOW}'
        elif config is not None and _evaluates_config(name) and not _plain_value(config):
            yield (
                file,
                line,
                (
                    f'plugin "{name}" is refused: beancount runs its configuration {config!r} as Python code, '
                    f"and it is not a plain value (text, numbers, lists, mappings); {_ALLOW}"
                ),
            )


@cache
def _beancount_folder() -> Path | None:
    spec = importlib.util.find_spec("beancount")
    return Path(spec.origin).resolve().parent if spec is not None and spec.origin else None


def _builtin(name: str) -> bool:
    """True when ``name`` is a module of the installed beancount package (not a file of the data folder)."""
    if not name.startswith(BUILTIN_PLUGIN_PACKAGES) or not all(part.isidentifier() for part in name.split(".")):
        return False
    home = _beancount_folder()
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return True  # no such module: importing it fails and beancount reports that; nothing runs
    if spec is None or not spec.origin:
        return True
    return home is not None and Path(spec.origin).resolve().is_relative_to(home)


@cache
def _evaluates_config(name: str) -> bool:
    """True when the plugin module's source calls ``eval``/``exec``/``compile`` (some evaluate their config)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return True  # cannot tell: treat the config as code
    try:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return True
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec", "compile")
        for node in ast.walk(tree)
    )


def _plain_value(text: str) -> bool:
    """True when ``text`` is a Python literal: evaluating it builds a value and calls nothing."""
    try:
        ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
