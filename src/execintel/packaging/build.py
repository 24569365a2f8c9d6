"""Building ``api.zip`` (and, for measuring, ``worker.zip``): wheels installed into a staging folder, execintel
and the portfolio copied in, the rest pruned, then one deterministic zip each (docs/packaging.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from execintel.config.load import MANIFEST_NAME, _manifest_paths, _parse_yaml, find_manifest, load_portfolio
from execintel.errors import ConfigError, Problem
from execintel.packaging import pip
from execintel.packaging.sourceless import make_sourceless
from execintel.packaging.tree import (
    copy_execintel,
    drop_library_copies,
    prune,
    remove_distributions,
    sizes_by_distribution,
    tree_size,
    write_zip,
)

Progress = Callable[[str], None]
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks a function's code

# Parts of the analysis stack the worker provably never loads. pyarrow's Flight (RPC) and S3 filesystem libraries:
# no other library NEEDS them (readelf -d), nothing in execintel imports pyarrow.flight or pyarrow.fs's S3, and
# pyarrow.fs takes a missing _s3fs as an ImportError ("S3FileSystem not available"); Substrait, Parquet, Dataset
# and Acero stay: pyarrow's core library links them. Also C/C++ headers and sources, Cython files, type stubs,
# pyarrow's C++ test module, matplotlib's sample data, man pages. tests/test_package.py::test_worker_zip_runs_a_report
# imports the trimmed tree and builds every report of the demo with it.
WORKER_TRIMS = (
    "pyarrow/include",
    "pyarrow/src",
    "pyarrow/includes",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*.so",
    "pyarrow/flight.py",
    "pyarrow/libarrow_s3.so*",
    "pyarrow/_s3fs.*.so",
    "pyarrow/_pyarrow_cpp_tests.*.so",
    "numpy/_core/include",
    "numpy/core/include",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "matplotlib/mpl-data/sample_data",
    "_duckdb-stubs",
    "share",
    "*.h",
    "*.hpp",
    "*.pxd",
    "*.pyx",
    "*.pxi",
    "*.pyi",
)

# The api package's trims: the libyaml binding (execintel parses YAML with a subclass of the pure-Python
# SafeLoader and never asks for a C loader or dumper: 2.8 MB); pydantic's v1 compatibility package (execintel
# has no v1 model; FastAPI imports it only to ask whether a model is a v1 one and takes an ImportError as "no":
# 0.5 MB, and a third of the handler's cold import); type stubs and C sources.
API_TRIMS = ("yaml/_yaml.*.so", "pydantic/v1", "*.pyi", "*.pxd", "*.pyx", "*.h")

# Files at the portfolio's root that hold settings, credentials included (``--env-file``): never packaged; the
# Lambda functions get their settings from environment variables and the JWT secret from Secrets Manager.
SETTINGS_FILES = (".env", "*.env", ".env.*")


@dataclass
class Artefact:
    """One built zip: where it is, its sizes, and the unzipped size of each distribution in it."""

    name: str
    path: Path
    zipped: int
    unzipped: int
    parts: dict[str, int] = field(default_factory=dict)


def resolve_portfolio(path: Path | None, option: str = "--portfolio") -> Path:
    """The portfolio folder to package: ``path`` (a folder or its portfolio.yaml; errors name ``option``, how it was
    given), else the bundled demo's."""
    if path is None:
        from execintel.demo import demo_portfolio  # noqa: PLC0415 - only when no portfolio is given

        return demo_portfolio().parent
    if not path.exists():
        raise ConfigError(Problem(option, f"{str(path)!r} does not exist"))
    manifest = find_manifest(path)
    if not manifest.is_file():
        raise ConfigError(Problem(option, f"{str(path)!r} holds no {MANIFEST_NAME}"))
    if manifest.name != MANIFEST_NAME:  # the functions read EXECINTEL_PORTFOLIO=/var/task/portfolio, a folder
        problem = f"{str(path)!r}: the Lambda functions read {MANIFEST_NAME} in the portfolio folder; rename it"
        raise ConfigError(Problem(option, problem))
    load_portfolio(manifest)  # a package of an invalid portfolio would fail at its first request: refuse it now
    return manifest.parent


