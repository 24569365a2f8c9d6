"""Small helpers shared by test modules."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from execintel.analysis.context import Context
from execintel.config import load_portfolio
from execintel.sources import LoadResult, load_sources


def load(path: Path, **kwargs: object) -> LoadResult:
    """Load a portfolio's sources (problems are returned, not raised)."""
    return load_sources(load_portfolio(path, allow_outside=bool(kwargs.pop("allow_outside", False))), **kwargs)  # type: ignore[arg-type]


def context(path: Path, as_of: str | None = None, **kwargs: object) -> Context:
    """The analysis context of a portfolio written by ``write_portfolio`` (sources must load cleanly)."""
    import datetime as dt

    from execintel.analysis.context import Context, resolve_as_of

    result = load(path, **kwargs)
    assert result.errors == [], [str(p) for p in result.errors]
    date = dt.date.fromisoformat(as_of) if as_of else None
    return Context(result.portfolio, result.facts, resolve_as_of(result.portfolio.manifest, date))


def run_bounded(*args: str, cwd: Path, memory_mib: int = 1536, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m execintel ARGS`` with its address space capped, so a resource bomb fails fast instead of
    taking the machine's memory (the cap leaves room for a normal run: the demo validates in under 1 GB).

    The cap is set by ``sh -c 'ulimit -v'`` in the child rather than a ``preexec_fn``, which is unsafe when the
    test process has threads (the moto and SMTP servers).
    """
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1", "COLUMNS": "200", "LANG": "C.UTF-8"}
    env |= {k: v for k, v in os.environ.items() if k == "EXECINTEL_CACHE_DIR"}
    command = ["/bin/sh", "-c", 'ulimit -v "$1" && shift && exec "$@"', "sh", str(memory_mib << 10)]
    return subprocess.run(
        [*command, sys.executable, "-m", "execintel", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def extract_tar(archive: tarfile.TarFile, dest: Path) -> None:
    """Extract ``archive`` into ``dest``: regular files and folders only, every name inside ``dest``.

    Python's ``filter="data"`` does this from 3.11.4 (and 3.12); Debian's 3.11.2 lacks it, so there the members
    are checked here and anything else (links, devices, absolute or ``..`` names) fails the test.
    """
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in archive.getmembers():
        target = (root / member.name).resolve()
        if not (member.isreg() or member.isdir()) or not target.is_relative_to(root):
            raise AssertionError(f"unsafe member in the test archive: {member.name!r}")
    archive.extractall(dest)  # noqa: S202 - every member was checked above


def gitleaks_repo(root: Path) -> Path:
    """Unpack gitleaks' small test repository (shared testdata) into ``root`` as gitleaks-small.md says: dotGit ->
    .git, then a checkout; its path."""
    from conftest import SHARED

    with tarfile.open(SHARED / "secrets" / "gitleaks-small.tar.gz") as archive:
        extract_tar(archive, root)
    repo = root / "small"
    (repo / "dotGit").rename(repo / ".git")
    subprocess.run(["git", "-C", str(repo), "checkout", "--", "."], check=True, capture_output=True)
    return repo


def bean_example(path: Path, *, seed: int, begin: str, end: str) -> Path:
    """beancount's ``bean-example`` ledger for ``seed`` from ``begin`` to ``end`` (the same text on every run),
    written to ``path``."""
    subprocess.run(
        [Path(sys.executable).parent / "bean-example", "--seed", str(seed), "--date-begin", begin, "--date-end", end,
         "--date-birth", "1985-03-14", "-o", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def load_module(name: str, path: Path) -> ModuleType:
    """The Python file ``path`` imported as module ``name`` (a benchmark script, which is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module
