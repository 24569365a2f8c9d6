"""Where the demo portfolio lives: generated once into a per-user cache folder, keyed by the generator's source."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from execintel.demo.generate import MANIFEST_NAME, generate_demo
from execintel.errors import ExecintelError

CACHE_ENV = "EXECINTEL_CACHE_DIR"


def cache_root() -> Path:
    """``$EXECINTEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/execintel``, else ``~/.cache/execintel``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "execintel"


@functools.cache
def generator_hash() -> str:
    """A short hash of the generator's source, so any change to it makes a fresh demo."""
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def demo_folder() -> Path:
    """The cache folder the current generator writes the demo to."""
    return cache_root() / f"demo-{generator_hash()}"


def demo_portfolio() -> Path:
    """The bundled demo's ``portfolio.yaml``, generated on first use.

    The demo is written into a temporary sibling folder and renamed into
    place in one step, so a process never sees half a demo; when two
    processes generate at once, the first rename wins and the other uses it.
    """
    folder = demo_folder()
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        return manifest
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExecintelError(
            f"cannot create the demo cache folder {folder.parent}: {exc.strerror}; set {CACHE_ENV} to a writable folder"
        ) from None
    # The rename below never leaves half a demo, so a folder without a manifest was broken by hand.
    if folder.exists() and not manifest.is_file():
        _discard(folder)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        generate_demo(scratch)
        try:
            scratch.rename(folder)
        except OSError:
            if not manifest.is_file():  # not another process winning the race: a real failure
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return manifest


def _discard(folder: Path) -> None:
    """Move a broken demo folder out of the way, then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}-broken-", dir=folder.parent))
    with contextlib.suppress(OSError):  # another process moved or replaced it first
        folder.rename(trash / folder.name)
    shutil.rmtree(trash, ignore_errors=True)