def check_out(out: Path) -> None:
    """Create the output folder; a :class:`ConfigError` naming ``--out`` when it is a file or cannot be made."""
    if out.exists() and not out.is_dir():
        raise ConfigError(Problem("--out", f"{str(out)!r} is a file, not a folder for the packages"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(Problem("--out", f"{str(out)!r} cannot be created: {exc.strerror}")) from None


def _settings_file(rel: Path) -> bool:
    from fnmatch import fnmatchcase  # noqa: PLC0415

    return len(rel.parts) == 1 and any(fnmatchcase(rel.name, glob) for glob in SETTINGS_FILES)


def copy_portfolio(source: Path, dest: Path) -> list[str]:
    """Copy the portfolio folder to ``dest`` (links followed when they stay inside it); the settings files left out.

    A link that leads outside the folder is an error: it would pack a file the portfolio does not hold.
    """
    base = source.resolve()
    left_out = []
    for folder, dirs, files in os.walk(base, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs) + sorted(files):
            path = here / name
            rel = path.relative_to(base)
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                problem = f"{str(rel)!r} links to {str(path.resolve())!r}, outside the portfolio folder; copy it in"
                raise ConfigError(Problem("--portfolio", problem))
            if name in files and _settings_file(rel):
                left_out.append(str(rel))
                continue
            target = dest / rel
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                if path.is_symlink():
                    shutil.copytree(path.resolve(), target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return left_out


PLACEHOLDER = (
    "execintel package: a placeholder; the api package holds only the manifest, the data is in the worker's image\n"
)


def copy_manifest(source: Path, dest: Path) -> None:
    """Copy the manifest, and a placeholder for each path it names, so it loads and validates as it does at home.

    The manifest loader checks that each file or folder it names exists (and is a file or a folder); the api only
    reads the manifest (stakeholders, roles, schedules), never the data. A placeholder file holds one line that
    no source format accepts, so anything that tried to load it would fail loudly instead of reading no rows.
    """
    manifest = source / MANIFEST_NAME
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(manifest, dest / MANIFEST_NAME)
    data, _ = _parse_yaml(manifest, str(manifest))
    for _, value in _manifest_paths(data):
        target = (dest / value).resolve()
        if not target.is_relative_to(dest.resolve()):
            continue  # outside the folder: the loader refused it already unless --allow-outside
        if (source / value).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(PLACEHOLDER, encoding="utf-8")


def _stage(out: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{name}-staging-", dir=out))


def build_api(
    out: Path, portfolio: Path, python_version: str, progress: Progress | None = None, *, bytecode: str | None = None
) -> Artefact:
    """Build ``out/api.zip``: execintel, the web app's dependencies and the portfolio's manifest.

    ``bytecode``: an interpreter of the target version to compile every module with (``--bytecode``): Lambda
    cannot write ``__pycache__`` into its read-only code folder, so without it each cold start compiles again.
    """
    staging = _stage(out, "api")
    try:
        pip.install(staging, pip.API_REQUIREMENTS, python_version, progress=progress)
        return _finish(staging, out / "api.zip", portfolio, manifest_only=True, trims=API_TRIMS, progress=progress,
                       bytecode=bytecode)  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def compile_bytecode(python: str, staging: Path) -> None:
    """Compile every module under ``staging`` with ``python``: unchecked-hash ``.pyc`` (no timestamps, so the zip
    stays deterministic; Lambda's code never changes under them) whose file names read ``/var/task/...``; then the
    dependencies keep only their bytecode (:mod:`execintel.packaging.sourceless`), execintel both."""
    done = subprocess.run(  # noqa: S603 - the target interpreter found by find_python
        [python, "-I", "-m", "compileall", "-q", "-r", "100", "--invalidation-mode", "unchecked-hash",
         "-s", str(staging), "-p", LAMBDA_TASK_ROOT, str(staging)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise pip.PipError(f"{python} -m compileall failed on the api package (its last lines are above)", tail)
    tag = subprocess.run(  # noqa: S603 - the same interpreter
        [python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    make_sourceless(staging, tag)


def build_worker(out: Path, portfolio: Path, python_version: str, progress: Progress | None = None) -> Artefact:
    """Build ``out/worker.zip``: execintel, its full dependency set (trimmed) and the whole portfolio folder."""
    staging = _stage(out, "worker")
    try:
        pip.install(staging, pip.worker_requirements(), python_version, progress=progress)
        return _finish(staging, out / "worker.zip", portfolio, manifest_only=False, trims=WORKER_TRIMS,
                       progress=progress)  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _finish(
    staging: Path, dest: Path, portfolio: Path, *, manifest_only: bool, trims: tuple[str, ...],
    progress: Progress | None, bytecode: str | None = None,
) -> Artefact:  # fmt: skip
    if progress is not None:
        progress(f"Pruning and zipping {dest.name}")
    remove_distributions(staging, pip.RUNTIME_PROVIDED)
    prune(staging, trims)
    drop_library_copies(staging)
    copy_execintel(staging)
    if manifest_only:
        copy_manifest(portfolio, staging / "portfolio")
    else:
        copy_portfolio(portfolio, staging / "portfolio")
    if bytecode is not None:
        compile_bytecode(bytecode, staging)
    parts = sizes_by_distribution(staging)
    unzipped = tree_size(staging)
    zipped = write_zip(staging, dest)
    return Artefact(dest.name, dest, zipped, unzipped, parts)
