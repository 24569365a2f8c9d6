"""The worker's container-image context (``build/worker-image/``): the folder ``docker build`` (or ``sam build``,
from the template's ``Metadata``) builds the worker's image from, with nothing else needed.

The worker's code (the analysis stack, 332 MB) does not fit Lambda's 250 MB limit for a zip, so the worker is a
container image. SAM's ``Metadata`` names one context folder and its Dockerfile and cannot pass a named
``--build-context``, so everything the Dockerfile copies is inside that folder:

- ``Dockerfile`` (``deploy/Dockerfile``), ``pyproject.toml``, ``README.md``, ``LICENSE`` and ``src/execintel``
  (what pip needs to install execintel, without caches and tests);
- ``constraints.txt``: the versions installed next to execintel, the ones the tests ran with (as the zips pin);
- ``portfolio/``: the whole portfolio folder without its settings files (``.env``, ``*.env``: credentials).

The folder is deterministic (fixed modification times and permissions, so Docker's build cache and any checksum
see the same bytes for the same inputs) and is built under a temporary name beside its destination, then renamed
into place: a failed build never leaves half a context under the real name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import execintel
from execintel.errors import ExecintelError
from execintel.packaging import pip
from execintel.packaging.tree import copy_execintel, tree_size

IMAGE_DIR = "worker-image"
DOCKERFILE = "Dockerfile"
CONSTRAINTS = "constraints.txt"
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")
# the time every file and folder of the context carries (the zips' 1980-01-01): no build time leaks into it
FIXED_MTIME = 315532800


@dataclass(frozen=True)
class ImageContext:
    """A built image context: its folder, its size, and the size of the portfolio in it."""

    path: Path
    size: int
    portfolio: int


class SourceMissing(ExecintelError):
    """execintel is installed without its source tree (pyproject.toml, deploy/Dockerfile): no context can be made."""


def source_root() -> Path:
    """The execintel source tree the running package comes from (``src/execintel`` in a clone or an editable
    install); a :class:`SourceMissing` when the package was installed from a wheel."""
    package = Path(execintel.__file__).resolve().parent
    root = package.parent.parent
    needed = [root / name for name in PROJECT_FILES] + [root / "deploy" / DOCKERFILE]
    missing = [str(path) for path in needed if not path.is_file()]
    if package.parent.name != "src" or missing:
        raise SourceMissing(
            f"the worker's image context is built from execintel's source tree, and {package} is not in one "
            f"(missing: {', '.join(missing) or 'src/'}): run execintel package from a clone (pip install -e .), "
            "or build api.zip only with --api-only"
        )
    return root


def _normalise(root: Path) -> None:
    """Fixed permissions (0644, 0755 for executables and folders) and modification times, deepest first."""
    for folder, dirs, files in os.walk(root, topdown=False):
        here = Path(folder)
        for name in files:
            path = here / name
            mode = path.stat().st_mode
            path.chmod(0o755 if mode & 0o111 else 0o644)
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))
        for name in dirs:
            (here / name).chmod(0o755)
            os.utime(here / name, (FIXED_MTIME, FIXED_MTIME))
    root.chmod(0o755)
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


def replace_folder(staging: Path, dest: Path) -> None:
    """Put the finished ``staging`` folder at ``dest``: the previous one is moved aside first and deleted after, so
    ``dest`` always holds a whole context (a crash between the two renames leaves the old one under a hidden
    ``.worker-image-old-*`` name beside it)."""
    old: Path | None = None
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}-old-", dir=dest.parent))
        old.rmdir()  # only the unique name is wanted: rename needs the target not to exist
        dest.rename(old)
    staging.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_context(staging: Path, portfolio: Path) -> None:
    """Fill ``staging`` with everything the Dockerfile copies."""
    from execintel.packaging.build import copy_portfolio  # noqa: PLC0415 - build imports this module's names

    root = source_root()
    shutil.copyfile(root / "deploy" / DOCKERFILE, staging / DOCKERFILE)
    for name in PROJECT_FILES:
        shutil.copyfile(root / name, staging / name)
    (staging / "src").mkdir()
    copy_execintel(staging / "src")
    pins = pip.pins(pip.RUNTIME_PROVIDED)  # boto3 and co. come from the base image, as on the zip runtime
    (staging / CONSTRAINTS).write_text("\n".join(pins) + "\n", encoding="utf-8")
    copy_portfolio(portfolio, staging / "portfolio")
    _normalise(staging)


def build_image_context(out: Path, portfolio: Path) -> ImageContext:
    """Build ``out/worker-image/``: the worker's container-image context for ``portfolio`` (a folder)."""
    source_root()  # before anything is written: a wheel install cannot make a context
    staging = Path(tempfile.mkdtemp(prefix=f".{IMAGE_DIR}-staging-", dir=out))
    try:
        write_context(staging, portfolio)
        size, portfolio_size = tree_size(staging), tree_size(staging / "portfolio")
        dest = out / IMAGE_DIR
        replace_folder(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it was renamed into place
    return ImageContext(dest, size, portfolio_size)


def dockerfile_copies(text: str) -> list[str]:
    """The context paths a Dockerfile's ``COPY``/``ADD`` instructions read (``--from`` copies read a stage, not the
    context, and are left out): what a context folder must hold for the build to find."""
    sources: list[str] = []
    joined = text.replace("\\\n", " ")
    for raw in joined.splitlines():
        words = raw.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        sources.extend(args[:-1])  # the last one is the destination
    return sources
